"""Fleet health: are the edge agents online, is anything buffered, dropped or dead-lettered, how old is the data."""

from __future__ import annotations

from dashboards.definitions.common import SITE, SITE_FILTER, age_column
from dashboards.model import Dashboard, Grid, Panel, Target, Threshold

UID = "shopfloor-fleet-health"

ONLINE_MAPPING = {
    "type": "value",
    "options": {
        "1": {"text": "online", "color": "green", "index": 0},
        "0": {"text": "offline", "color": "red", "index": 1},
    },
}


def build() -> Dashboard:
    panels = (
        Panel(
            "table",
            "Edge agents",
            Grid(0, 0, 10, 8),
            (
                Target(
                    f'SELECT last("online") AS "online" FROM "edge_status" WHERE $timeFilter AND {SITE_FILTER} '
                    'GROUP BY "site", "edge"',
                    format="table",
                ),
            ),
            description="last status per edge agent: 'offline' is its MQTT last will",
            transformations=(
                {"id": "organize", "options": {"indexByName": {"site": 0, "edge": 1, "online": 2, "Time": 3}}},
            ),
            overrides=(
                age_column(display="last status"),
                {
                    "matcher": {"id": "byName", "options": "online"},
                    "properties": [
                        {"id": "mappings", "value": [ONLINE_MAPPING]},
                        {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                    ],
                },
            ),
        ),
        Panel(
            "table",
            "Buffer and drops",
            Grid(10, 0, 14, 8),
            (
                Target(
                    'SELECT last("buffer_depth") AS "buffer_depth", last("dropped_full") AS "dropped_full", '
                    'last("dropped_age") AS "dropped_age", last("devices_stale") AS "devices_stale" '
                    f'FROM "edge_status" WHERE $timeFilter AND {SITE_FILTER} GROUP BY "site", "edge"',
                    format="table",
                ),
            ),
            decimals=0,
            description="readings waiting in the edge outbox; readings dropped since the agent started "
            "(outbox full, too old); devices whose last reading was stale",
            thresholds=(Threshold(None, "green"), Threshold(1, "red")),
            transformations=(
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True},
                        "renameByName": {
                            "buffer_depth": "buffered readings",
                            "dropped_full": "dropped: outbox full",
                            "dropped_age": "dropped: too old",
                            "devices_stale": "stale devices",
                        },
                    },
                },
            ),
        ),
        Panel(
            "timeseries",
            "Buffer depth",
            Grid(0, 8, 12, 8),
            (
                Target(
                    f'SELECT max("buffer_depth") FROM "edge_status" WHERE $timeFilter AND {SITE_FILTER} '
                    'GROUP BY time($__interval), "site", "edge" fill(none)',
                    alias="$tag_site/$tag_edge",
                ),
            ),
            unit="none",
            decimals=0,
            max_data_points=1000,
            custom={"drawStyle": "line", "lineInterpolation": "stepAfter", "showPoints": "always"},
        ),
        Panel(
            "stat",
            "Dead letters",
            Grid(12, 8, 12, 8),
            (
                Target(
                    f'SELECT sum("count") AS "dead_letters" FROM "dead_letter" WHERE $timeFilter AND {SITE_FILTER} '
                    'GROUP BY "reason_kind"',
                    alias="$tag_reason_kind",
                ),
            ),
            decimals=0,
            thresholds=(Threshold(None, "green"), Threshold(1, "red")),
            no_value="0",
            description="messages put aside by the collector in the range, by kind (0 when there were none); "
            "see `shopfloor collector dead-letters`",
        ),
        Panel(
            "table",
            "Last reading per device",
            Grid(0, 16, 24, 14),
            (
                Target(
                    f'SELECT last("quality") AS "quality" FROM "autogen"."meter" WHERE $timeFilter AND {SITE_FILTER} '
                    'GROUP BY "site", "device"',
                    format="table",
                ),
            ),
            description="age and quality of each device's newest reading in the past 7 days (raw data, so the range "
            "is fixed: a device silent for longer shows in its edge agent's stale devices)",
            time_from="7d",
            overrides=(age_column(),),
            mappings=(
                {
                    "type": "value",
                    "options": {
                        "ok": {"color": "green", "index": 0},
                        "stale": {"color": "orange", "index": 1},
                        "error": {"color": "red", "index": 2},
                    },
                },
            ),
        ),
    )
    return Dashboard(
        uid=UID,
        title="Fleet health",
        description="Edge agents online/offline, buffer depth, drops, dead letters and the age of the last reading.",
        tags=("shopfloor", "fleet"),
        panels=panels,
        variables=(SITE,),
        time_from="now-24h",
        refresh="30s",
    )
