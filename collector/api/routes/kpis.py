"""The KPI API: per site, per station, per category, and the cross-site comparison (docs/kpis.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException

from collector.api.deps import (
    BucketQuery,
    ReadAllSites,
    ReadSite,
    ReadStation,
    RuntimeDep,
    SettingsDep,
    SiteId,
    StationId,
    TimeWindow,
    TimeZoneQuery,
)
from collector.api.errors import documented, invalid
from collector.influx.client import InfluxError
from collector.kpi.models import CategoryKpis, Comparison, DataQuality, SiteKpis, StationKpis
from collector.kpi.queries import KpiQueries
from collector.kpi.report import KpiReport
from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings, SiteSettings
from shopfloor.kpi.rates import Bucket

router = APIRouter(prefix="/api", tags=["KPIs"], responses=documented(401, 403))


def _report(runtime: CollectorRuntime) -> KpiReport:
    return KpiReport(KpiQueries(runtime.influx))


def _facts(settings: CollectorSettings, site: str, tz: str | None) -> SiteSettings:
    facts = settings.site(site)
    if tz is None:
        return facts
    try:
        return facts.model_copy(update={"timezone": SiteSettings(timezone=tz).timezone})
    except ValueError as exc:
        raise invalid(
            ("query", "tz"), f"tz={tz[:40]!r}: unknown time zone, use an IANA name like Europe/Brussels"
        ) from exc


def _check_known(report: KpiReport, settings: CollectorSettings, site: str, station: str | None = None) -> None:
    """A typo must not look like an empty workshop: 404 naming what exists (configured, or with data)."""
    sites = sorted(set(settings.sites) | set(report.q.sites()))
    if site not in sites:
        raise HTTPException(404, f"unknown site {site!r}; known sites: {', '.join(sites) or 'none yet'}")
    if station is None:
        return
    stations = sorted(set(settings.site(site).bench_meters) | set(report.q.stations(site)))
    if station not in stations:
        known = ", ".join(stations) or "none yet"
        raise HTTPException(404, f"unknown station {station!r} at {site}; known stations: {known}")


async def _about_site(
    runtime: CollectorRuntime,
    settings: CollectorSettings,
    site: str,
    answer: Callable[[KpiReport], dict[str, Any]],
    station: str | None = None,
) -> dict[str, Any]:
    """``answer`` for a known site (and station), in a worker thread: 404 for an unknown one, 503 without InfluxDB."""
    report = _report(runtime)

    def run() -> dict[str, Any]:
        _check_known(report, settings, site, station)
        return answer(report)

    return await _answer(run)


async def _answer(call: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(call, *args)
    except InfluxError as exc:
        raise HTTPException(503, f"InfluxDB could not answer: {exc}") from exc


@router.get(
    "/sites/{site}/kpis",
    dependencies=[ReadSite],
    response_model=SiteKpis,
    response_model_by_alias=True,
    responses=documented(404, 503),
    summary="Items, throughput and energy KPIs of a site over a time range",
)
async def site_kpis(
    runtime: RuntimeDep,
    settings: SettingsDep,
    site: SiteId,
    window: TimeWindow,
    bucket: BucketQuery = Bucket.DAY,
    tz: TimeZoneQuery = None,
) -> dict[str, Any]:
    return await _about_site(
        runtime, settings, site, lambda report: report.kpis(site, _facts(settings, site, tz), window, bucket)
    )


@router.get(
    "/sites/{site}/stations/{station}/kpis",
    dependencies=[ReadStation],
    response_model=StationKpis,
    response_model_by_alias=True,
    responses=documented(404, 503),
    summary="The same KPIs for one station (bench)",
)
async def station_kpis(
    runtime: RuntimeDep,
    settings: SettingsDep,
    site: SiteId,
    station: StationId,
    window: TimeWindow,
    bucket: BucketQuery = Bucket.DAY,
    tz: TimeZoneQuery = None,
) -> dict[str, Any]:
    facts = _facts(settings, site, tz)
    return await _about_site(
        runtime, settings, site, lambda report: report.kpis(site, facts, window, bucket, station), station
    )


@router.get(
    "/sites/{site}/kpis/categories",
    dependencies=[ReadSite],
    response_model=CategoryKpis,
    response_model_by_alias=True,
    responses=documented(404, 503),
    summary="Fix rate and median repair time per category",
)
async def category_kpis(runtime: RuntimeDep, settings: SettingsDep, site: SiteId, window: TimeWindow) -> dict[str, Any]:
    return await _about_site(
        runtime, settings, site, lambda report: report.categories(site, _facts(settings, site, None), window)
    )


@router.get(
    "/kpis/compare",
    dependencies=[ReadAllSites],
    response_model=Comparison,
    response_model_by_alias=True,
    responses=documented(503),
    summary="Every site side by side, normalised per item and per bench-hour",
)
async def compare(runtime: RuntimeDep, settings: SettingsDep, window: TimeWindow) -> dict[str, Any]:
    report = _report(runtime)

    def run() -> dict[str, Any]:
        names = sorted(set(settings.sites) | set(report.q.sites()))
        return report.compare({name: settings.site(name) for name in names}, window)

    return await _answer(run)


@router.get(
    "/sites/{site}/kpis/data-quality",
    dependencies=[ReadSite],
    response_model=DataQuality,
    response_model_by_alias=True,
    responses=documented(404, 503),
    summary="Meters' uptime and gaps, dead letters, items without outcome",
)
async def data_quality(runtime: RuntimeDep, settings: SettingsDep, site: SiteId, window: TimeWindow) -> dict[str, Any]:
    def quality(report: KpiReport) -> dict[str, Any]:
        answer = report.data_quality(site, _facts(settings, site, None), window)
        prefix = settings.broker.prefix
        answer["dead_letters"] = runtime.dead_letters.count_for_site(prefix, site, window.start_ms, window.end_ms)
        return answer

    return await _about_site(runtime, settings, site, quality)
