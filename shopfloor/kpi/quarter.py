"""The running quarter hour: its average so far and a forecast of its end average (docs/peak-guard.md).

The quarter hours, the energy between samples (counter deltas, resets, gaps) and the month's
peak are those of :mod:`shopfloor.kpi.energy`, the definitions behind the KPI API's ``peak_15min``,
so the guard at the edge and the bill-like figure on the dashboard agree.

Forecast: the energy so far plus the power now times the time left, over the quarter's 0.25 h.
It is the usual one (node-red-contrib-effekttariff, the Home Assistant capaciteitstarief cards)
because it reacts at once to a load switching on or off, where the average so far lags by up
to 15 minutes; and it is exact at the quarter's end, when no time is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from shopfloor.kpi.energy import (
    MIN_BILLED_PEAK_KW,
    QUARTER_HOUR_MS,
    MeterSample,
    Segment,
    quarter_hour_demand_kw,
    segments,
)
from shopfloor.kpi.sessions import DEFAULT_TIMEZONE

_MS_PER_HOUR = 3_600_000
_QUARTER_H = QUARTER_HOUR_MS / _MS_PER_HOUR


def quarter_start_ms(ts_ms: int) -> int:
    """The clock-aligned quarter hour holding ``ts_ms`` (UTC-aligned: the local one in all of Europe)."""
    return ts_ms - ts_ms % QUARTER_HOUR_MS


def local_month(ts_ms: int, timezone: str = DEFAULT_TIMEZONE) -> str:
    """The local calendar month (YYYY-MM) a quarter hour starting at ``ts_ms`` is billed in."""
    return datetime.fromtimestamp(ts_ms / 1000, ZoneInfo(timezone)).strftime("%Y-%m")


@dataclass(frozen=True, slots=True)
class QuarterForecast:
    slot_start_ms: int
    now_ms: int
    energy_kwh: float  # used since the quarter began (measured, plus any gap filled as said below)
    measured_ms: int  # of the elapsed time, how much had gap-free data
    power_now_kw: float | None  # the latest power: the meter's power, else the last segment's mean
    average_kw: float | None  # energy so far over the elapsed time; None before any data
    forecast_kw: float | None  # (energy so far + power now x time left) / 0.25 h
    gap: bool  # part of the elapsed quarter had no data or a long gap: the figures are estimates

    @property
    def slot_end_ms(self) -> int:
        return self.slot_start_ms + QUARTER_HOUR_MS

    @property
    def elapsed_ms(self) -> int:
        return self.now_ms - self.slot_start_ms


def _power_now_kw(samples: Sequence[MeterSample], segs: Sequence[Segment], now_ms: int) -> float | None:
    for sample in sorted(samples, key=lambda s: s.ts_ms, reverse=True):
        if sample.ts_ms <= now_ms and sample.power_w is not None:
            return sample.power_w / 1000
    for seg in reversed(segs):
        if seg.end_ms <= now_ms and seg.kwh is not None and not seg.gap and seg.end_ms > seg.start_ms:
            return seg.kwh / ((seg.end_ms - seg.start_ms) / _MS_PER_HOUR)
    return None


def quarter_forecast(samples: Sequence[MeterSample], now_ms: int, max_gap_ms: int = QUARTER_HOUR_MS) -> QuarterForecast:
    """The running quarter at ``now_ms`` from its samples (and the last one before it, for the boundary).

    Energy between samples is that of :func:`segments`: a counter delta, the new value after a
    reset, or the trapezoid of power. Within the quarter, a *counter* gap longer than
    ``max_gap_ms`` still gives its total, spread evenly over the gap (as ``kwh_per_day`` does);
    time with no data at all, or a gap of integrated power, is filled at the mean power measured
    so far in the quarter, else at the power now. Both set ``gap``: the figures are then estimates.
    """
    start = quarter_start_ms(now_ms)
    segs = segments([s for s in samples if s.ts_ms <= now_ms], max_gap_ms)
    measured_kwh = 0.0
    measured_ms = 0
    spread_kwh = 0.0
    spread_ms = 0
    for seg in segs:
        overlap = min(seg.end_ms, now_ms) - max(seg.start_ms, start)
        if overlap <= 0:
            continue
        if seg.kwh is None:
            continue
        part = seg.kwh * overlap / (seg.end_ms - seg.start_ms)
        if seg.gap:
            spread_kwh += part
            spread_ms += overlap
        else:
            measured_kwh += part
            measured_ms += overlap
    elapsed = now_ms - start
    power_now = _power_now_kw(samples, segs, now_ms)
    unknown_ms = elapsed - measured_ms - spread_ms
    mean_kw = measured_kwh / (measured_ms / _MS_PER_HOUR) if measured_ms else power_now
    energy = measured_kwh + spread_kwh
    if unknown_ms > 0 and mean_kw is not None:
        energy += mean_kw * unknown_ms / _MS_PER_HOUR
    known = measured_ms + spread_ms > 0 or power_now is not None
    average: float | None = None
    forecast: float | None = None
    if known:
        average = energy / (elapsed / _MS_PER_HOUR) if elapsed else power_now
        left_h = (start + QUARTER_HOUR_MS - now_ms) / _MS_PER_HOUR
        forecast = (energy + (power_now if power_now is not None else average or 0.0) * left_h) / _QUARTER_H
    return QuarterForecast(
        slot_start_ms=start,
        now_ms=now_ms,
        energy_kwh=energy,
        measured_ms=measured_ms,
        power_now_kw=power_now,
        average_kw=average,
        forecast_kw=forecast,
        gap=measured_ms < elapsed,
    )


@dataclass(frozen=True, slots=True)
class MonthPeakSoFar:
    month: str  # local YYYY-MM of ``now_ms``
    peak_kw: float | None  # highest complete quarter of that month that ended by now; None: none yet
    slot_start_ms: int | None

    @property
    def billed_kw(self) -> float:
        """What the month's bill is based on so far: the peak, at least the 2.5 kW minimum."""
        return max(self.peak_kw or 0.0, MIN_BILLED_PEAK_KW)


def month_peak_so_far(segs: Sequence[Segment], now_ms: int, timezone: str = DEFAULT_TIMEZONE) -> MonthPeakSoFar:
    """The month's peak 15-minute demand over the quarters that ended by ``now_ms``.

    The same quarters as ``monthly_peaks`` (fully covered, gap-free, clock-aligned), limited to
    the local month of the running quarter: on the month's first quarter there is none yet.
    """
    month = local_month(quarter_start_ms(now_ms), timezone)
    best: tuple[float, int] | None = None
    for slot, kw in quarter_hour_demand_kw(segs).items():
        if slot + QUARTER_HOUR_MS > now_ms or local_month(slot, timezone) != month:
            continue
        if best is None or kw > best[0]:
            best = (kw, slot)
    return MonthPeakSoFar(month, best[0] if best else None, best[1] if best else None)
