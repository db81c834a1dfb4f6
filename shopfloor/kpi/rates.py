"""Item KPIs: throughput, fix rate, reuse rate, kg diverted, CO2e and repair time (docs/kpis.md).

The input is one ``FinishedItem`` per item with a final outcome. The API builds them from the
stored ``finished`` points (their ``final``/``fixed``/... fields, docs/storage.md), tests and
reports from ``ItemHistory`` with ``finished_item``. A rate whose denominator is zero is None.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from shopfloor.kpi.outcomes import OUTCOME_TERMS, OutcomeFields, outcome_fields
from shopfloor.kpi.sessions import DEFAULT_TIMEZONE, ItemHistory


class Bucket(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"  # ISO weeks, starting Monday 00:00 local time


@dataclass(frozen=True, slots=True)
class FinishedItem:
    site: str
    station: str
    finished_ms: int
    category: str | None
    terms: OutcomeFields
    bench_s: float | None
    barrier: str | None = None  # ORDS repair barrier of an End of life item


def finished_item(site: str, history: ItemHistory) -> FinishedItem | None:
    """The KPI input for an item, or None while it has no final outcome."""
    if history.finished_ms is None:
        return None
    terms = outcome_fields(history.repair_status, history.outcome, history.category, history.weight_kg)
    return FinishedItem(site, history.station, history.finished_ms, history.category, terms, history.bench_s)


def stored_item(
    site: str, station: str, finished_ms: int, category: str | None, fields: Mapping[str, object]
) -> FinishedItem:
    """The KPI input for a stored ``finished`` point, from its derived fields (docs/storage.md)."""
    # One comprehension, not a helper call per field: a year of items is 37,000 of these conversions.
    # A tuple, not ``int | float``, in ``isinstance``: a union checks slower.
    values = [fields.get(name) for name in OUTCOME_TERMS]
    n = [float(value) if isinstance(value, (int, float)) else 0.0 for value in values]
    terms = OutcomeFields(int(n[0]), int(n[1]), int(n[2]), int(n[3]), int(n[4]), int(n[5]), n[6], n[7], n[8], n[9])
    bench = fields.get("bench_s")
    barrier = fields.get("barrier")
    return FinishedItem(
        site,
        station,
        finished_ms,
        category,
        terms,
        float(bench) if isinstance(bench, int | float) else None,
        barrier if isinstance(barrier, str) and barrier else None,
    )


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True, slots=True)
class ThroughputBucket:
    start: str  # ISO 8601 local time with offset, e.g. 2026-03-29T00:00:00+01:00
    items: int


def bucket_start(ts_ms: int, bucket: Bucket, timezone: str = DEFAULT_TIMEZONE) -> datetime:
    local = datetime.fromtimestamp(ts_ms / 1000, ZoneInfo(timezone))
    if bucket is Bucket.HOUR:
        # Truncating in UTC keeps the two 02:00 hours of the autumn DST change apart.
        utc = datetime.fromtimestamp(ts_ms // 3_600_000 * 3600, ZoneInfo("UTC"))
        return utc.astimezone(ZoneInfo(timezone))
    day = local.date() if bucket is Bucket.DAY else local.date() - timedelta(days=local.weekday())
    return datetime.combine(day, datetime.min.time(), ZoneInfo(timezone))


def throughput(
    items: Iterable[FinishedItem], bucket: Bucket, timezone: str = DEFAULT_TIMEZONE
) -> list[ThroughputBucket]:
    """Items with a final outcome per local hour, day or week; empty buckets are left out."""
    counts: dict[datetime, int] = {}
    for item in items:
        start = bucket_start(item.finished_ms, bucket, timezone)
        counts[start] = counts.get(start, 0) + item.terms.final
    return [ThroughputBucket(start.isoformat(), counts[start]) for start in sorted(counts)]


def by_station(items: Iterable[FinishedItem]) -> dict[str, list[FinishedItem]]:
    """Items grouped per station, for per-station throughput and rates."""
    groups: dict[str, list[FinishedItem]] = {}
    for item in items:
        groups.setdefault(item.station, []).append(item)
    return groups


@dataclass(frozen=True, slots=True)
class FixRate:
    fixed: int
    repairable: int
    end_of_life: int
    unknown: int
    fix_rate: float | None  # Fixed / (Fixed + Repairable + End of life)
    unknown_share: float | None  # Unknown / all repair attempts


def fix_rate(items: Iterable[FinishedItem]) -> FixRate:
    fixed = repairable = end_of_life = unknown = 0
    for item in items:
        fixed += item.terms.fixed
        repairable += item.terms.repairable
        end_of_life += item.terms.end_of_life
        unknown += item.terms.unknown
    known = fixed + repairable + end_of_life
    return FixRate(fixed, repairable, end_of_life, unknown, ratio(fixed, known), ratio(unknown, known + unknown))


def fix_rate_by_category(items: Iterable[FinishedItem]) -> dict[str, FixRate]:
    """Fix rate per category (items without a category under "Unknown"), sorted by category."""
    groups: dict[str, list[FinishedItem]] = {}
    for item in items:
        groups.setdefault(item.category or "Unknown", []).append(item)
    return {category: fix_rate(groups[category]) for category in sorted(groups)}


def end_of_life_barriers(items: Iterable[FinishedItem]) -> dict[str, int]:
    """End of life items per ORDS barrier ("Unknown" when none was given), most frequent first."""
    counts: dict[str, int] = {}
    for item in items:
        if item.terms.end_of_life:
            name = item.barrier or "Unknown"
            counts[name] = counts.get(name, 0) + item.terms.end_of_life
    return dict(sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])))


@dataclass(frozen=True, slots=True)
class ReuseRate:
    items_final: int
    items_returned: int
    rate_items: float | None
    kg_final: float
    kg_returned: float
    rate_kg: float | None


def reuse_rate(items: Iterable[FinishedItem]) -> ReuseRate:
    final = returned = 0
    kg_final = kg_returned = 0.0
    for item in items:
        final += item.terms.final
        returned += item.terms.returned_to_use
        kg_final += item.terms.kg
        kg_returned += item.terms.kg_returned
    return ReuseRate(final, returned, ratio(returned, final), kg_final, kg_returned, ratio(kg_returned, kg_final))


@dataclass(frozen=True, slots=True)
class Diversion:
    kg_diverted: float
    co2e_kg: float


def diversion(items: Iterable[FinishedItem]) -> Diversion:
    kg = co2e = 0.0
    for item in items:
        kg += item.terms.kg_diverted
        co2e += item.terms.co2e_kg
    return Diversion(kg, co2e)


@dataclass(frozen=True, slots=True)
class RepairTime:
    category: str
    items: int  # items with a known bench time
    median_bench_s: float


def median_repair_time(items: Iterable[FinishedItem]) -> list[RepairTime]:
    """Median bench time per category, over items whose bench time is known."""
    times: dict[str, list[float]] = {}
    for item in items:
        if item.bench_s is not None:
            times.setdefault(item.category or "Unknown", []).append(item.bench_s)
    return [RepairTime(cat, len(times[cat]), statistics.median(times[cat])) for cat in sorted(times)]


@dataclass(frozen=True, slots=True)
class ItemKpis:
    """Everything the KPI API returns for one site or station over a time range."""

    items_final: int
    bench_hours: float
    items_per_bench_hour: float | None
    fix: FixRate
    reuse: ReuseRate
    diverted: Diversion
    repair_time: list[RepairTime]


def item_kpis(items: Sequence[FinishedItem], bench_hours: float) -> ItemKpis:
    final = sum(item.terms.final for item in items)
    return ItemKpis(
        items_final=final,
        bench_hours=bench_hours,
        items_per_bench_hour=ratio(final, bench_hours),
        fix=fix_rate(items),
        reuse=reuse_rate(items),
        diverted=diversion(items),
        repair_time=median_repair_time(items),
    )
