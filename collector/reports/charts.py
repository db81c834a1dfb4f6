"""The report's charts, drawn with matplotlib as SVG (inline in the HTML, vector in the PDF)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

INK = "#1f2a30"
BAR = "#2f7d6d"
MUTED = "#9aa5ab"
_SVG: Any = {"svg.fonttype": "none", "font.family": "DejaVu Sans", "font.size": 8}


def _svg(figure: Figure) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg") :]  # no XML prolog: the SVG goes inside the HTML


def _style(figure: Figure) -> None:
    for axes in figure.axes:
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        axes.tick_params(colors=INK, labelsize=7)


def daily_energy(days: Sequence[Mapping[str, Any]], ylabel: str) -> str | None:
    """Bars of kWh per local day; an incomplete day is hatched."""
    if not days:
        return None
    import matplotlib

    with matplotlib.rc_context(_SVG):
        figure = Figure(figsize=(7.0, 2.4))
        axes = figure.add_subplot()
        labels = [str(day["day"])[5:] for day in days]
        for index, day in enumerate(days):
            complete = bool(day["complete"])
            axes.bar(
                index,
                float(day["kwh"]),
                color=BAR if complete else "white",
                edgecolor=BAR,
                hatch=None if complete else "////",
                width=0.8,
            )
        step = max(1, len(days) // 16)
        axes.set_xticks(range(0, len(days), step), labels[::step], rotation=45, ha="right")
        axes.set_ylabel(ylabel, color=INK)
        axes.grid(axis="y", color="#e3e7ea", linewidth=0.6)
        axes.set_axisbelow(True)
        _style(figure)
        return _svg(figure)


def heat_map(profile: Sequence[Sequence[float | None]], weekdays: Sequence[str], hour_label: str) -> str | None:
    """Weekday x hour of mean demand (kW); a cell without data is left blank."""
    if not any(value is not None for row in profile for value in row):
        return None
    import matplotlib
    import numpy as np

    with matplotlib.rc_context(_SVG):
        figure = Figure(figsize=(7.0, 2.3))
        axes = figure.add_subplot()
        grid = np.array([[np.nan if value is None else value for value in row] for row in profile], dtype=float)
        image = axes.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap="YlOrRd", interpolation="nearest")
        axes.set_yticks(range(7), list(weekdays))
        axes.set_xticks(range(0, 24, 2), [f"{hour:02d}" for hour in range(0, 24, 2)])
        axes.set_xlabel(hour_label, color=INK)
        colorbar = figure.colorbar(image, ax=axes, fraction=0.03, pad=0.02)
        colorbar.set_label("kW", color=INK)
        colorbar.ax.tick_params(labelsize=7)
        _style(figure)
        for side in ("left", "bottom"):
            axes.spines[side].set_visible(False)
        return _svg(figure)


def site_bars(values: Mapping[str, float | None], ylabel: str) -> str | None:
    """One bar per site (the cluster report); a site without a value gets none."""
    known = {site: value for site, value in values.items() if value is not None}
    if not known:
        return None
    import matplotlib

    with matplotlib.rc_context(_SVG):
        figure = Figure(figsize=(3.4, 2.2))
        axes = figure.add_subplot()
        sites = list(values)
        axes.bar(range(len(sites)), [values[site] or 0.0 for site in sites], color=BAR, width=0.6)
        axes.set_xticks(range(len(sites)), sites, rotation=20, ha="right")
        axes.set_ylabel(ylabel, color=INK)
        axes.grid(axis="y", color="#e3e7ea", linewidth=0.6)
        axes.set_axisbelow(True)
        _style(figure)
        return _svg(figure)
