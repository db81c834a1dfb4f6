"""Run a dashboard's panels outside Grafana: substitute the macros, query, parse, transform."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from dashboards.frames import Frame, apply_transformations, to_frames
from dashboards.macros import ALL, TimeRange, Variable, dashboard_range, interval_ms, panel_range, substitute

DEFAULT_MAX_DATA_POINTS = 1000


class Runner(Protocol):
    def query(self, influxql: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Context:
    now: datetime
    variables: Mapping[str, Variable]
    time_from: str | None = None  # None: the dashboard's default range
    time_to: str | None = None


@dataclass(frozen=True)
class PanelQuery:
    ref_id: str
    influxql: str
    time_range: TimeRange
    result_format: str
    alias: str


def default_variables(dashboard: Mapping[str, Any]) -> dict[str, Variable]:
    """Every template variable at its default: ``All`` for multi-value ones."""
    out: dict[str, Variable] = {}
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            out[var["name"]] = ALL
        else:
            out[var["name"]] = Variable.of(var["current"]["value"], regex=False)
    return out


def variable_value(dashboard: Mapping[str, Any], name: str, value: str | list[str]) -> Variable:
    """A value for a template variable, formatted like Grafana: regex-escaped for query variables."""
    kinds = {var["name"]: var["type"] for var in dashboard["templating"]["list"]}
    if name not in kinds:
        raise KeyError(f"dashboard {dashboard['uid']} has no variable ${name}; it has {sorted(kinds)}")
    return Variable.of(value, regex=kinds[name] == "query")


def panel_queries(dashboard: Mapping[str, Any], panel: Mapping[str, Any], context: Context) -> list[PanelQuery]:
    base = dashboard_range(
        context.time_from or dashboard["time"]["from"], context.time_to or dashboard["time"]["to"], context.now
    )
    time_range = panel_range(base, context.now, panel.get("timeFrom"), panel.get("timeShift"))
    interval = interval_ms(time_range, panel.get("maxDataPoints", DEFAULT_MAX_DATA_POINTS), panel.get("interval"))
    return [
        PanelQuery(
            target["refId"],
            substitute(target["query"], time_range, interval, context.variables),
            time_range,
            target.get("resultFormat", "time_series"),
            target.get("alias", ""),
        )
        for target in panel["targets"]
    ]


def evaluate_panel(
    dashboard: Mapping[str, Any], panel: Mapping[str, Any], context: Context, runner: Runner
) -> list[Frame]:
    frames: list[Frame] = []
    for query in panel_queries(dashboard, panel, context):
        frames.extend(to_frames(runner.query(query.influxql), query.result_format, query.alias))
    return apply_transformations(frames, panel.get("transformations") or [])
