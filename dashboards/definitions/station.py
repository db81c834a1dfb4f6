"""Station detail: energy per repair, repair times, outcomes by category, barrier codes."""

from __future__ import annotations

from dashboards.definitions.common import (
    CATEGORY,
    FINISHED,
    MAIN_METER,
    METER_SOURCE,
    RATE_THRESHOLDS,
    SITE,
    SITE_FILTER,
    STATION,
    kwh_query,
)
from dashboards.model import Dashboard, Grid, Panel, Target

UID = "shopfloor-station-detail"

# A bench's meter has the station's id as its device id (docs/dashboards.md).
STATION_METERS = f'{SITE_FILTER} AND "device" =~ /^$station$/ AND "device" != \'$main_meter\''
ITEMS = f'SELECT sum("final") AS "items" FROM "repair_event" WHERE $timeFilter AND {FINISHED}'


def build() -> Dashboard:
    panels = (
        Panel(
            "stat",
            "Energy per repair",
            Grid(0, 0, 6, 5),
            (
                Target(kwh_query(STATION_METERS, group_by=""), ref_id="A", format="table"),
                Target(ITEMS, ref_id="B", format="table"),
            ),
            unit="kwatth",
            decimals=2,
            interval="1m",
            max_data_points=1000,
            description="kWh of the selected stations' meters / items they finished (the category filter "
            "applies to the items only)",
            transformations=(
                {"id": "joinByField", "options": {"byField": "Time", "mode": "outer"}},
                {
                    "id": "calculateField",
                    "options": {
                        "mode": "binary",
                        "binary": {"left": "kwh", "operator": "/", "right": "items"},
                        "alias": "kWh per item",
                        "replaceFields": True,
                    },
                },
            ),
        ),
        Panel(
            "stat",
            "Items finished",
            Grid(6, 0, 6, 5),
            (Target(ITEMS),),
            decimals=0,
        ),
        Panel(
            "stat",
            "Fix rate",
            Grid(12, 0, 6, 5),
            (
                Target(
                    'SELECT sum("fixed") / (sum("fixed") + sum("repairable") + sum("end_of_life")) AS "fix_rate" '
                    f'FROM "repair_event" WHERE $timeFilter AND {FINISHED}'
                ),
            ),
            unit="percentunit",
            decimals=0,
            thresholds=RATE_THRESHOLDS,
        ),
        Panel(
            "stat",
            "Median repair time",
            Grid(18, 0, 6, 5),
            (
                Target(
                    'SELECT median("bench_s") / 60 AS "minutes" FROM "repair_event" '
                    f'WHERE $timeFilter AND {FINISHED} AND "bench_s" > 0'
                ),
            ),
            unit="m",
            decimals=0,
            description="bench time from start to finish, minus pauses",
        ),
        Panel(
            "histogram",
            "Distribution of repair times",
            Grid(0, 5, 12, 9),
            (
                Target(
                    'SELECT "bench_s" / 60 AS "minutes" FROM "repair_event" '
                    f'WHERE $timeFilter AND {FINISHED} AND "bench_s" > 0',
                    format="table",
                ),
            ),
            unit="m",
            options={"bucketSize": 15, "bucketOffset": 0, "combine": False},
            description="bench minutes per finished item, in 15-minute buckets",
        ),
        Panel(
            "barchart",
            "Outcomes by category",
            Grid(12, 5, 12, 9),
            (
                Target(
                    'SELECT sum("fixed") AS "Fixed", sum("repairable") AS "Repairable", '
                    'sum("end_of_life") AS "End of life", sum("unknown") AS "Unknown" '
                    f'FROM "repair_event" WHERE $timeFilter AND {FINISHED} GROUP BY "category"',
                    format="table",
                ),
            ),
            decimals=0,
            options={"xField": "category", "stacking": "normal", "orientation": "horizontal", "showValue": "never"},
            transformations=({"id": "organize", "options": {"excludeByName": {"Time": True}}},),
        ),
        Panel(
            "barchart",
            "Barrier codes (End of life)",
            Grid(0, 14, 12, 8),
            (
                Target(
                    'SELECT sum("end_of_life") AS "items" FROM "repair_event" '
                    f'WHERE $timeFilter AND {FINISHED} AND "barrier" != \'\' GROUP BY "barrier"',
                    format="table",
                ),
            ),
            decimals=0,
            options={"xField": "barrier", "orientation": "horizontal", "showValue": "always"},
            transformations=({"id": "organize", "options": {"excludeByName": {"Time": True}}},),
        ),
        Panel(
            "timeseries",
            "Station power",
            Grid(12, 14, 12, 8),
            (
                Target(
                    f'SELECT mean("power") AS "power" FROM $meter_source WHERE $timeFilter AND {STATION_METERS} '
                    'GROUP BY time($__interval), "site", "device" fill(null)',
                    alias="$tag_site/$tag_device",
                ),
            ),
            unit="watt",
            interval="1m",
            max_data_points=1000,
            custom={"lineWidth": 1, "fillOpacity": 10},
        ),
    )
    return Dashboard(
        uid=UID,
        title="Station detail",
        description="Per bench: energy per repair, repair times, outcomes by category and barrier codes.",
        tags=("shopfloor", "station"),
        panels=panels,
        variables=(SITE, STATION, CATEGORY, MAIN_METER, METER_SOURCE),
        time_from="now-7d",
    )
