"""Draw each dashboard as a PNG with matplotlib: same grid, titles, units and thresholds as in Grafana.

The only module that imports matplotlib (Agg backend, no display needed). Panel data comes from
``evaluate``, which runs the very queries Grafana would run.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import ScaledTranslation

from dashboards.evaluate import Context, Runner, evaluate_panel
from dashboards.frames import Frame
from dashboards.units import format_value

GRID_COLUMNS = 24
DPI = 100
ROW_INCHES = 0.36
WIDTH_INCHES = 18.0
COLORS = {"green": "#2e7d32", "orange": "#ef6c00", "red": "#c62828", "yellow": "#f9a825", "text": "#212121"}
LEGEND_COLUMNS = 4
LABEL_WRAP = 18  # characters per line of a horizontal bar chart's category labels
PALETTE = ["#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#c62828", "#00838f"]


@dataclass(frozen=True)
class Rendered:
    path: Path
    panels: int
    axes: int


def _defaults(panel: Mapping[str, Any]) -> Mapping[str, Any]:
    defaults: Mapping[str, Any] = panel["fieldConfig"]["defaults"]
    return defaults


def _override(panel: Mapping[str, Any], column: str, key: str) -> Any:
    for override in panel["fieldConfig"].get("overrides", []):
        if override["matcher"].get("options") == column:
            for prop in override["properties"]:
                if prop["id"] == key:
                    value: Any = prop["value"]
                    return value
    return None


def _threshold_color(panel: Mapping[str, Any], value: object) -> str:
    color = "text"
    if isinstance(value, int | float):
        for step in _defaults(panel)["thresholds"]["steps"]:
            if step["value"] is None or value >= step["value"]:
                color = step["color"]
    return COLORS.get(color, color)


def _mapped_color(panel: Mapping[str, Any], value: object) -> str | None:
    for mapping in _defaults(panel).get("mappings", []):
        hit = mapping.get("options", {}).get(str(value))
        if hit and "color" in hit:
            return str(COLORS.get(hit["color"], hit["color"]))
    return None


def _title(text: str, variables: Mapping[str, str]) -> str:
    for name, value in variables.items():
        text = text.replace(f"${name}", value)
    return text


def _stat(ax: Axes, panel: Mapping[str, Any], frames: Sequence[Frame], now: datetime) -> None:
    ax.set_axis_off()
    defaults = _defaults(panel)
    values = []
    for frame in frames:
        for column in frame.value_columns():
            numbers = [v for v in frame.column(column) if v is not None]
            if numbers:
                values.append((frame.name if len(frames) > 1 else "", numbers[-1]))
    if not values:
        if "noValue" in defaults:
            shown = defaults["noValue"]
            try:
                color = _threshold_color(panel, float(shown))  # a number, coloured like one ("0" dead letters: green)
            except ValueError:
                color = COLORS["text"]
            ax.text(0.5, 0.45, shown, ha="center", va="center", fontsize=26, weight="bold", color=color)
        else:
            ax.text(0.5, 0.45, "No data", ha="center", va="center", fontsize=16, color="#757575")
        return
    if len(values) == 1:
        name, value = values[0]
        text = format_value(value, defaults["unit"], defaults.get("decimals"), now)
        ax.text(
            0.5, 0.45, text, ha="center", va="center", fontsize=26, weight="bold", color=_threshold_color(panel, value)
        )
        return
    # Several series (site = All): one row each, name left and value right, as Grafana's horizontal stat does.
    row_points = ax.bbox.height * 72 / DPI / len(values)
    size = max(6.0, min(17.0, row_points * 0.62))
    for index, (name, value) in enumerate(values):
        y = 1 - (index + 0.5) / len(values)
        text = format_value(value, defaults["unit"], defaults.get("decimals"), now)
        ax.text(
            0.98, y, text, ha="right", va="center", fontsize=size, weight="bold", color=_threshold_color(panel, value)
        )
        ax.text(0.02, y, name, ha="left", va="center", fontsize=min(8.0, size), color="#616161")


def _timeseries(ax: Axes, panel: Mapping[str, Any], frames: Sequence[Frame], now: datetime) -> None:
    for index, frame in enumerate(frames):
        points = [(t, v) for t, v in frame.rows if v is not None]
        if not points:
            continue
        times = [t / 86_400_000 for t, _ in points]  # matplotlib date numbers: days since 1970
        steps = panel["fieldConfig"]["defaults"]["custom"].get("lineInterpolation") == "stepAfter"
        ax.plot(
            times,
            [v for _, v in points],
            label=frame.name,
            color=PALETTE[index % len(PALETTE)],
            linewidth=1.2,
            drawstyle="steps-post" if steps else "default",
            marker="o" if steps else None,
            markersize=3,
        )
    ax.xaxis_date()
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    unit = _defaults(panel)["unit"]
    ax.set_ylabel(format_value(0, unit, 0, now).lstrip("0").strip(), fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_ylim(bottom=0)
    if frames:
        # Below the plot (Grafana's legend placement "bottom"), never over the lines.
        ax.legend(
            fontsize=7,
            loc="upper left",
            bbox_to_anchor=(0, 0),
            bbox_transform=ax.transAxes + ScaledTranslation(0, -0.3, ax.figure.dpi_scale_trans),
            ncol=LEGEND_COLUMNS,
            frameon=False,
            borderaxespad=0,
        )


def _barchart(ax: Axes, panel: Mapping[str, Any], frames: Sequence[Frame], now: datetime) -> None:
    options = panel["options"]
    if not frames or not frames[0].rows:
        ax.text(0.5, 0.5, "No data", ha="center", va="center", transform=ax.transAxes)
        return
    frame = frames[0]
    labels = [str(v) for v in frame.column(options.get("xField", frame.columns[0]))]
    series = frame.value_columns()
    horizontal = options.get("orientation") == "horizontal"
    stacked = options.get("stacking") == "normal"
    defaults = _defaults(panel)
    positions = list(range(len(labels)))
    base = [0.0] * len(labels)
    width = 0.8 if stacked or len(series) == 1 else 0.8 / len(series)
    for index, column in enumerate(series):
        values = [float(v or 0) for v in frame.column(column)]
        scale = 100 if defaults["unit"] == "percentunit" else 1
        shown = [v * scale for v in values]
        offset = 0.0 if stacked or len(series) == 1 else (index - (len(series) - 1) / 2) * width
        where = [p + offset for p in positions]
        color = PALETTE[index % len(PALETTE)]
        bars = (
            ax.barh(where, shown, height=width, left=base if stacked else None, label=column, color=color)
            if horizontal
            else ax.bar(where, shown, width=width, bottom=base if stacked else None, label=column, color=color)
        )
        if options.get("showValue") == "always":
            ax.bar_label(
                bars,
                labels=[format_value(v, defaults["unit"], defaults.get("decimals"), now) for v in values],
                fontsize=8,
            )
        if stacked:
            base = [b + v for b, v in zip(base, shown, strict=True)]
    if horizontal:
        ax.set_yticks(positions, [textwrap.fill(label, LABEL_WRAP) for label in labels], fontsize=8)
        ax.invert_yaxis()
    else:
        ax.set_xticks(positions, labels, fontsize=8)
    if horizontal:
        ax.margins(x=0.1)
    else:
        ax.margins(y=0.12)
    if len(series) > 1:
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="x" if horizontal else "y")


def _histogram(ax: Axes, panel: Mapping[str, Any], frames: Sequence[Frame], now: datetime) -> None:
    values = [float(v) for f in frames for c in f.value_columns() for v in f.column(c) if v is not None]
    size = float(panel["options"].get("bucketSize") or 10)
    if values:
        top = max(values)
        edges = [i * size for i in range(int(top // size) + 2)]
        ax.hist(values, bins=edges, color=PALETTE[0], edgecolor="white")
    ax.set_xlabel(format_value(0, _defaults(panel)["unit"], 0, now).lstrip("0").strip(), fontsize=8)
    ax.set_ylabel("items", fontsize=8)
    ax.grid(alpha=0.3, axis="y")


def _table(ax: Axes, panel: Mapping[str, Any], frames: Sequence[Frame], now: datetime) -> None:
    ax.set_axis_off()
    if not frames or not frames[0].rows:
        ax.text(0.5, 0.5, "No data", ha="center", va="center")
        return
    frame = frames[0]
    defaults = _defaults(panel)
    header = [_override(panel, c, "displayName") or c for c in frame.columns]
    cells, colors = [], []
    for row in frame.rows:
        texts, shades = [], []
        for column, value in zip(frame.columns, row, strict=True):
            unit = _override(panel, column, "unit") or (defaults["unit"] if isinstance(value, int | float) else "none")
            decimals = _override(panel, column, "decimals")
            mapped = None
            for mapping in _override(panel, column, "mappings") or []:
                hit = mapping.get("options", {}).get(str(value))
                if hit:
                    mapped = hit
            texts.append(mapped["text"] if mapped and "text" in mapped else format_value(value, unit, decimals, now))
            color = COLORS.get(mapped["color"]) if mapped and "color" in mapped else _mapped_color(panel, value)
            shades.append(color or "white")
        cells.append(texts)
        colors.append(shades)
    table = ax.table(cellText=cells, colLabels=header, cellColours=colors, loc="upper center", cellLoc="left")
    table.auto_set_font_size(False)
    # Rows as tall as the panel allows (at most 1.4 x the default): every row shows, none is cut off.
    available = ax.bbox.height * 72 / DPI  # points
    row_points = min(available / (len(cells) + 1), 9 * 1.4 * 1.6)
    table.set_fontsize(min(9.0, row_points / 1.6))
    for cell in table.get_celld().values():
        cell.set_height(row_points / available)
    for (line, _), cell in table.get_celld().items():
        cell.set_edgecolor("#e0e0e0")
        if line == 0:
            cell.set_text_props(weight="bold")
        elif cell.get_facecolor()[:3] != (1.0, 1.0, 1.0):
            cell.set_text_props(color="white", weight="bold")


DRAW = {"stat": _stat, "timeseries": _timeseries, "barchart": _barchart, "histogram": _histogram, "table": _table}


def draw(
    dashboard: Mapping[str, Any], context: Context, runner: Runner, titles: Mapping[str, str] | None = None
) -> Figure:
    panels = dashboard["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    header = 0.7
    height = rows * ROW_INCHES + header
    figure = plt.figure(figsize=(WIDTH_INCHES, height), dpi=DPI)
    figure.patch.set_facecolor("#f4f5f5")
    stamp = context.now.strftime("%Y-%m-%d %H:%M UTC")
    figure.suptitle(
        f"{dashboard['title']}  ·  {stamp}", x=0.01, y=1 - 0.25 / height, ha="left", fontsize=14, weight="bold"
    )
    for panel in panels:
        grid = panel["gridPos"]
        pad_x, pad_y = 0.004, 0.06 / height
        left = grid["x"] / GRID_COLUMNS + pad_x
        width = grid["w"] / GRID_COLUMNS - 2 * pad_x
        top = 1 - (header + grid["y"] * ROW_INCHES) / height
        box_height = grid["h"] * ROW_INCHES / height
        title_band = 0.32 / height
        figure.add_artist(_background(figure, left, top - box_height + pad_y, width, box_height - 2 * pad_y))
        figure.text(
            left + 0.004,
            top - pad_y - title_band / 2,
            _title(panel["title"], titles or {}),
            fontsize=10,
            weight="bold",
            va="center",
        )
        frames = evaluate_panel(dashboard, panel, context, runner)
        axis_inches = 0.35 if panel["type"] in ("timeseries", "histogram", "barchart") else 0.0
        if panel["type"] == "timeseries" and frames:
            axis_inches += 0.16 * math.ceil(len(frames) / LEGEND_COLUMNS)  # the legend's rows, below the plot
        inner_bottom = top - box_height + pad_y * 2 + axis_inches / height
        inner_top = top - pad_y - title_band
        horizontal_pad = 0.035 if panel["type"] in ("timeseries", "histogram", "barchart") else 0.005
        if panel["type"] == "barchart" and panel["options"].get("orientation") == "horizontal":
            horizontal_pad = 0.09
        ax = figure.add_axes(
            (left + horizontal_pad, inner_bottom, width - horizontal_pad - 0.006, inner_top - inner_bottom)
        )
        DRAW[panel["type"]](ax, panel, frames, context.now)
        ax.tick_params(labelsize=8)
    return figure


def _background(figure: Figure, left: float, bottom: float, width: float, height: float) -> Any:
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch(
        (left, bottom),
        width,
        height,
        boxstyle="round,pad=0,rounding_size=0.003",
        transform=figure.transFigure,
        facecolor="white",
        edgecolor="#d0d0d0",
        linewidth=0.8,
        zorder=-10,
    )


def render(
    dashboard: Mapping[str, Any], context: Context, runner: Runner, path: Path, titles: Mapping[str, str] | None = None
) -> Rendered:
    figure = draw(dashboard, context, runner, titles)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, facecolor=figure.get_facecolor())
        return Rendered(path, len(dashboard["panels"]), len(figure.axes))
    finally:
        plt.close(figure)
