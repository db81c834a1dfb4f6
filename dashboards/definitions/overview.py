"""Site overview, for the plant manager: energy now, today and this month; what the benches achieved."""

from __future__ import annotations

from dashboards.definitions.common import (
    CAPACITY_LIMIT_KW,
    CATEGORY,
    COLLECTOR_URL,
    DEMAND_THRESHOLDS,
    FINISHED,
    KPI_DAY,
    MAIN_METER,
    MAIN_METER_FILTER,
    METER_SOURCE,
    RATE_THRESHOLDS,
    SITE,
    SITE_FILTER,
    STATION,
    STATION_FILTER,
    kwh_query,
    report_links,
)
from dashboards.model import Dashboard, Grid, Panel, Target, Threshold

UID = "shopfloor-site-overview"


# With several sites (site = All), one row per site: its name on the left, its value on the right.
SITE_ROWS = {"orientation": "horizontal", "textMode": "value_and_name", "justifyMode": "auto"}


def _stat(title: str, query: str, grid: Grid, unit: str, **kwargs: object) -> Panel:
    return Panel(
        "stat",
        title,
        grid,
        (Target(query, alias="$tag_site"),),
        unit=unit,
        options=SITE_ROWS,
        **kwargs,  # type: ignore[arg-type]
    )


def build() -> Dashboard:
    peak_kw = (
        'SELECT max("kw") AS "peak_kw" FROM (SELECT mean("power") / 1000 AS "kw" FROM $meter_source '
        f'WHERE $timeFilter AND {MAIN_METER_FILTER} GROUP BY time(15m), "site" fill(none)) '
        'WHERE $timeFilter GROUP BY "site"'
    )
    panels = (
        _stat(
            "Live power",
            f'SELECT last("power") / 1000 AS "kw" FROM "autogen"."meter" WHERE $timeFilter AND {MAIN_METER_FILTER} '
            'GROUP BY "site"',
            Grid(0, 0, 4, 4),
            "kwatt",
            decimals=1,
            time_from="5m",
            description="last power reading of the main meter in the past 5 minutes",
        ),
        _stat(
            "kWh today",
            kwh_query(MAIN_METER_FILTER),
            Grid(4, 0, 4, 4),
            "kwatth",
            decimals=1,
            interval="1m",
            max_data_points=1000,
            time_from="now/d",
        ),
        _stat(
            "kWh yesterday",
            # The KPI API's day summary of yesterday (docs/kpis.md): its main-meter kWh, the API's number.
            f'SELECT sum("main_kwh") AS "kwh" FROM {KPI_DAY} WHERE $timeFilter AND {SITE_FILTER} GROUP BY "site"',
            Grid(8, 0, 4, 4),
            "kwatth",
            decimals=1,
            time_from="now/d",
            time_shift="1d/d",
            no_value="after 08:15",
            description="the whole of yesterday, from the KPI API's day summary of the site's local day: it is "
            "written once the day settled, at 08:15 (until then the panel shows no value). Main meter: the "
            "collector's site settings.",
        ),
        _stat(
            "Base load (7 days)",
            'SELECT percentile("kw", 5) AS "base_kw" FROM (SELECT mean("power") / 1000 AS "kw" FROM $meter_source '
            f'WHERE $timeFilter AND {MAIN_METER_FILTER} GROUP BY time(1m), "site" fill(none)) '
            'WHERE $timeFilter GROUP BY "site"',
            Grid(12, 0, 4, 4),
            "kwatt",
            decimals=2,
            time_from="7d",
            description="5th percentile of the main meter's 1-minute mean power over 7 days: what never switches off",
        ),
        _stat(
            "Peak 15-min demand, this month",
            peak_kw,
            Grid(16, 0, 4, 4),
            "kwatt",
            decimals=1,
            time_from="now/M",
            description="highest mean power over a clock-aligned 15-minute interval this month",
        ),
        _stat(
            "Peak vs limit ($capacity_limit_kw kW)",
            peak_kw.replace('max("kw") AS "peak_kw"', 'max("kw") / $capacity_limit_kw * 100 AS "of_limit"'),
            Grid(20, 0, 4, 4),
            "percent",
            decimals=0,
            time_from="now/M",
            thresholds=DEMAND_THRESHOLDS,
            description="this month's peak 15-minute demand as a share of the capacity limit",
        ),
        _stat(
            "Items completed today",
            f'SELECT sum("final") AS "items" FROM "repair_event" WHERE $timeFilter AND {FINISHED} GROUP BY "site"',
            Grid(0, 4, 4, 4),
            "none",
            decimals=0,
            time_from="now/d",
        ),
        _stat(
            "Fix rate",
            'SELECT sum("fixed") / (sum("fixed") + sum("repairable") + sum("end_of_life")) AS "fix_rate" '
            f'FROM "repair_event" WHERE $timeFilter AND {FINISHED} GROUP BY "site"',
            Grid(4, 4, 5, 4),
            "percentunit",
            decimals=0,
            thresholds=RATE_THRESHOLDS,
            description="Fixed / (Fixed + Repairable + End of life); Unknown stays out",
        ),
        _stat(
            "Reuse rate",
            'SELECT sum("returned_to_use") / sum("final") AS "reuse_rate" '
            f'FROM "repair_event" WHERE $timeFilter AND {FINISHED} GROUP BY "site"',
            Grid(9, 4, 5, 4),
            "percentunit",
            decimals=0,
            thresholds=RATE_THRESHOLDS,
            description="items returned to use (Fixed or reused as-is) / items with a final outcome",
        ),
        _stat(
            "kg diverted",
            f'SELECT sum("kg_diverted") AS "kg" FROM "repair_event" WHERE $timeFilter AND {FINISHED} GROUP BY "site"',
            Grid(14, 4, 5, 4),
            "masskg",
            decimals=1,
            description="weight of Fixed items (measured, else the category reference)",
        ),
        _stat(
            "CO2e avoided",
            f'SELECT sum("co2e_kg") AS "co2e" FROM "repair_event" WHERE $timeFilter AND {FINISHED} GROUP BY "site"',
            Grid(19, 4, 5, 4),
            "masskg",
            decimals=1,
            description="category footprint × 0.5 per Fixed item (Restarters method)",
        ),
        Panel(
            "timeseries",
            "Power, main meter",
            Grid(0, 8, 16, 9),
            (
                Target(
                    f'SELECT mean("power") / 1000 AS "kw" FROM $meter_source WHERE $timeFilter AND {MAIN_METER_FILTER} '
                    'GROUP BY time($__interval), "site" fill(null)',
                    alias="$tag_site",
                ),
            ),
            unit="kwatt",
            interval="1m",
            max_data_points=1000,
            custom={"lineWidth": 1, "fillOpacity": 10, "spanNulls": False},
        ),
        Panel(
            "table",
            "Station states",
            Grid(16, 8, 8, 9),
            (
                Target(
                    'SELECT last("event_id") AS "event", "state" FROM "repair_event" '
                    f"WHERE $timeFilter AND \"type\" = 'state' AND {SITE_FILTER} AND {STATION_FILTER} "
                    'GROUP BY "site", "station"',
                    format="table",
                ),
            ),
            time_from="30d",
            description="latest state event per station in the past 30 days",
            transformations=(
                {"id": "organize", "options": {"excludeByName": {"event": True}, "renameByName": {"Time": "since"}}},
            ),
            overrides=(
                {
                    "matcher": {"id": "byName", "options": "since"},
                    "properties": [{"id": "unit", "value": "dateTimeFromNow"}],
                },
            ),
            mappings=(
                {
                    "type": "value",
                    "options": {
                        "working": {"color": "green", "index": 0},
                        "idle": {"color": "yellow", "index": 1},
                        "paused": {"color": "orange", "index": 2},
                        "closed": {"color": "text", "index": 3},
                    },
                },
            ),
            thresholds=(Threshold(None, "text"),),
        ),
        Panel(
            "timeseries",
            "Quarter hours vs the month's peak",
            Grid(0, 17, 16, 9),
            (
                Target(
                    f'SELECT mean("power") / 1000 AS "kw" FROM $meter_source WHERE $timeFilter AND {MAIN_METER_FILTER} '
                    'GROUP BY time(15m), "site" fill(none)',
                    alias="$tag_site quarter",
                ),
                Target(
                    'SELECT last("month_peak_kw") AS "peak_kw" FROM "peak_guard" '
                    f'WHERE $timeFilter AND {SITE_FILTER} GROUP BY time(15m), "site" fill(none)',
                    alias="$tag_site month's peak",
                ),
                Target(
                    'SELECT last("target_kw") AS "target_kw" FROM "peak_guard" '
                    f'WHERE $timeFilter AND {SITE_FILTER} GROUP BY time(15m), "site" fill(none)',
                    alias="$tag_site guard target",
                ),
            ),
            unit="kwatt",
            custom={"drawStyle": "bars", "fillOpacity": 40, "lineWidth": 1},
            description=(
                "15-minute average demand of the main meter (bars), the month's peak so far and the peak "
                "guard's target, as its decisions report them (docs/peak-guard.md)"
            ),
        ),
        Panel(
            "table",
            "Peak guard decisions",
            Grid(16, 17, 8, 9),
            (
                Target(
                    'SELECT "action", "load", "forecast_kw", "target_kw", "reason" FROM "peak_guard" '
                    f"WHERE $timeFilter AND {SITE_FILTER} AND \"action\" != 'quarter_end'",
                    format="table",
                ),
            ),
            description="what the edge's peak guard switched, and why",
        ),
    )
    return Dashboard(
        uid=UID,
        title="Site overview",
        description="For the plant manager: power, energy, peak demand against the limit, items and circular KPIs.",
        tags=("shopfloor", "site"),
        panels=panels,
        variables=(SITE, STATION, CATEGORY, MAIN_METER, CAPACITY_LIMIT_KW, METER_SOURCE, COLLECTOR_URL),
        time_from="now/d",
        time_to="now",
        links=report_links(
            "sites/${site}",
            "Site report (PDF)",
            "the selected site's report for the dashboard's days, from the collector (select one site)",
        ),
    )
