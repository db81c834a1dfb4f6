"""Cross-site comparison: each site's totals normalised per item and per staffed bench-hour.

Sites differ in size, so coordinators compare ratios, never raw totals (docs/kpis.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shopfloor.kpi.rates import ratio


@dataclass(frozen=True, slots=True)
class SiteTotals:
    """One site's sums over the compared range, as the API reads them from storage."""

    site: str
    items_final: int
    items_returned: int
    kg_final: float
    kg_returned: float
    kg_diverted: float
    co2e_kg: float
    bench_hours: float
    kwh: float | None  # site energy over the range; None without a meter
    last_data_ms: int | None  # newest meter reading or event of the site


@dataclass(frozen=True, slots=True)
class SiteComparison:
    site: str
    items_final: int
    items_per_bench_hour: float | None
    kwh_per_item: float | None
    kwh_per_bench_hour: float | None
    reuse_rate_items: float | None
    reuse_rate_kg: float | None
    kg_diverted: float
    kg_diverted_per_item: float | None
    co2e_kg_per_item: float | None
    data_age_s: float | None  # how old the newest data is; a stale site's ratios are suspect
    bench_hours: float  # staffed bench-hours, the denominator of the per-bench-hour ratios


def compare_sites(sites: Iterable[SiteTotals], now_ms: int) -> list[SiteComparison]:
    """One row per site, sorted by site id."""
    rows: list[SiteComparison] = []
    for s in sorted(sites, key=lambda site: site.site):
        rows.append(
            SiteComparison(
                site=s.site,
                items_final=s.items_final,
                items_per_bench_hour=ratio(s.items_final, s.bench_hours),
                kwh_per_item=None if s.kwh is None else ratio(s.kwh, s.items_final),
                kwh_per_bench_hour=None if s.kwh is None else ratio(s.kwh, s.bench_hours),
                reuse_rate_items=ratio(s.items_returned, s.items_final),
                reuse_rate_kg=ratio(s.kg_returned, s.kg_final),
                kg_diverted=s.kg_diverted,
                kg_diverted_per_item=ratio(s.kg_diverted, s.items_final),
                co2e_kg_per_item=ratio(s.co2e_kg, s.items_final),
                data_age_s=None if s.last_data_ms is None else max(0, now_ms - s.last_data_ms) / 1000,
                bench_hours=s.bench_hours,
            )
        )
    return rows
