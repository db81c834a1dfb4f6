"""Cluster comparison, for coordinators: the same KPIs for every site, side by side."""

from __future__ import annotations

from dashboards.definitions.common import (
    COLLECTOR_URL,
    KPI_DAY,
    METER_SOURCE,
    SITE,
    SITE_FILTER,
    age_column,
    report_links,
)
from dashboards.model import Dashboard, Grid, Json, Panel, Target

UID = "shopfloor-cluster-comparison"

# The comparison sums the day summaries, so it shows the API's numbers for the same days; a range's partial
# first day and today (not summarized before it settles) are not in it.
SETTLED_DAYS = (
    "Whole local days of each site that have settled (summarized at 08:15 the next day), from the KPI API's "
    "day summaries: today and the range's first, partial day are not counted."
)
SITE_KPIS = (
    'SELECT sum("main_kwh") AS "kwh", sum("items_final") AS "items", '
    'sum("items_returned") / sum("items_final") AS "reuse_rate", sum("staffed_h") AS "bench_hours", '
    f'sum("kg_diverted") AS "kg_diverted" FROM {KPI_DAY} WHERE $timeFilter AND {SITE_FILTER} GROUP BY "site"'
)


def _unit(name: str, unit: str, display: str, decimals: int) -> Json:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [
            {"id": "unit", "value": unit},
            {"id": "displayName", "value": display},
            {"id": "decimals", "value": decimals},
        ],
    }


def _bars(title: str, grid: Grid, query: str, unit: str, decimals: int, description: str) -> Panel:
    return Panel(
        "barchart",
        title,
        grid,
        (Target(query, format="table"),),
        unit=unit,
        decimals=decimals,
        description=description,
        options={"xField": "site", "showValue": "always", "legend": {"showLegend": False}},
        transformations=({"id": "organize", "options": {"excludeByName": {"Time": True}}},),
    )


def _site_sums(*columns: str) -> str:
    """``columns`` (InfluxQL expressions with their alias) per site over the range's summarized days."""
    return f'SELECT {", ".join(columns)} FROM {KPI_DAY} WHERE $timeFilter AND {SITE_FILTER} GROUP BY "site"'


KWH_PER_ITEM = 'sum("main_kwh") / sum("items_final") AS "kwh_per_item"'
REUSE_RATE = 'sum("items_returned") / sum("items_final") AS "reuse_rate"'
ITEMS_PER_BENCH_HOUR = 'sum("items_final") / sum("staffed_h") AS "items_per_bench_hour"'
KG_DIVERTED = 'sum("kg_diverted") AS "kg_diverted"'


def build() -> Dashboard:
    side_by_side = _site_sums(
        'sum("main_kwh") AS "kwh"',
        'sum("items_final") AS "items"',
        KWH_PER_ITEM,
        REUSE_RATE,
        'sum("staffed_h") AS "bench_hours"',
        ITEMS_PER_BENCH_HOUR,
        KG_DIVERTED,
    )
    panels = (
        Panel(
            "table",
            "Sites side by side",
            Grid(0, 0, 24, 7),
            (Target(side_by_side, format="table"),),
            description=f"{SETTLED_DAYS} kWh: the site's main meter (the collector's site settings). "
            "Bench-hours: staffed time of the stations, as the KPI API counts it (docs/kpis.md).",
            transformations=(
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True},
                        "indexByName": {
                            "site": 0,
                            "kwh": 1,
                            "items": 2,
                            "kwh_per_item": 3,
                            "reuse_rate": 4,
                            "bench_hours": 5,
                            "items_per_bench_hour": 6,
                            "kg_diverted": 7,
                        },
                    },
                },
            ),
            overrides=(
                _unit("kwh", "kwatth", "kWh", 1),
                _unit("items", "none", "items", 0),
                _unit("kwh_per_item", "kwatth", "kWh per item", 2),
                _unit("reuse_rate", "percentunit", "reuse rate", 0),
                _unit("bench_hours", "none", "bench-hours", 0),
                _unit("items_per_bench_hour", "none", "items per bench-hour", 2),
                _unit("kg_diverted", "masskg", "kg diverted", 1),
            ),
        ),
        _bars(
            "kWh per item",
            Grid(0, 7, 8, 8),
            _site_sums(KWH_PER_ITEM),
            "kwatth",
            2,
            f"main-meter kWh / items with a final outcome. {SETTLED_DAYS}",
        ),
        _bars(
            "Reuse rate",
            Grid(8, 7, 8, 8),
            _site_sums(REUSE_RATE),
            "percentunit",
            0,
            f"items returned to use / items with a final outcome. {SETTLED_DAYS}",
        ),
        _bars(
            "Throughput per bench-hour",
            Grid(16, 7, 8, 8),
            _site_sums(ITEMS_PER_BENCH_HOUR),
            "none",
            2,
            f"items with a final outcome / staffed bench-hours (docs/kpis.md). {SETTLED_DAYS}",
        ),
        _bars(
            "kg diverted",
            Grid(0, 15, 12, 8),
            _site_sums(KG_DIVERTED),
            "masskg",
            0,
            f"weight of Fixed items. {SETTLED_DAYS}",
        ),
        Panel(
            "table",
            "Data freshness",
            Grid(12, 15, 12, 8),
            (
                Target(
                    # The newest raw reading of the range's last hour (to the second), else the rollup's newest
                    # minute: raw data over the whole range would be a scan of every reading.
                    'SELECT last("kwh") AS "kwh" FROM '
                    '(SELECT last("energy_import") AS "kwh" FROM "autogen"."meter" '
                    f'WHERE time >= ${{__to}}ms - 1h AND time <= ${{__to}}ms AND {SITE_FILTER} GROUP BY "site"), '
                    f'(SELECT last("energy_import") AS "kwh" FROM $meter_source WHERE $timeFilter AND {SITE_FILTER} '
                    'GROUP BY "site") '
                    'WHERE $timeFilter GROUP BY "site"',
                    format="table",
                ),
            ),
            description="age of each site's newest meter reading: to the second within the last hour, "
            "to the minute (the rollup) before",
            transformations=(
                # One row per source (raw, rollup) and site: keep each site's newest.
                {
                    "id": "groupBy",
                    "options": {
                        "fields": {
                            "site": {"operation": "groupby", "aggregations": []},
                            "Time": {"operation": "aggregate", "aggregations": ["max"]},
                        }
                    },
                },
            ),
            overrides=(age_column("Time (max)"),),
        ),
    )
    return Dashboard(
        uid=UID,
        title="Cluster comparison",
        description="For coordinators: kWh per item, reuse rate, throughput, kg diverted and data freshness per site, "
        "from the KPI API's day summaries (settled days).",
        tags=("shopfloor", "cluster"),
        panels=panels,
        variables=(SITE, METER_SOURCE, COLLECTOR_URL),
        time_from="now-30d",
        refresh="5m",
        links=report_links(
            "cluster", "Cluster report (PDF)", "every site side by side for the dashboard's days, with the ranking"
        ),
    )
