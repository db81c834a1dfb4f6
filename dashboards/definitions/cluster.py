"""Cluster comparison, for coordinators: the same KPIs for every site, side by side."""

from __future__ import annotations

from dashboards.definitions.common import (
    CATEGORY,
    COLLECTOR_URL,
    MAIN_METER,
    MAIN_METER_FILTER,
    METER_SOURCE,
    SITE,
    SITE_FILTER,
    age_column,
    bench_hours_query,
    kwh_query,
    report_links,
)
from dashboards.model import Dashboard, Grid, Json, Panel, Target

UID = "shopfloor-cluster-comparison"

FINISHED_AT_SITE = f'"type" = \'finished\' AND {SITE_FILTER} AND "category" =~ /^$category$/'
SITE_KPIS = (
    'SELECT sum("final") AS "items", sum("returned_to_use") / sum("final") AS "reuse_rate", '
    'sum("kg_diverted") AS "kg_diverted" '
    f'FROM "repair_event" WHERE $timeFilter AND {FINISHED_AT_SITE} GROUP BY "site"'
)
ITEMS = f'SELECT sum("final") AS "items" FROM "repair_event" WHERE $timeFilter AND {FINISHED_AT_SITE} GROUP BY "site"'


def _ratio(left: str, right: str, alias: str) -> Json:
    return {
        "id": "calculateField",
        "options": {"mode": "binary", "binary": {"left": left, "operator": "/", "right": right}, "alias": alias},
    }


JOIN_BY_SITE: Json = {"id": "joinByField", "options": {"byField": "site", "mode": "outer"}}
KWH_PER_ITEM: tuple[Json, ...] = (JOIN_BY_SITE, _ratio("kwh", "items", "kwh_per_item"))


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


def build() -> Dashboard:
    kwh = Target(kwh_query(MAIN_METER_FILTER), ref_id="A", format="table")
    kpis = Target(SITE_KPIS, ref_id="B", format="table")
    bench_hours = Target(bench_hours_query(), ref_id="C", format="table")
    panels = (
        Panel(
            "table",
            "Sites side by side",
            Grid(0, 0, 24, 7),
            (kwh, kpis, bench_hours),
            interval="1m",
            max_data_points=1000,
            description="kWh: main meter. Bench-hours: staffed time of the stations, as the KPI API counts it "
            "(docs/kpis.md). The category filter applies to the items only.",
            transformations=(
                *KWH_PER_ITEM,
                _ratio("items", "bench_hours", "items_per_bench_hour"),
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True, "Time 1": True, "Time 2": True},
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
        Panel(
            "barchart",
            "kWh per item",
            Grid(0, 7, 8, 8),
            (kwh, kpis),
            interval="1m",
            max_data_points=1000,
            unit="kwatth",
            decimals=2,
            description="main-meter kWh / items with a final outcome",
            options={"xField": "site", "showValue": "always", "legend": {"showLegend": False}},
            transformations=(
                *KWH_PER_ITEM,
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {
                            "Time": True,
                            "Time 1": True,
                            "Time 2": True,
                            "kwh": True,
                            "items": True,
                            "reuse_rate": True,
                            "kg_diverted": True,
                        }
                    },
                },
            ),
        ),
        _bars(
            "Reuse rate",
            Grid(8, 7, 8, 8),
            'SELECT sum("returned_to_use") / sum("final") AS "reuse_rate" '
            f'FROM "repair_event" WHERE $timeFilter AND {FINISHED_AT_SITE} GROUP BY "site"',
            "percentunit",
            0,
            "items returned to use / items with a final outcome",
        ),
        Panel(
            "barchart",
            "Throughput per bench-hour",
            Grid(16, 7, 8, 8),
            (Target(ITEMS, ref_id="A", format="table"), Target(bench_hours_query(), ref_id="B", format="table")),
            unit="none",
            decimals=2,
            description="items with a final outcome / staffed bench-hours (docs/kpis.md)",
            options={"xField": "site", "showValue": "always", "legend": {"showLegend": False}},
            transformations=(
                JOIN_BY_SITE,
                _ratio("items", "bench_hours", "items_per_bench_hour"),
                {
                    "id": "organize",
                    "options": {"excludeByName": {"Time": True, "Time 1": True, "items": True, "bench_hours": True}},
                },
            ),
        ),
        _bars(
            "kg diverted",
            Grid(0, 15, 12, 8),
            f'SELECT sum("kg_diverted") AS "kg_diverted" FROM "repair_event" WHERE $timeFilter AND {FINISHED_AT_SITE} '
            'GROUP BY "site"',
            "masskg",
            0,
            "weight of Fixed items",
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
        description="For coordinators: kWh per item, reuse rate, throughput, kg diverted and data freshness per site.",
        tags=("shopfloor", "cluster"),
        panels=panels,
        variables=(SITE, CATEGORY, MAIN_METER, METER_SOURCE, COLLECTOR_URL),
        time_from="now-30d",
        refresh="5m",
        links=report_links(
            "cluster", "Cluster report (PDF)", "every site side by side for the dashboard's days, with the ranking"
        ),
    )
