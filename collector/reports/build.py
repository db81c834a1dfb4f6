"""One report, end to end: gather through the KPI code, render HTML, and print it to PDF when asked.

Shared by ``shopfloor report`` and ``GET /api/reports/...``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from collector.kpi.queries import KpiQueries
from collector.kpi.report import KpiReport
from collector.reports.gather import DeadLetterCount, gather_cluster, gather_site
from collector.reports.periods import Period
from collector.reports.render import cluster_html, site_html
from collector.settings import CollectorSettings, SiteSettings
from shopfloor.kpi.sessions import DEFAULT_TIMEZONE


class ReportFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"


@dataclass(frozen=True)
class Rendered:
    content: bytes
    media_type: str
    pages: int | None  # PDF only

    @property
    def suffix(self) -> str:
        return "pdf" if self.media_type == "application/pdf" else "html"


def _output(html: str, form: ReportFormat) -> Rendered:
    if form is ReportFormat.HTML:
        return Rendered(html.encode(), "text/html; charset=utf-8", None)
    from collector.reports.pdf import html_to_pdf  # WeasyPrint takes a second to import: only when printing

    pdf = html_to_pdf(html)
    return Rendered(pdf.content, "application/pdf", pdf.pages)


def cluster_timezone(settings: CollectorSettings) -> str:
    """The cluster's local days: the sites' common zone, else Brussels (the seed programmes')."""
    zones = {facts.timezone for facts in settings.sites.values()}
    return zones.pop() if len(zones) == 1 else DEFAULT_TIMEZONE


def cluster_sites(settings: CollectorSettings, report: KpiReport) -> dict[str, SiteSettings]:
    """Every configured site and every site with data, as the KPI API's comparison lists them."""
    names = sorted(set(settings.sites) | set(report.q.sites()))
    return {name: settings.site(name) for name in names}


def site_report(
    queries: KpiQueries,
    settings: CollectorSettings,
    site: str,
    period: Period,
    form: ReportFormat,
    language: str,
    dead_letters: DeadLetterCount | None,
) -> Rendered:
    report = KpiReport(queries, reuse_segments=True)
    data = gather_site(report, site, settings.site(site), period, dead_letters)
    return _output(site_html(data, language), form)


def cluster_report(
    queries: KpiQueries, settings: CollectorSettings, period: Period, form: ReportFormat, language: str
) -> Rendered:
    report = KpiReport(queries, reuse_segments=True)
    data = gather_cluster(report, cluster_sites(settings, report), period)
    return _output(cluster_html(data, language), form)
