"""Small typed builders for Grafana dashboard JSON with InfluxQL targets.

grafana-foundation-sdk 10.1 has no InfluxDB dataquery, so the targets here are written by
hand. The output is checked against the SDK's dashboard model in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# The uid the provisioned datasource has (provisioning/datasources/influxdb.yaml).
DATASOURCE_UID = "shopfloor-influxdb"
DATASOURCE = {"type": "influxdb", "uid": DATASOURCE_UID}

PanelType = Literal["stat", "timeseries", "barchart", "table", "histogram"]
Json = dict[str, Any]


@dataclass(frozen=True)
class Target:
    """One raw InfluxQL query. ``table`` format returns one row per series (tags as columns)."""

    query: str
    ref_id: str = "A"
    alias: str = ""
    format: Literal["time_series", "table"] = "time_series"

    def to_json(self) -> Json:
        out: Json = {
            "datasource": DATASOURCE,
            "refId": self.ref_id,
            "rawQuery": True,
            "resultFormat": self.format,
            "query": self.query,
        }
        if self.alias:
            out["alias"] = self.alias
        return out


@dataclass(frozen=True)
class Threshold:
    value: float | None
    color: str


GREEN_ONLY = (Threshold(None, "green"),)


@dataclass(frozen=True)
class Grid:
    x: int
    y: int
    w: int
    h: int

    def to_json(self) -> Json:
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h}


@dataclass(frozen=True)
class Panel:
    type: PanelType
    title: str
    grid: Grid
    targets: tuple[Target, ...]
    unit: str = "none"
    decimals: int | None = None
    description: str = ""
    thresholds: tuple[Threshold, ...] = GREEN_ONLY
    min: float | None = None
    max: float | None = None
    # Grafana panel time overrides: "now/d" = today so far; time_shift "1d/d" = the whole day before.
    time_from: str | None = None
    time_shift: str | None = None
    # Lower bound for $__interval: the rollup has one point per minute.
    interval: str | None = None
    max_data_points: int | None = None
    transformations: tuple[Json, ...] = ()
    options: Json = field(default_factory=dict)
    custom: Json = field(default_factory=dict)
    overrides: tuple[Json, ...] = ()
    mappings: tuple[Json, ...] = ()
    # Shown instead of "No data" when the query has no rows: 0 dead letters is a fact, not missing data.
    no_value: str | None = None

    def to_json(self, panel_id: int) -> Json:
        defaults: Json = {
            "unit": self.unit,
            "thresholds": {
                "mode": "absolute",
                "steps": [{"value": t.value, "color": t.color} for t in self.thresholds],
            },
            "color": {"mode": "thresholds" if self.type == "stat" else "palette-classic"},
            "mappings": list(self.mappings),
            "custom": dict(self.custom),
        }
        if self.decimals is not None:
            defaults["decimals"] = self.decimals
        if self.no_value is not None:
            defaults["noValue"] = self.no_value
        if self.min is not None:
            defaults["min"] = self.min
        if self.max is not None:
            defaults["max"] = self.max
        out: Json = {
            "id": panel_id,
            "type": self.type,
            "title": self.title,
            "description": self.description,
            "datasource": DATASOURCE,
            "gridPos": self.grid.to_json(),
            "targets": [t.to_json() for t in self.targets],
            "fieldConfig": {"defaults": defaults, "overrides": list(self.overrides)},
            "options": {**_default_options(self.type), **self.options},
            "transformations": list(self.transformations),
        }
        for key, value in (
            ("timeFrom", self.time_from),
            ("timeShift", self.time_shift),
            ("interval", self.interval),
            ("maxDataPoints", self.max_data_points),
        ):
            if value is not None:
                out[key] = value
        if self.time_from or self.time_shift:
            out["hideTimeOverride"] = False
        return out


def _default_options(panel_type: PanelType) -> Json:
    if panel_type == "stat":
        return {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "textMode": "auto",
            "orientation": "auto",
        }
    if panel_type == "timeseries":
        return {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi"},
        }
    if panel_type == "barchart":
        return {"orientation": "auto", "showValue": "auto", "stacking": "none", "legend": {"showLegend": True}}
    if panel_type == "table":
        return {"showHeader": True, "cellHeight": "sm"}
    return {"legend": {"showLegend": False}}


@dataclass(frozen=True)
class Variable:
    """A template variable. ``query`` variables list tag values; the others are typed in or fixed."""

    name: str
    label: str
    type: Literal["query", "textbox", "constant", "custom"]
    query: str = ""
    default: str = ""
    multi: bool = False
    include_all: bool = False
    options: tuple[tuple[str, str], ...] = ()  # custom: (text, value)
    description: str = ""

    def to_json(self) -> Json:
        out: Json = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "description": self.description,
            "hide": 2 if self.type == "constant" else 0,
            "skipUrlSync": False,
        }
        if self.type == "query":
            out.update(
                {
                    "datasource": DATASOURCE,
                    "query": self.query,
                    "definition": self.query,
                    "refresh": 1,
                    "sort": 1,
                    "multi": self.multi,
                    "includeAll": self.include_all,
                    "allValue": ".*" if self.include_all else None,
                    "current": {"text": "All", "value": "$__all"} if self.include_all else {},
                    "options": [],
                    "regex": "",
                }
            )
        elif self.type == "custom":
            default_text = next(text for text, value in self.options if value == self.default)
            out.update(
                {
                    "query": ",".join(f"{text} : {value}" for text, value in self.options),
                    "multi": False,
                    "includeAll": False,
                    "current": {"text": default_text, "value": self.default},
                    "options": [
                        {"text": text, "value": value, "selected": value == self.default}
                        for text, value in self.options
                    ],
                }
            )
        else:
            out.update(
                {
                    "query": self.default,
                    "current": {"text": self.default, "value": self.default},
                    "options": [{"text": self.default, "value": self.default, "selected": True}],
                }
            )
        return out


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    tags: tuple[str, ...]
    panels: tuple[Panel, ...]
    variables: tuple[Variable, ...]
    time_from: str = "now-24h"
    time_to: str = "now"
    refresh: str = "1m"
    links: tuple[Json, ...] = (
        {
            "type": "dashboards",
            "title": "Shopfloor",
            "tags": ["shopfloor"],
            "asDropdown": True,
            "includeVars": True,
            "keepTime": True,
            "icon": "external link",
            "targetBlank": False,
            "tooltip": "",
            "url": "",
        },
    )

    def to_json(self) -> Json:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "timezone": "browser",
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": 39,
            "version": 1,
            "refresh": self.refresh,
            "time": {"from": self.time_from, "to": self.time_to},
            "timepicker": {"refresh_intervals": ["10s", "30s", "1m", "5m", "15m", "1h"]},
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "weekStart": "monday",
            "links": list(self.links),
            "annotations": {"list": []},
            "templating": {"list": [v.to_json() for v in self.variables]},
            "panels": [panel.to_json(index + 1) for index, panel in enumerate(self.panels)],
        }
