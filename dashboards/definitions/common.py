"""Template variables and InfluxQL fragments shared by the dashboards (schema: docs/storage.md)."""

from __future__ import annotations

from dashboards.model import Dashboard, Json, Threshold, Variable

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

COLLECTOR_URL = Variable(
    "collector_url",
    "Collector",
    "textbox",
    default="http://127.0.0.1:8080",
    description="the collector's HTTP address as your browser reaches it: the report links open there",
)
# The dashboard's time range as the report's days (docs/reports.md); ``to`` is the last day, included.
_REPORT_RANGE = "from=${__from:date:YYYY-MM-DD}&to=${__to:date:YYYY-MM-DD}&format=pdf"


def report_links(path: str, title: str, tooltip: str) -> tuple[Json, ...]:
    """The shared dashboard links, and one to a report of the collector (``path`` after /api/reports/)."""
    report: Json = {
        "type": "link",
        "title": title,
        "url": f"${{collector_url}}/api/reports/{path}?{_REPORT_RANGE}",
        "icon": "doc",
        "tooltip": tooltip,
        "targetBlank": True,
        "asDropdown": False,
        "includeVars": False,
        "keepTime": False,
        "tags": [],
    }
    return (*Dashboard.links, report)


SITE_FILTER = '"site" =~ /^$site$/'
STATION_FILTER = '"station" =~ /^$station$/'
CATEGORY_FILTER = '"category" =~ /^$category$/'
FINISHED = f"\"type\" = 'finished' AND {SITE_FILTER} AND {STATION_FILTER} AND {CATEGORY_FILTER}"
MAIN_METER_FILTER = f"{SITE_FILTER} AND \"device\" = '$main_meter'"
# The KPI API's day summaries (docs/kpis.md, read model): one point per site and settled local day, at its
# local midnight, written by the collector's catch-up 8 h 15 min after the day ended.
KPI_DAY = '"rollup"."kpi_day"'


def kwh_query(device_filter: str, group_by: str = '"site"') -> str:
    """kWh from the ``energy_import`` counter: last minus first reading in the range, plus every counter drop.

    ``last - first`` is cheap over any range. A drop of the counter (meter swap, overflow) is found
    with ``difference(last(...))`` per ``$__interval`` bucket and added back, so a reset costs only
    the energy of the bucket it falls in, instead of a huge negative delta. On the rollup, the
    first reading of the range is its first minute's last one (docs/dashboards.md).
    """
    tags = f'{group_by}, "device"' if group_by else '"device"'
    outer_group = f" GROUP BY {group_by}" if group_by else ""
    where = f"WHERE $timeFilter AND {device_filter}"
    return (
        'SELECT sum("kwh") AS "kwh" FROM '
        f'(SELECT last("energy_import") - first("energy_import") AS "kwh" FROM $meter_source {where} GROUP BY {tags}), '
        '(SELECT -1 * "step" AS "kwh" FROM (SELECT difference(last("energy_import")) AS "step" FROM $meter_source '
        f'{where} GROUP BY time($__interval), {tags} fill(none)) WHERE "step" < 0)'
        f" WHERE $timeFilter{outer_group}"
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
