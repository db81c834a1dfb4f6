"""Grafana's macros and time overrides, substituted like Grafana does (pure, no server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboards.frames import apply_transformations, to_frames
from dashboards.macros import (
    ALL,
    MacroError,
    TimeRange,
    Variable,
    dashboard_range,
    interval_ms,
    panel_range,
    substitute,
)

NOW = datetime(2026, 11, 18, 14, 30, 15, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_today_yesterday_and_this_month() -> None:
    base = dashboard_range("now-24h", "now", NOW)
    assert panel_range(base, NOW, "now/d", None) == TimeRange(at("2026-11-18T00:00:00"), NOW)
    yesterday = panel_range(base, NOW, "now/d", "1d/d")
    assert yesterday.start == at("2026-11-17T00:00:00")
    assert yesterday.end == at("2026-11-17T23:59:59.999")
    assert panel_range(base, NOW, "now/M", None).start == at("2026-11-01T00:00:00")
    assert panel_range(base, NOW, "7d", None).start == at("2026-11-11T14:30:15")
    with pytest.raises(MacroError):
        panel_range(base, NOW, "yesterday", None)


def test_interval_follows_range_and_min_interval() -> None:
    day = dashboard_range("now-24h", "now", NOW)
    year = dashboard_range("now-365d", "now", NOW)
    assert interval_ms(day, 1000) == 60_000
    assert interval_ms(day, 1000, "5m") == 300_000
    assert interval_ms(dashboard_range("now-1h", "now", NOW), 1000, "1m") == 60_000
    assert interval_ms(year, 1000) == 21_600_000  # a year at 1000 points: 8.76 h, rounded to 6 h: 1460 points


def test_substitution_of_time_interval_and_variables() -> None:
    time_range = TimeRange(at("2026-11-18T00:00:00"), NOW)
    query = (
        'SELECT mean("power") FROM $meter_source WHERE $timeFilter AND "site" =~ /^$site$/ '
        'AND "device" = \'${main_meter}\' AND "category" =~ /^$category$/ GROUP BY time($__interval) -- $__interval_ms'
    )
    out = substitute(
        query,
        time_range,
        60_000,
        {
            "meter_source": Variable.of('"rollup"."meter_1m"', regex=False),
            "site": Variable.of(["gent-repair", "brussels.reuse"]),
            "main_meter": Variable.of("main", regex=False),
            "category": ALL,
        },
    )
    assert out == (
        'SELECT mean("power") FROM "rollup"."meter_1m" WHERE time >= 1794960000000ms and time <= 1795012215000ms '
        'AND "site" =~ /^(gent-repair|brussels\\.reuse)$/ AND "device" = \'main\' AND "category" =~ /^.*$/ '
        "GROUP BY time(1m) -- 60000"
    )
    assert substitute("x =~ /^$c$/", time_range, 1000, {"c": Variable.of("Aircon/dehumidifier")}) == (
        "x =~ /^Aircon\\/dehumidifier$/"
    )
    with pytest.raises(MacroError, match=r"\$station"):
        substitute("$station", time_range, 1000, {})


def test_table_join_and_calculated_field() -> None:
    energy = to_frames(
        {"series": [{"name": "m", "tags": {"site": "a"}, "columns": ["time", "kwh"], "values": [[0, 10.0]]}]},
        "table",
    )
    items = to_frames(
        {
            "series": [
                {"name": "r", "tags": {"site": "a"}, "columns": ["time", "items"], "values": [[0, 4]]},
                {"name": "r", "tags": {"site": "b"}, "columns": ["time", "items"], "values": [[0, 2]]},
            ]
        },
        "table",
    )
    (joined,) = apply_transformations(
        energy + items,
        [
            {"id": "joinByField", "options": {"byField": "site"}},
            {
                "id": "calculateField",
                "options": {
                    "mode": "binary",
                    "binary": {"left": "kwh", "operator": "/", "right": "items"},
                    "alias": "q",
                },
            },
            {"id": "organize", "options": {"excludeByName": {"Time": True, "Time 1": True}}},
        ],
    )
    assert joined.columns == ["site", "kwh", "items", "q"]
    assert joined.rows == [["a", 10.0, 4, 2.5], ["b", None, 2, None]]
