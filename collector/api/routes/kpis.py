"""The KPI API: per site, per station, per category, and the cross-site comparison (docs/kpis.md)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam

from collector.api.deps import RuntimeDep
from collector.kpi_queries import KpiQueries, KpiQueryError, Range
from collector.kpi_report import KpiReport
from collector.settings import CollectorSettings, SiteSettings
from shopfloor.contract.topics import ID_PATTERN
from shopfloor.kpi.rates import Bucket

router = APIRouter(prefix="/api", tags=["KPIs"])

DAY_MS = 86_400_000
SiteId = Annotated[str, PathParam(pattern=ID_PATTERN, description="site id")]
StationId = Annotated[str, PathParam(pattern=ID_PATTERN, description="station (bench) id")]
From = Annotated[str | None, Query(alias="from", description="start: RFC 3339 (2026-03-01T00:00:00+01:00) or Unix ms")]
To = Annotated[str | None, Query(description="end (exclusive): RFC 3339 or Unix ms; default now")]
Days = Annotated[int, Query(ge=1, le=3660, description="without 'from': the last N days")]
BucketQuery = Annotated[Bucket, Query(description="throughput buckets: hour, day or week (local time)")]


def parse_time(text: str, name: str) -> int:
    """RFC 3339 or Unix milliseconds -> Unix ms; a 422 naming the parameter otherwise."""
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        return int(stripped)
    try:
        when = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(422, f"{name}={text!r} is not RFC 3339 (2026-03-01T00:00:00Z) or Unix ms") from None
    if when.tzinfo is None:
        raise HTTPException(422, f"{name}={text!r} needs a UTC offset, e.g. 2026-03-01T00:00:00+01:00")
    return int(when.timestamp() * 1000)


def time_range(start: str | None, end: str | None, days: int) -> Range:
    end_ms = parse_time(end, "to") if end else int(time.time() * 1000)
    start_ms = parse_time(start, "from") if start else end_ms - days * DAY_MS
    if start_ms >= end_ms:
        raise HTTPException(422, "'from' must be before 'to'")
    return Range(start_ms, end_ms)


def _report(runtime: Any) -> KpiReport:
    return KpiReport(KpiQueries(runtime.writer))


def _settings(request: Request) -> CollectorSettings:
    settings: CollectorSettings = request.app.state.settings
    return settings


def _facts(request: Request, site: str, tz: str | None) -> SiteSettings:
    facts = _settings(request).site(site)
    if tz is None:
        return facts
    try:
        return facts.model_copy(update={"timezone": SiteSettings(timezone=tz).timezone})
    except ValueError as exc:
        raise HTTPException(422, f"tz={tz!r}: unknown time zone, use an IANA name like Europe/Brussels") from exc


async def _answer(call: Any, *args: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = await asyncio.to_thread(call, *args)
    except KpiQueryError as exc:
        raise HTTPException(503, f"InfluxDB could not answer: {exc}") from exc
    return result


@router.get("/sites/{site}/kpis", summary="Items, throughput and energy KPIs of a site over a time range")
async def site_kpis(
    request: Request,
    runtime: RuntimeDep,
    site: SiteId,
    start: From = None,
    to: To = None,
    days: Days = 7,
    bucket: BucketQuery = Bucket.DAY,
    tz: str | None = None,
) -> dict[str, Any]:
    return await _answer(_report(runtime).kpis, site, _facts(request, site, tz), time_range(start, to, days), bucket)


@router.get("/sites/{site}/stations/{station}/kpis", summary="The same KPIs for one station (bench)")
async def station_kpis(
    request: Request,
    runtime: RuntimeDep,
    site: SiteId,
    station: StationId,
    start: From = None,
    to: To = None,
    days: Days = 7,
    bucket: BucketQuery = Bucket.DAY,
    tz: str | None = None,
) -> dict[str, Any]:
    return await _answer(
        _report(runtime).kpis, site, _facts(request, site, tz), time_range(start, to, days), bucket, station
    )


@router.get("/sites/{site}/kpis/categories", summary="Fix rate and median repair time per category")
async def category_kpis(
    request: Request, runtime: RuntimeDep, site: SiteId, start: From = None, to: To = None, days: Days = 7
) -> dict[str, Any]:
    return await _answer(_report(runtime).categories, site, _facts(request, site, None), time_range(start, to, days))


@router.get("/kpis/compare", summary="Every site side by side, normalised per item and per bench-hour")
async def compare(
    request: Request, runtime: RuntimeDep, start: From = None, to: To = None, days: Days = 7
) -> dict[str, Any]:
    settings = _settings(request)
    report = _report(runtime)
    window = time_range(start, to, days)

    def run() -> dict[str, Any]:
        names = sorted(set(settings.sites) | set(report.q.sites()))
        return report.compare({name: settings.site(name) for name in names}, window)

    return await _answer(run)


@router.get("/sites/{site}/kpis/data-quality", summary="Meters' uptime and gaps, dead letters, items without outcome")
async def data_quality(
    request: Request, runtime: RuntimeDep, site: SiteId, start: From = None, to: To = None, days: Days = 7
) -> dict[str, Any]:
    window = time_range(start, to, days)
    answer = await _answer(_report(runtime).data_quality, site, _facts(request, site, None), window)
    prefix = _settings(request).broker.prefix
    answer["dead_letters"] = runtime.dead_letters.count_for_site(prefix, site, window.start_ms, window.end_ms)
    return answer
