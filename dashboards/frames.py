"""InfluxQL results as Grafana sees them: data frames, and the few transformations the dashboards use.

Pure. Mirrors Grafana's InfluxQL response parsing (``time_series``: one frame per series and
column, named by the alias; ``table``: one frame, tags as columns) and its ``joinByField``,
``calculateField`` (binary), ``organize`` and ``groupBy`` transformations.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Json = Mapping[str, Any]


@dataclass
class Frame:
    name: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def column(self, name: str) -> list[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def value_columns(self) -> list[str]:
        """Numeric columns other than Time: what a stat, bar or line shows."""
        return [
            name
            for index, name in enumerate(self.columns)
            if name != "Time" and any(isinstance(row[index], int | float) for row in self.rows)
        ]


def _series_name(series: Json, column: str, alias: str) -> str:
    tags: dict[str, str] = series.get("tags") or {}
    if alias:
        return re.sub(
            r"\$tag_(\w+)|\[\[tag_(\w+)\]\]",
            lambda m: tags.get(m[1] or m[2], ""),
            alias.replace("$col", column).replace("$m", series.get("name", "")),
        )
    name = f"{series.get('name', '')}.{column}"
    if tags:
        name += " {" + ", ".join(f"{key}: {value}" for key, value in tags.items()) + "}"
    return name


def to_frames(result: Json, result_format: str, alias: str = "") -> list[Frame]:
    """Frames from one statement's result (``{"series": [...]}``), times in epoch ms."""
    series_list = result.get("series") or []
    if result_format == "table":
        if not series_list:
            return []
        tag_keys = list((series_list[0].get("tags") or {}).keys())
        value_columns = [c for c in series_list[0]["columns"] if c != "time"]
        frame = Frame(series_list[0].get("name", ""), ["Time", *tag_keys, *value_columns])
        for series in series_list:
            tags = series.get("tags") or {}
            for values in series["values"]:
                row = dict(zip(series["columns"], values, strict=True))
                frame.rows.append([row["time"], *(tags.get(k, "") for k in tag_keys), *(row[c] for c in value_columns)])
        return [frame]
    frames = []
    for series in series_list:
        for index, column in enumerate(series["columns"]):
            if column == "time":
                continue
            name = _series_name(series, column, alias)
            frames.append(Frame(name, ["Time", name], [[values[0], values[index]] for values in series["values"]]))
    return frames


def _join(frames: list[Frame], by: str) -> list[Frame]:
    joinable = [f for f in frames if by in f.columns]
    if len(joinable) < 2:
        return frames
    columns = [by]
    seen: dict[str, int] = {}
    for frame in joinable:
        for name in frame.columns:
            if name == by:
                continue
            seen[name] = seen.get(name, 0) + 1
            columns.append(name if seen[name] == 1 else f"{name} {seen[name] - 1}")
    keys: list[Any] = []
    values: dict[Any, dict[str, Any]] = {}
    offset = 1
    for frame in joinable:
        own = [c for c in frame.columns if c != by]
        targets = columns[offset : offset + len(own)]
        offset += len(own)
        for record in frame.records():
            key = record[by]
            if key not in values:
                keys.append(key)
                values[key] = {}
            for source, target in zip(own, targets, strict=True):
                values[key][target] = record[source]
    joined = Frame("joined", columns, [[key, *(values[key].get(c) for c in columns[1:])] for key in keys])
    return [joined, *(f for f in frames if by not in f.columns)]


_OPERATORS: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


def _calculate(frames: list[Frame], options: Json) -> list[Frame]:
    binary = options["binary"]
    op = _OPERATORS[binary["operator"]]
    alias = options.get("alias") or f"{binary['left']} {binary['operator']} {binary['right']}"
    out = []
    for frame in frames:
        if binary["left"] not in frame.columns or binary["right"] not in frame.columns:
            out.append(frame)
            continue
        results = []
        for record in frame.records():
            left, right = record[binary["left"]], record[binary["right"]]
            try:
                results.append(None if left is None or right is None else op(left, right))
            except ZeroDivisionError:
                results.append(None)
        if options.get("replaceFields"):
            keep = [i for i, c in enumerate(frame.columns) if c == "Time"]
            new = Frame(frame.name, [*(frame.columns[i] for i in keep), alias])
            new.rows = [[*(row[i] for i in keep), value] for row, value in zip(frame.rows, results, strict=True)]
        else:
            new = Frame(frame.name, [*frame.columns, alias])
            new.rows = [[*row, value] for row, value in zip(frame.rows, results, strict=True)]
        out.append(new)
    return out


def _organize(frames: list[Frame], options: Json) -> list[Frame]:
    exclude = {name for name, hidden in (options.get("excludeByName") or {}).items() if hidden}
    order: Mapping[str, int] = options.get("indexByName") or {}
    rename: Mapping[str, str] = options.get("renameByName") or {}
    out = []
    for frame in frames:
        kept = [i for i, c in enumerate(frame.columns) if c not in exclude]
        kept.sort(key=lambda i: order.get(frame.columns[i], len(order) + i))
        new = Frame(frame.name, [rename.get(frame.columns[i], frame.columns[i]) for i in kept])
        new.rows = [[row[i] for i in kept] for row in frame.rows]
        out.append(new)
    return out


_CALCS: dict[str, Callable[[list[Any]], Any]] = {"max": max, "min": min, "sum": sum, "last": lambda v: v[-1]}


def _group_by(frames: list[Frame], options: Json) -> list[Frame]:
    """Grafana's ``groupBy``: rows with the same group-by values become one; aggregated columns are
    named ``<field> (<calculation>)``, as Grafana names them."""
    fields: Mapping[str, Json] = options.get("fields") or {}
    keys = [name for name, spec in fields.items() if spec.get("operation") == "groupby"]
    calcs = [
        (name, calc)
        for name, spec in fields.items()
        if spec.get("operation") == "aggregate"
        for calc in spec["aggregations"]
    ]
    out = []
    for frame in frames:
        if not all(name in frame.columns for name in keys):
            out.append(frame)
            continue
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for record in frame.records():
            groups.setdefault(tuple(record[k] for k in keys), []).append(record)
        new = Frame(frame.name, [*keys, *(f"{name} ({calc})" for name, calc in calcs)])
        for key, records in groups.items():
            values = []
            for name, calc in calcs:
                present = [r[name] for r in records if r.get(name) is not None]
                values.append(_CALCS[calc](present) if present else None)
            new.rows.append([*key, *values])
        out.append(new)
    return out


def apply_transformations(frames: list[Frame], transformations: Sequence[Json]) -> list[Frame]:
    for step in transformations:
        kind, options = step["id"], step.get("options") or {}
        if kind == "joinByField":
            frames = _join(frames, options.get("byField", "Time"))
        elif kind == "calculateField":
            frames = _calculate(frames, options)
        elif kind == "organize":
            frames = _organize(frames, options)
        elif kind == "groupBy":
            frames = _group_by(frames, options)
        else:
            raise ValueError(f"transformation {kind!r} is not supported here")
    return frames
