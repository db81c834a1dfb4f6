"""What a report shows: the KPI API's own answers (``KpiReport``) for the period, the previous one and last year's.

Nothing here computes a KPI: a report holds the same dicts the API returns, so a number in the report
is the API's number for the same range (docs/reports.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from collector.kpi.queries import Range
from collector.kpi.report import KpiReport
from collector.reports.periods import Period
from collector.settings import SiteSettings
from shopfloor import __version__
from shopfloor.kpi.rates import Bucket

# (site, start_ms, end_ms) -> dead letters per kind, or None where the store is not at hand
DeadLetterCount = Callable[[str, int, int], dict[str, int]]


@dataclass(frozen=True)
class SiteReportData:
    site: str
    period: Period
    previous_period: Period
    last_year_period: Period | None
    kpis: dict[str, Any]  # GET /api/sites/{site}/kpis for the period
    previous: dict[str, Any]  # its headline (KpiReport.headline: the same items and kWh) for the previous period
    last_year: dict[str, Any] | None  # ... for the same period a year before (months and quarters)
    categories: dict[str, Any]  # GET /api/sites/{site}/kpis/categories
    quality: dict[str, Any]  # GET /api/sites/{site}/kpis/data-quality (with dead_letters, or None)
    generated_ms: int
    version: str = __version__


@dataclass(frozen=True)
class ClusterReportData:
    period: Period
    compare: dict[str, Any]  # GET /api/kpis/compare for the period
    generated_ms: int
    version: str = __version__


def has_data(kpis: Mapping[str, Any]) -> bool:
    """Whether a period's answer holds anything to compare with: items or meter energy."""
    items = kpis["items"]
    return bool(items["finished"] or items.get("checked_in") or kpis["energy"]["kwh"] is not None)


def window(period: Period) -> Range:
    return Range(period.start_ms, period.end_ms)


def gather_site(
    report: KpiReport,
    site: str,
    facts: SiteSettings,
    period: Period,
    dead_letters: DeadLetterCount | None = None,
) -> SiteReportData:
    previous_period = period.previous()
    last_year_period = period.last_year()
    # The periods are independent: InfluxDB answers them side by side.
    with ThreadPoolExecutor(max_workers=3) as pool:
        current = pool.submit(report.kpis, site, facts, window(period), Bucket.DAY)
        previous = pool.submit(report.headline, site, facts, window(previous_period))
        last_year = (
            pool.submit(report.headline, site, facts, window(last_year_period))
            if last_year_period is not None
            else None
        )
        categories = pool.submit(report.categories, site, facts, window(period))
        kpis = current.result()
        # After the period's KPIs: with ``reuse_segments`` it finds the meters already read.
        quality = report.data_quality(site, facts, window(period))
    quality["dead_letters"] = None if dead_letters is None else dead_letters(site, period.start_ms, period.end_ms)
    return SiteReportData(
        site=site,
        period=period,
        previous_period=previous_period,
        last_year_period=last_year_period,
        kpis=kpis,
        previous=previous.result(),
        last_year=last_year.result() if last_year is not None else None,
        categories=categories.result(),
        quality=quality,
        generated_ms=int(time.time() * 1000),
    )


def gather_cluster(report: KpiReport, sites: Mapping[str, SiteSettings], period: Period) -> ClusterReportData:
    return ClusterReportData(period, report.compare(dict(sites), window(period)), int(time.time() * 1000))
