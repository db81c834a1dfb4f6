"""KPI summaries of one stretch of time (a *piece*: one local day, or the partial edge of a range) and how
pieces add up to the KPIs of a whole range (docs/kpis.md#the-kpi-read-model).

A range's answer is the sum of its pieces: the local days inside it, read from the stored day summaries,
and the partial days at its edges, computed from raw data on the fly. Every term below is additive over
pieces cut at local midnight, so the sum is the answer ``shopfloor.kpi.energy``, ``sessions`` and ``rates``
give for the whole range at once, up to the order of float additions. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shopfloor.kpi.energy import (
    MIN_BILLED_PEAK_KW,
    QUARTER_HOUR_MS,
    DailyEnergy,
    MonthlyPeak,
    Segment,
    bench_energy_by_item,
    kwh_per_day,
    quarter_hour_demand_kw,
    share,
)
from shopfloor.kpi.opening_hours import OpeningHours
from shopfloor.kpi.rates import FinishedItem, item_kpis
from shopfloor.kpi.sessions import Interval

_MS_PER_HOUR = 3_600_000


def clip_segments(segs: Iterable[Segment], start_ms: int, end_ms: int) -> list[Segment]:
    """The parts of ``segs`` inside ``[start_ms, end_ms)``, each with its energy pro rata of time."""
    clipped: list[Segment] = []
    for seg in segs:
        lo, hi = max(seg.start_ms, start_ms), min(seg.end_ms, end_ms)
        if hi <= lo:
            continue
        if lo == seg.start_ms and hi == seg.end_ms:
            clipped.append(seg)
            continue
        kwh = None if seg.kwh is None else seg.kwh * (hi - lo) / (seg.end_ms - seg.start_ms)
        clipped.append(Segment(lo, hi, kwh, seg.gap))
    return clipped


def clip_sessions(
    sessions: Mapping[str, Sequence[Interval]], start_ms: int | None, end_ms: int | None
) -> dict[str, list[Interval]]:
    """Item sessions cut to a piece; ``None`` leaves that side open (a range's own edge)."""
    lo = -(2**62) if start_ms is None else start_ms
    hi = 2**62 if end_ms is None else end_ms
    result: dict[str, list[Interval]] = {}
    for item, spans in sessions.items():
        kept = [
            Interval(max(s.start_ms, lo), min(s.end_ms, hi)) for s in spans if min(s.end_ms, hi) > max(s.start_ms, lo)
        ]
        if kept:
            result[item] = kept
    return result


@dataclass(slots=True)
class MeterPiece:
    """One meter over one piece: the terms of kWh per day, base and open load, peaks and the demand profile."""

    has_data: bool = False  # any segment: without one, the range's kWh is null
    day: str | None = None  # the local day the piece lies in (None without data)
    kwh: float = 0.0  # every segment's energy, a counter gap's spread evenly (kwh_per_day)
    covered_ms: int = 0
    gap: bool = False
    closed_kwh: float = 0.0
    closed_ms: int = 0
    open_kwh: float = 0.0
    open_ms: int = 0
    peak_kw: float | None = None  # the piece's highest fully covered quarter hour (the first, on a tie)
    peak_slot_ms: int | None = None
    profile: dict[str, list[float]] = field(default_factory=dict)  # "weekday:hour" -> [sum kW, quarters]


def meter_kwh_piece(segs: Sequence[Segment], timezone: str) -> MeterPiece:
    """``meter_piece``'s energy terms only (data or not, the day, kWh, covered time, gap), the others left at
    their defaults: what the cross-site comparison adds up, without the peaks, profile and load shares."""
    piece = MeterPiece()
    if not segs:
        return piece
    piece.has_data = True
    days = kwh_per_day(segs, timezone)
    # Within one local day there is one entry; its covered time is the segments' with energy.
    piece.day = days[0].day
    piece.kwh = sum(day.kwh for day in days)
    piece.covered_ms = sum(seg.end_ms - seg.start_ms for seg in segs if seg.kwh is not None)
    piece.gap = any(seg.gap for seg in segs)
    return piece


def joined_kwh_piece(parts: Sequence[MeterPiece]) -> MeterPiece:
    """Consecutive kWh-only pieces of one meter (``meter_kwh_piece``) within one local day, as the piece of
    their whole stretch: its segments cut where the parts meet give the same terms, to float rounding (the
    additions' order differs), since a segment's energy is cut pro rata of time."""
    joined = MeterPiece()
    for part in parts:
        if not part.has_data:
            continue
        if not joined.has_data:
            joined.has_data, joined.day = True, part.day
        joined.kwh += part.kwh
        joined.covered_ms += part.covered_ms
        joined.gap = joined.gap or part.gap
    return joined


@dataclass(frozen=True, slots=True)
class Served:
    """What stored quarter hours give of a piece ``[start, until_ms)``: one meter's kWh terms there."""

    until_ms: int
    meter: MeterPiece


def served(quarters: Mapping[int, MeterPiece], start_ms: int, end_ms: int) -> Served | None:
    """The stored quarter hours (by start) that follow each other from ``start_ms`` up to at most ``end_ms``,
    joined; None when there is none at ``start_ms``."""
    at = start_ms
    parts: list[MeterPiece] = []
    while at + QUARTER_HOUR_MS <= end_ms and at in quarters:
        parts.append(quarters[at])
        at += QUARTER_HOUR_MS
    if not parts:
        return None
    return Served(at, joined_kwh_piece(parts))


def meter_piece(segs: Sequence[Segment], hours: OpeningHours | None, timezone: str) -> MeterPiece:
    """``segs`` already clipped to a piece that lies within one local day."""
    piece = meter_kwh_piece(segs, timezone)
    if not segs:
        return piece
    if hours is not None:
        span_start, span_end = segs[0].start_ms, segs[-1].end_ms
        for spans, name in (
            (hours.closed_intervals(span_start, span_end), "closed"),
            (hours.open_intervals(span_start, span_end), "open"),
        ):
            kwh, covered = 0.0, 0
            ends = [seg.end_ms for seg in segs]
            for span in spans:
                part = share(segs, span, ends)
                kwh += part.kwh
                covered += part.covered_ms
            setattr(piece, f"{name}_kwh", kwh)
            setattr(piece, f"{name}_ms", covered)
    zone = ZoneInfo(timezone)
    for slot, kw in quarter_hour_demand_kw(segs).items():
        if piece.peak_kw is None or kw > piece.peak_kw:
            piece.peak_kw, piece.peak_slot_ms = kw, slot
        local = datetime.fromtimestamp(slot / 1000, zone)
        cell = piece.profile.setdefault(f"{local.weekday()}:{local.hour}", [0.0, 0.0])
        cell[0] += kw
        cell[1] += 1
    return piece


@dataclass(slots=True)
class ItemSums:
    """The additive item terms of the cross-site comparison (``SiteTotals``)."""

    items_final: int = 0
    items_returned: int = 0
    kg_final: float = 0.0
    kg_returned: float = 0.0
    kg_diverted: float = 0.0
    co2e_kg: float = 0.0

    def add(self, other: ItemSums) -> None:
        for name in ("items_final", "items_returned", "kg_final", "kg_returned", "kg_diverted", "co2e_kg"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def item_sums(items: Sequence[FinishedItem]) -> ItemSums:
    kpis = item_kpis(items, 0.0)
    return ItemSums(
        kpis.items_final,
        kpis.reuse.items_returned,
        kpis.reuse.kg_final,
        kpis.reuse.kg_returned,
        kpis.diverted.kg_diverted,
        kpis.diverted.co2e_kg,
    )


@dataclass(slots=True)
class SitePiece:
    """Everything one piece of one site contributes to the site's, its stations' and the comparison's KPIs."""

    start_ms: int
    end_ms: int
    meters: dict[str, MeterPiece] = field(default_factory=dict)  # device -> its piece
    staffed_s: dict[str, float] = field(default_factory=dict)  # station -> staffed seconds in the piece
    item_kwh: dict[str, dict[str, float | None]] = field(default_factory=dict)  # station -> item -> kWh share
    items: ItemSums = field(default_factory=ItemSums)
    station_items: dict[str, ItemSums] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> SitePiece:
        return SitePiece(
            start_ms=int(data["start_ms"]),
            end_ms=int(data["end_ms"]),
            meters={name: MeterPiece(**value) for name, value in data["meters"].items()},
            staffed_s={name: float(value) for name, value in data["staffed_s"].items()},
            item_kwh={name: dict(value) for name, value in data["item_kwh"].items()},
            items=ItemSums(**data["items"]),
            station_items={name: ItemSums(**value) for name, value in data["station_items"].items()},
        )


def item_energy_piece(
    bench_segs: Sequence[Segment], sessions: Mapping[str, Sequence[Interval]]
) -> dict[str, float | None]:
    """Each item's share of the bench meter's energy in the piece (``sessions`` clipped to it)."""
    return bench_energy_by_item(bench_segs, sessions) if sessions else {}


# Adding pieces up: the whole range's figures.


@dataclass(frozen=True, slots=True)
class EnergyTotals:
    kwh: float | None
    days: list[DailyEnergy]
    closed: tuple[float, int]  # kWh, ms
    open: tuple[float, int]
    peaks: list[MonthlyPeak]
    profile: list[list[float | None]]


def energy_totals(pieces: Sequence[MeterPiece], timezone: str) -> EnergyTotals:
    """The pieces of one meter, oldest first, as ``kwh_per_day``, base/open load terms, ``monthly_peaks`` and
    ``weekly_demand_profile`` give them for the whole range."""
    zone = ZoneInfo(timezone)
    kwh = 0.0
    has_data = False
    days: dict[str, list[float]] = {}
    closed = [0.0, 0]
    opened = [0.0, 0]
    best: dict[str, tuple[float, int]] = {}
    sums = [[0.0] * 24 for _ in range(7)]
    counts = [[0.0] * 24 for _ in range(7)]
    cells: dict[str, tuple[int, int]] = {}
    for piece in pieces:
        if not piece.has_data or piece.day is None:
            continue
        has_data = True
        kwh += piece.kwh
        entry = days.setdefault(piece.day, [0.0, 0.0, 1.0])
        entry[0] += piece.kwh
        entry[1] += piece.covered_ms
        if piece.gap:
            entry[2] = 0.0
        closed[0] += piece.closed_kwh
        closed[1] += piece.closed_ms
        opened[0] += piece.open_kwh
        opened[1] += piece.open_ms
        if piece.peak_kw is not None and piece.peak_slot_ms is not None:
            month = datetime.fromtimestamp(piece.peak_slot_ms / 1000, zone).strftime("%Y-%m")
            if month not in best or piece.peak_kw > best[month][0]:
                best[month] = (piece.peak_kw, piece.peak_slot_ms)
        for cell, (total, n) in piece.profile.items():
            at = cells.get(cell)
            if at is None:  # parsed once a call: a year of pieces holds the same 168 keys 365 times
                weekday, hour = (int(part) for part in cell.split(":"))
                at = cells[cell] = (weekday, hour)
            sums[at[0]][at[1]] += total
            counts[at[0]][at[1]] += n
    daily = []
    for day in sorted(days):
        total, covered, complete = days[day]
        first = datetime.combine(datetime.fromisoformat(day).date(), datetime.min.time(), zone)
        length_s = (first + timedelta(days=1)).timestamp() - first.timestamp()
        daily.append(DailyEnergy(day, total, bool(complete) and covered >= length_s * 1000))
    peaks = [
        MonthlyPeak(
            month,
            best[month][0],
            datetime.fromtimestamp(best[month][1] / 1000, zone).isoformat(),
            max(best[month][0], MIN_BILLED_PEAK_KW),
        )
        for month in sorted(best)
    ]
    profile: list[list[float | None]] = [
        [sums[d][h] / counts[d][h] if counts[d][h] else None for h in range(24)] for d in range(7)
    ]
    return EnergyTotals(
        kwh if has_data else None, daily, (closed[0], int(closed[1])), (opened[0], int(opened[1])), peaks, profile
    )


def mean_watts(kwh_ms: tuple[float, int]) -> tuple[float | None, float]:
    """Mean power over the measured time, and those hours (``energy._mean_power``'s rule)."""
    kwh, covered = kwh_ms
    hours = covered / _MS_PER_HOUR
    return (kwh * 1000 / hours if covered else None), hours


def item_kwh_totals(pieces: Iterable[Mapping[str, float | None]]) -> dict[str, float | None]:
    """An item's kWh over the range: the sum of its shares; None as soon as one share is unknown."""
    totals: dict[str, float | None] = {}
    for shares in pieces:
        for item, kwh in shares.items():
            if item in totals:
                so_far = totals[item]
                totals[item] = None if so_far is None or kwh is None else so_far + kwh
            else:
                totals[item] = kwh
    return totals
