"""Reports over HTTP: the same HTML and PDF as ``shopfloor report`` (docs/reports.md)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from collector.api.deps import ReadAllSites, ReadSite, RuntimeDep, SettingsDep, SiteId
from collector.api.errors import documented, invalid
from collector.influx.client import InfluxError
from collector.kpi.queries import KpiQueries
from collector.reports.build import Rendered, ReportFormat, cluster_report, cluster_timezone, site_report
from collector.reports.labels import LabelError, catalogue
from collector.reports.periods import Period, PeriodError, choose

router = APIRouter(prefix="/api/reports", tags=["Reports"], responses=documented(401, 403))

Month = Annotated[str | None, Query(description="a local calendar month, YYYY-MM")]
Quarter = Annotated[str | None, Query(description="a quarter, YYYY-Qn")]
From = Annotated[str | None, Query(alias="from", description="first day YYYY-MM-DD (with 'to'; both included)")]
To = Annotated[str | None, Query(description="last day YYYY-MM-DD, included")]
Format = Annotated[ReportFormat, Query(description="html (default) or pdf")]
Lang = Annotated[str, Query(description="label language: en, nl, fr")]


def _period(zone: str, month: str | None, quarter: str | None, start: str | None, end: str | None) -> Period:
    try:
        return choose(zone, month_text=month, quarter_text=quarter, start=start, end=end)
    except PeriodError as exc:
        raise invalid(("query", "month"), str(exc)) from None


def _language(lang: str) -> str:
    try:
        catalogue(lang)
    except LabelError as exc:
        raise invalid(("query", "lang"), f"lang: {exc}") from None
    return lang


def _response(rendered: Rendered, name: str) -> Response:
    headers = {"Content-Disposition": f'inline; filename="{name}.{rendered.suffix}"'}
    if rendered.pages is not None:
        headers["X-Report-Pages"] = str(rendered.pages)
    return Response(rendered.content, media_type=rendered.media_type, headers=headers)


REPORT_ANSWERS: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/html": {}, "application/pdf": {}}, "description": "the report"},
    **documented(503),
}


@router.get(
    "/sites/{site}",
    dependencies=[ReadSite],
    summary="A site's report for a month, a quarter or a range, as HTML or PDF",
    response_class=Response,
    responses=REPORT_ANSWERS,
)
async def site(
    runtime: RuntimeDep,
    settings: SettingsDep,
    site: SiteId,
    month: Month = None,
    quarter: Quarter = None,
    start: From = None,
    to: To = None,
    format: Format = ReportFormat.HTML,
    lang: Lang = "en",
) -> Response:
    period = _period(settings.site(site).timezone, month, quarter, start, to)
    language = _language(lang)
    prefix = settings.broker.prefix

    def count(name: str, start_ms: int, end_ms: int) -> dict[str, int]:
        return runtime.dead_letters.count_for_site(prefix, name, start_ms, end_ms)

    queries = KpiQueries(runtime.influx)
    try:
        rendered = await asyncio.to_thread(site_report, queries, settings, site, period, format, language, count)
    except InfluxError as exc:
        raise HTTPException(503, f"InfluxDB could not answer: {exc}") from exc
    return _response(rendered, f"{site}-{period.label}")


@router.get(
    "/cluster",
    dependencies=[ReadAllSites],
    summary="Every site side by side, with the cluster's totals and ranking",
    response_class=Response,
    responses=REPORT_ANSWERS,
)
async def cluster(
    runtime: RuntimeDep,
    settings: SettingsDep,
    month: Month = None,
    quarter: Quarter = None,
    start: From = None,
    to: To = None,
    format: Format = ReportFormat.HTML,
    lang: Lang = "en",
) -> Response:
    period = _period(cluster_timezone(settings), month, quarter, start, to)
    language = _language(lang)
    queries = KpiQueries(runtime.influx)
    try:
        rendered = await asyncio.to_thread(cluster_report, queries, settings, period, format, language)
    except InfluxError as exc:
        raise HTTPException(503, f"InfluxDB could not answer: {exc}") from exc
    return _response(rendered, f"cluster-{period.label}")
