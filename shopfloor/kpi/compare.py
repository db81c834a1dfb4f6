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
    kwh: float | None  # the main meter's energy in the range; None without meter data
    co2e_kg: float  # CO2e avoided, the numerator of co2e_kg_per_item


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
                kwh=s.kwh,
                co2e_kg=s.co2e_kg,
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class ClusterTotals:
    sites: int
    items_final: int
    items_returned: int
    kg_diverted: float
    co2e_kg: float
    bench_hours: float
    kwh: float | None  # None when no site had a meter
    items_per_bench_hour: float | None
    kwh_per_item: float | None
    reuse_rate_items: float | None
    reuse_rate_kg: float | None


def cluster_totals(sites: Iterable[SiteTotals]) -> ClusterTotals:
    """The cluster's sums, and its ratios from those sums (never a mean of the sites' ratios)."""
    rows = list(sites)
    final = sum(s.items_final for s in rows)
    bench_hours = sum(s.bench_hours for s in rows)
    metered = [s.kwh for s in rows if s.kwh is not None]
    kwh = sum(metered) if metered else None
    return ClusterTotals(
        sites=len(rows),
        items_final=final,
        items_returned=sum(s.items_returned for s in rows),
        kg_diverted=sum(s.kg_diverted for s in rows),
        co2e_kg=sum(s.co2e_kg for s in rows),
        bench_hours=bench_hours,
        kwh=kwh,
        items_per_bench_hour=ratio(final, bench_hours),
        kwh_per_item=None if kwh is None else ratio(kwh, final),
        reuse_rate_items=ratio(sum(s.items_returned for s in rows), final),
        reuse_rate_kg=ratio(sum(s.kg_returned for s in rows), sum(s.kg_final for s in rows)),
    )


# A site with fewer finished items, or no staffed bench time, or no meter in the range has too little
# data: its ratios are noise, so the ranking marks it instead of placing it (docs/kpis.md).
MIN_RANKED_ITEMS = 10
# column -> True when higher is better
RANKED_COLUMNS: dict[str, bool] = {
    "items_per_bench_hour": True,
    "kwh_per_item": False,
    "reuse_rate_items": True,
    "co2e_kg_per_item": True,
}


@dataclass(frozen=True, slots=True)
class SiteRank:
    site: str
    ranked: bool
    reason: str | None  # why not ranked
    ranks: dict[str, int]  # column -> 1 for the best; empty when not ranked
    reason_code: str | None = None  # few_items, no_bench_time or no_meter_data: for a translated label


def rank_sites(rows: Iterable[SiteComparison], bench_hours: dict[str, float]) -> list[SiteRank]:
    """Rank the sites with enough data on each of ``RANKED_COLUMNS`` (ties share a rank); the others
    are listed with the reason. Ordered by rank on items per bench-hour, then unranked sites by id."""
    eligible: list[SiteComparison] = []
    unranked: list[SiteRank] = []
    for row in rows:
        if row.items_final < MIN_RANKED_ITEMS:
            code = "few_items"
            reason = f"too little data: {row.items_final} items finished (at least {MIN_RANKED_ITEMS} are ranked)"
        elif not bench_hours.get(row.site):
            code, reason = "no_bench_time", "too little data: no staffed bench time"
        elif row.kwh_per_item is None:
            code, reason = "no_meter_data", "too little data: no meter data"
        else:
            eligible.append(row)
            continue
        unranked.append(SiteRank(row.site, False, reason, {}, code))
    ranks: dict[str, dict[str, int]] = {row.site: {} for row in eligible}
    for column, higher_is_better in RANKED_COLUMNS.items():
        values = [(getattr(row, column), row.site) for row in eligible if getattr(row, column) is not None]
        ordered = sorted({value for value, _ in values}, reverse=higher_is_better)
        for value, site in values:
            ranks[site][column] = 1 + sum(1 for other, _ in values if other in ordered[: ordered.index(value)])
    first = next(iter(RANKED_COLUMNS))
    placed = sorted(eligible, key=lambda row: (ranks[row.site].get(first, len(eligible) + 1), row.site))
    return [SiteRank(row.site, True, None, ranks[row.site]) for row in placed] + sorted(
        unranked, key=lambda rank: rank.site
    )
