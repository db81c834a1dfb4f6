"""Energy KPIs and opening hours on hand-computed cases (docs/kpis.md)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shopfloor.kpi.energy import (
    MeterSample,
    Segment,
    base_load,
    bench_energy_by_item,
    item_energy_kwh,
    item_energy_summary,
    kwh_per_day,
    monthly_peaks,
    quarter_hour_demand_kw,
    segments,
    share,
)
from shopfloor.kpi.opening_hours import OpeningHours
from shopfloor.kpi.sessions import Interval

MIN = 60_000


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def counter(start: str, step_min: int, values: list[float]) -> list[MeterSample]:
    t0 = ms(start)
    return [MeterSample(t0 + i * step_min * MIN, energy_kwh=v) for i, v in enumerate(values)]


def test_kwh_per_day_from_counter_with_reset() -> None:
    # Brussels winter: local day 2026-01-15 = 2026-01-14 23:00 .. 2026-01-15 23:00 UTC, sampled every 6 h.
    samples = counter("2026-01-14 23:00", 6 * 60, [100.0, 101.0, 103.0, 0.5, 1.5])
    # 100 -> 101 -> 103, reset to 0 (0.5 kWh since), -> 1.5: 1 + 2 + 0.5 + 1 = 4.5 kWh.
    days = kwh_per_day(segments(samples, max_gap_ms=6 * 60 * MIN))
    assert [(d.day, d.complete) for d in days] == [("2026-01-15", True)]
    assert days[0].kwh == pytest.approx(4.5)


def test_kwh_per_day_splits_a_segment_at_local_midnight() -> None:
    samples = counter("2026-01-14 22:00", 120, [10.0, 14.0])  # 23:00..01:00 local, 2 kWh each side
    days = kwh_per_day(segments(samples, max_gap_ms=120 * MIN))
    assert [(d.day, round(d.kwh, 9), d.complete) for d in days] == [
        ("2026-01-14", 2.0, False),
        ("2026-01-15", 2.0, False),
    ]


def test_dst_day_has_23_hours() -> None:
    # 2026-03-29 in Brussels: 2026-03-28 23:00 UTC .. 2026-03-29 22:00 UTC, 23 h at 1 kWh/h.
    samples = counter("2026-03-28 23:00", 60, [float(i) for i in range(24)])
    days = kwh_per_day(segments(samples, max_gap_ms=60 * MIN))
    assert [(d.day, d.kwh, d.complete) for d in days] == [("2026-03-29", 23.0, True)]


def test_power_is_integrated_without_a_counter() -> None:
    t0 = ms("2026-01-15 10:00")
    samples = [MeterSample(t0 + i * MIN, power_w=w) for i, w in enumerate([1000.0, 2000.0, 2000.0])]
    segs = segments(samples)
    # trapezoids: 1.5 kW x 1 min + 2 kW x 1 min = 3.5/60 kWh
    assert sum(s.kwh or 0 for s in segs) == pytest.approx(3.5 / 60)


def test_peak_quarter_hour_with_known_numbers() -> None:
    # Counter every 5 min from 10:00 UTC in February: steps 0.5,0.5,0.5 | 1,1,0.25 | 0.1,0.1,0.1 kWh.
    samples = counter("2026-02-10 10:00", 5, [0, 0.5, 1.0, 1.5, 2.5, 3.5, 3.75, 3.85, 3.95, 4.05])
    demand = quarter_hour_demand_kw(segments(samples))
    assert list(demand.values()) == pytest.approx([6.0, 9.0, 1.2])  # kWh per quarter x 4
    peaks = monthly_peaks(segments(samples))
    assert len(peaks) == 1
    peak = peaks[0]
    assert (peak.month, peak.slot_start) == ("2026-02", "2026-02-10T11:15:00+01:00")
    assert peak.peak_kw == pytest.approx(9.0) and peak.billed_kw == pytest.approx(9.0)


def test_peak_below_the_minimum_is_billed_at_2_5_kw() -> None:
    samples = counter("2026-02-10 10:00", 15, [0, 0.25])
    (peak,) = monthly_peaks(segments(samples))
    assert peak.peak_kw == pytest.approx(1.0) and peak.billed_kw == 2.5


def test_partial_quarter_hours_are_not_a_peak() -> None:
    samples = counter("2026-02-10 10:05", 5, [0, 5.0])  # 10:05-10:10 only
    assert monthly_peaks(segments(samples)) == []


def test_item_energy_interpolates_short_gaps_and_refuses_long_ones() -> None:
    # Bench sub-meter: 1 kWh per 10 min, samples every minute, but none 10:20..10:30 (a 10-min gap).
    t0 = ms("2026-01-15 10:00")
    samples = [MeterSample(t0 + m * MIN, energy_kwh=m / 10) for m in range(61) if not 20 < m < 30]
    session = [Interval(ms("2026-01-15 10:15"), ms("2026-01-15 10:35"))]
    assert item_energy_kwh(segments(samples, max_gap_ms=15 * MIN), session) == pytest.approx(2.0)
    assert item_energy_kwh(segments(samples, max_gap_ms=5 * MIN), session) is None
    # Pause and resume: only the sessions count.
    sessions = [Interval(t0, t0 + 10 * MIN), Interval(t0 + 40 * MIN, t0 + 45 * MIN)]
    assert item_energy_kwh(segments(samples, max_gap_ms=5 * MIN), sessions) == pytest.approx(1.5)


def test_item_energy_without_data_is_none() -> None:
    t0 = ms("2026-01-15 10:00")
    samples = counter("2026-01-15 10:00", 1, [0.0, 0.1])
    assert item_energy_kwh(segments(samples), [Interval(t0, t0 + 5 * MIN)]) is None


def test_base_load_with_opening_hours() -> None:
    hours = OpeningHours(hours="mon-fri 09:00-17:00", timezone="UTC")
    # Monday 2026-01-12, 00:00 .. 24:00 UTC, hourly: 0.5 kWh/h closed, 3.5 kWh/h open.
    values = [0.0]
    for hour in range(24):
        values.append(values[-1] + (3.5 if 9 <= hour < 17 else 0.5))
    load = base_load(segments(counter("2026-01-12 00:00", 60, values), max_gap_ms=60 * MIN), hours)
    assert load.closed_hours_measured == pytest.approx(16.0)
    assert load.watts == pytest.approx(500.0)


def test_opening_hours_across_dst_and_validation() -> None:
    hours = OpeningHours(hours="mon-fri 08:30-17:00; sat,sun 10:00-12:00, 13:00-14:00")
    day = hours.open_intervals(ms("2026-03-29 00:00"), ms("2026-03-30 00:00"))  # Sunday, first CEST day
    assert day == [
        Interval(ms("2026-03-29 08:00"), ms("2026-03-29 10:00")),
        Interval(ms("2026-03-29 11:00"), ms("2026-03-29 12:00")),
    ]
    closed = hours.closed_intervals(ms("2026-03-29 00:00"), ms("2026-03-30 00:00"))
    assert sum(c.seconds for c in closed) == 21 * 3600
    for bad, hint in [
        ("mon-fri", "needs days and hours"),
        ("mon-frj 08:00-12:00", "unknown day"),
        ("mon 12:00-08:00", "closes before it opens"),
        ("mon 08:00-12:00; mon 11:00-13:00", "overlapping"),
        ("mon 25:00-26:00", "not a time of day"),
    ]:
        with pytest.raises(ValidationError, match=hint):
            OpeningHours(hours=bad)
    with pytest.raises(ValidationError, match="unknown time zone"):
        OpeningHours(hours="mon 08:00-12:00", timezone="Europe/Bruxelles")


def test_overlapping_items_share_the_bench_energy() -> None:
    # 1 kWh per 10 min all hour; a: 10:00-10:20, b: 10:10-10:30 -> 10:10-10:20 shared half and half.
    t0 = ms("2026-01-15 10:00")
    samples = [MeterSample(t0 + m * MIN, energy_kwh=m / 10) for m in range(61)]
    sessions = {
        "a": [Interval(t0, t0 + 20 * MIN)],
        "b": [Interval(t0 + 10 * MIN, t0 + 30 * MIN)],
        "late": [Interval(t0 + 50 * MIN, t0 + 70 * MIN)],  # runs past the last sample
    }
    energy = bench_energy_by_item(segments(samples), sessions)
    assert energy["a"] == pytest.approx(1.5) and energy["b"] == pytest.approx(1.5)
    assert energy["late"] is None


def _bench_energy_by_definition(segs: list[Segment], sessions: dict[str, list[Interval]]) -> dict[str, float | None]:
    """docs/kpis.md read literally: at every stretch between session boundaries, ask every item."""
    bounds = sorted({ms for spans in sessions.values() for span in spans for ms in (span.start_ms, span.end_ms)})
    energy: dict[str, float | None] = dict.fromkeys(sessions, 0.0)
    for start, end in itertools.pairwise(bounds):
        active = [i for i, spans in sessions.items() if any(s.start_ms <= start and end <= s.end_ms for s in spans)]
        if not active:
            continue
        part = share(segs, Interval(start, end))
        complete = not part.gap and part.covered_ms >= end - start
        for item in active:
            so_far = energy[item]
            energy[item] = None if so_far is None or not complete else so_far + part.kwh / len(active)
    return energy


@pytest.mark.parametrize("seed", range(40))
def test_bench_energy_sweep_matches_the_definition(seed: int) -> None:
    """Random sessions: overlapping items, several sessions per item, back-to-back, empty and
    out-of-range sessions, and meter data with gaps."""
    rng = random.Random(seed)
    t0 = ms("2026-01-15 08:00")
    samples, total = [], 0.0
    outage = rng.randint(0, 580)
    for minute in range(600):
        if rng.random() < 0.03 or (seed % 3 == 0 and outage <= minute < outage + 20):
            continue  # a missed poll, or a 20 min outage: a long gap
        total += rng.random() / 20
        samples.append(MeterSample(t0 + minute * MIN, energy_kwh=total))
    sessions: dict[str, list[Interval]] = {}
    for item in range(rng.randint(1, 30)):
        start = t0 + rng.randint(-30, 620) * MIN
        spans = []
        for _ in range(rng.randint(1, 3)):
            length = rng.choice([0, 1, 5, 17, 60]) * MIN
            spans.append(Interval(start, start + length))
            start += length + rng.choice([0, 0, 3, 30]) * MIN  # 0: the next session starts as this one ends
        sessions[f"item-{item}"] = spans
    segs = segments(samples, max_gap_ms=5 * MIN)
    got = bench_energy_by_item(segs, sessions)
    expected = _bench_energy_by_definition(segs, sessions)
    assert got.keys() == expected.keys()
    for item, kwh in expected.items():
        assert got[item] == (None if kwh is None else pytest.approx(kwh, abs=1e-9)), item
    assert any(kwh is None for kwh in got.values()) or any(kwh for kwh in got.values())


def test_item_energy_summary_leaves_unknown_items_out_of_the_mean() -> None:
    summary = item_energy_summary([1.5, None, 0.5])
    assert (summary.kwh_per_item, summary.items_known, summary.items_unknown) == (1.0, 2, 1)
    assert item_energy_summary([None]).kwh_per_item is None
