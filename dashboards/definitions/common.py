"""Template variables and InfluxQL fragments shared by the dashboards (schema: docs/storage.md)."""

from __future__ import annotations

from dashboards.model import Json, Threshold, Variable

SITE = Variable(
    "site",
    "Site",
    "query",
    query='SHOW TAG VALUES FROM /^(meter|repair_event)$/ WITH KEY = "site"',
    multi=True,
    include_all=True,
)
STATION = Variable(
    "station",
    "Station",
    "query",
    query='SHOW TAG VALUES FROM "repair_event" WITH KEY = "station" WHERE "site" =~ /^$site$/',
    multi=True,
    include_all=True,
)
CATEGORY = Variable(
    "category",
    "Category",
    "query",
    query='SHOW TAG VALUES FROM "repair_event" WITH KEY = "category" WHERE "site" =~ /^$site$/',
    multi=True,
    include_all=True,
)
MAIN_METER = Variable(
    "main_meter",
    "Main meter",
    "textbox",
    default="main",
    description="device id of each site's main (grid connection) meter",
)
CAPACITY_LIMIT_KW = Variable(
    "capacity_limit_kw",
    "Capacity limit (kW)",
    "constant",
    default="40",
    description="contracted 15-minute demand limit of the grid connection, in kW",
)
METER_SOURCE = Variable(
    "meter_source",
    "Meter data",
    "custom",
    default='"rollup"."meter_1m"',
    options=(("1-minute rollup", '"rollup"."meter_1m"'), ("raw", '"autogen"."meter"')),
    description="the rollup keeps long ranges fast; pick raw where no continuous query runs (InfluxDB 2.x/3.x)",
)

SITE_FILTER = '"site" =~ /^$site$/'
STATION_FILTER = '"station" =~ /^$station$/'
CATEGORY_FILTER = '"category" =~ /^$category$/'
FINISHED = f"\"type\" = 'finished' AND {SITE_FILTER} AND {STATION_FILTER} AND {CATEGORY_FILTER}"
MAIN_METER_FILTER = f"{SITE_FILTER} AND \"device\" = '$main_meter'"


def kwh_query(device_filter: str, group_by: str = '"site"') -> str:
    """kWh from counter deltas: per minute ``last(energy_import)``, summed non-negative differences.

    A counter reset (meter swap, overflow) drops the one negative step instead of counting a huge
    negative delta. The energy between the last reading before the range and the first one inside
    it (under a minute) is not counted.
    """
    inner_group = f'time(1m), {group_by}, "device"' if group_by else 'time(1m), "device"'
    outer_group = f" GROUP BY {group_by}" if group_by else ""
    return (
        'SELECT sum("kwh") AS "kwh" FROM ('
        'SELECT non_negative_difference(last("energy_import")) AS "kwh" FROM $meter_source '
        f"WHERE $timeFilter AND {device_filter} GROUP BY {inner_group} fill(none)"
        f") WHERE $timeFilter{outer_group}"
    )


def by_name(name: str, properties: list[Json]) -> Json:
    return {"matcher": {"id": "byName", "options": name}, "properties": properties}


def age_column(name: str = "Time", display: str = "last reading") -> Json:
    return by_name(
        name,
        [{"id": "unit", "value": "dateTimeFromNow"}, {"id": "displayName", "value": display}],
    )


RATE_THRESHOLDS = (Threshold(None, "red"), Threshold(0.4, "orange"), Threshold(0.6, "green"))
DEMAND_THRESHOLDS = (Threshold(None, "green"), Threshold(80, "orange"), Threshold(100, "red"))
