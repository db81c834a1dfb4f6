"""Reports as one self-contained HTML file (Jinja2 templates in ``templates/``, charts inline).

Each figure is a ``<td class="num" data-key="<source>:<path>" data-scale="...">`` cell: ``source`` names the
KPI API answer it comes from (``current.kpis``, ``previous.kpis``, ``current.categories``, ...), ``path`` the
field in it, and the shown number is the field divided by ``data-scale`` (0.01 for a percentage). So anyone,
and the tests, can trace a printed number back to the API.
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from collector.reports import charts
from collector.reports.gather import ClusterReportData, SiteReportData, has_data
from collector.reports.labels import catalogue
from collector.reports.periods import Period
from shopfloor.kpi.compare import MIN_RANKED_ITEMS

MISSING = "—"


def segment(name: str) -> str:
    """One path segment for a name from the data (``Aircon/dehumidifier``): percent-encoded, '/' included."""
    return urllib.parse.quote(name, safe="")


def pick(answer: Any, path: str) -> Any:
    """``items/fix_rate`` or ``meters/0/uptime`` in an API answer (segments percent-encoded); None where absent."""
    node = answer
    for quoted in path.split("/"):
        part = urllib.parse.unquote(quoted)
        if isinstance(node, list):
            node = node[int(part)] if part.isdigit() and int(part) < len(node) else None
        elif isinstance(node, Mapping):
            node = node.get(part)
        else:
            return None
    return node


def format_number(value: float | None, digits: int, labels: Mapping[str, Any], scale: float = 1.0) -> str:
    if value is None:
        return MISSING
    text = f"{value / scale:,.{digits}f}"
    return text.replace(",", "\0").replace(".", labels["decimal"]).replace("\0", labels["thousands"])


def _image(svg: str | None) -> Markup | None:
    if svg is None:
        return None
    encoded = base64.b64encode(svg.encode()).decode()
    return Markup(f'<img class="chart" alt="" src="data:image/svg+xml;base64,{encoded}">')


def css_string(text: str) -> Markup:
    """A CSS string literal (the page footer's ``content``), whatever the label holds."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("<", "\\3c ")
    return Markup(f'"{escaped}"')


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("collector.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["css_string"] = css_string
    environment.filters["segment"] = segment
    return environment


class _Cells:
    """The template's ``cell()``: a figure from one of the answers, with its trace attributes."""

    def __init__(self, sources: Mapping[str, Any], labels: Mapping[str, Any]) -> None:
        self.sources = sources
        self.labels = labels

    def __call__(self, key: str, digits: int = 1, scale: float = 1.0, unit: str = "") -> Markup:
        source, path = key.split(":", 1)
        value = pick(self.sources[source], path)
        if value is not None and not isinstance(value, int | float):
            raise TypeError(f"{key} is {value!r}, not a number")
        text = format_number(value, digits, self.labels, scale)
        if value is not None and unit:
            text += f"\u202f{unit}"
        trace = f'data-key="{escape(key)}" data-scale="{scale:g}" data-digits="{digits}"'
        return Markup(f'<td class="num" {trace}>{escape(text)}</td>')


def _local(ms: int, timezone: str) -> str:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _period_text(period: Period, labels: Mapping[str, Any]) -> str:
    return f"{labels['period_' + period.kind]} {period.label}"


def _footer(period: Period, generated_ms: int, version: str, labels: Mapping[str, Any]) -> dict[str, str]:
    return {
        "generated": f"{labels['generated']} {_local(generated_ms, period.timezone)}",
        "software": f"{labels['software']} {version}",
        "range": f"{labels['data_range']} {period.first_day.isoformat()} – {period.last_day.isoformat()} "
        f"({period.timezone})",
    }


def slot_text(slot_start: str, labels: Mapping[str, Any]) -> str:
    """A peak's quarter hour, in the site's local time: ``Tue 2026-11-10 11:00–11:15``."""
    start = datetime.fromisoformat(slot_start)
    end_minute = (start.minute + 15) % 60
    end_hour = start.hour + (1 if end_minute == 0 else 0)
    weekday = labels["weekdays"][start.weekday()]
    return f"{weekday} {start:%Y-%m-%d %H:%M}–{end_hour % 24:02d}:{end_minute:02d}"


def site_html(data: SiteReportData, language: str = "en") -> str:
    labels = catalogue(language)
    sources: dict[str, Any] = {
        "current.kpis": data.kpis,
        "previous.kpis": data.previous,
        "last_year.kpis": data.last_year,
        "current.categories": data.categories,
        "current.quality": data.quality,
    }
    columns = [("current.kpis", labels["this_period"], data.period, True)]
    columns.append(("previous.kpis", labels["previous_period"], data.previous_period, has_data(data.previous)))
    if data.last_year is not None and data.last_year_period is not None:
        columns.append(("last_year.kpis", labels["last_year"], data.last_year_period, has_data(data.last_year)))
    energy = data.kpis["energy"]
    repair_time = {row["category"]: index for index, row in enumerate(data.categories["repair_time"])}
    template = _environment().get_template("site.html.j2")
    return template.render(
        lang=language,
        l=labels,
        data=data,
        title=f"{labels['site_report']} {data.site} · {_period_text(data.period, labels)}",
        footer=_footer(data.period, data.generated_ms, data.version, labels),
        cell=_Cells(sources, labels),
        columns=columns,
        energy=energy,
        repair_time=repair_time,
        slot_text=lambda slot: slot_text(slot, labels),
        daily_chart=_image(charts.daily_energy(energy["days"], "kWh")),
        heat_chart=_image(charts.heat_map(energy["demand_profile"], labels["weekdays"], labels["hour"])),
    )


def cluster_html(data: ClusterReportData, language: str = "en") -> str:
    labels = catalogue(language)
    rows = data.compare["sites"]
    template = _environment().get_template("cluster.html.j2")
    return template.render(
        lang=language,
        l=labels,
        data=data,
        title=f"{labels['cluster_report']} · {_period_text(data.period, labels)}",
        footer=_footer(data.period, data.generated_ms, data.version, labels),
        cell=_Cells({"current.compare": data.compare}, labels),
        sites=rows,
        ranking=data.compare["ranking"],
        site_index={row["site"]: index for index, row in enumerate(rows)},
        min_ranked_items=MIN_RANKED_ITEMS,
        per_bench_hour_chart=_image(
            charts.site_bars({row["site"]: row["items_per_bench_hour"] for row in rows}, labels["items_per_bench_hour"])
        ),
        kwh_per_item_chart=_image(
            charts.site_bars({row["site"]: row["kwh_per_item"] for row in rows}, labels["kwh_per_item"])
        ),
    )
