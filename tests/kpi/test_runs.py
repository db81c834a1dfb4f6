"""A run of raw pieces read as one stretch gives each piece exactly what its own read gives
(shopfloor/kpi/runs.py), against a simulated store with the InfluxQL semantics the reads rely on: rollup rows
dated at the minute's start (shifted to its end), "the nearest row" neighbours however far, and raw minutes
from GROUP BY time(1m), whose first and last minute hold only the points inside the range.

Pure: the store is a few lists (the real reads are checked on a real influxd by test_read_model.py)."""

from __future__ import annotations

import bisect
import itertools

import pytest

from shopfloor.contract import EventType, StationEvent, StationState
from shopfloor.kpi.energy import MeterSample, Segment, segments
from shopfloor.kpi.pieces import clip_segments
from shopfloor.kpi.runs import MINUTE_MS, NEIGHBOUR_MS, MeterRun, Span, split_events

H = 3 * 3_600_000
BASE = 1_700_000_040_000 // MINUTE_MS * MINUTE_MS


class Store:
    def __init__(self) -> None:
        # Raw points every 20 s, a counter rising with power; no raw data in one stretch (an outage).
        self.raw: list[MeterSample] = []
        kwh = 10.0
        for ts in range(BASE - 8 * 3_600_000, BASE + 8 * H, 20_000):
            if BASE + 2 * H + 600_000 <= ts < BASE + 3 * H + 1_200_000:
                continue
            watts = 500.0 + (ts // 60_000) % 7 * 100
            kwh += watts * 20 / 3_600_000
            self.raw.append(MeterSample(ts, watts, kwh))
        self.raw_times = [s.ts_ms for s in self.raw]
        # The rollup: minute rows (dated at the minute's start) only between 4 H and 5.5 H, and after 7 H.
        minutes = self.minutes(BASE - 8 * 3_600_000, BASE + 8 * H, shift=0)
        self.rollup = [
            row for row in minutes if BASE + 4 * H <= row.ts_ms < BASE + 5 * H + H // 2 or row.ts_ms >= BASE + 7 * H
        ]
        self.rollup_times = [row.ts_ms for row in self.rollup]

    def minutes(self, start: int, end: int, shift: int = MINUTE_MS) -> list[MeterSample]:
        """GROUP BY time(1m) fill(none) over the raw points in [start, end): mean power, last counter."""
        points = self.raw[bisect.bisect_left(self.raw_times, start) : bisect.bisect_left(self.raw_times, end)]
        buckets: dict[int, list[MeterSample]] = {}
        for p in points:
            buckets.setdefault(p.ts_ms // MINUTE_MS * MINUTE_MS, []).append(p)
        return [
            MeterSample(t + shift, sum(p.power_w or 0 for p in ps) / len(ps), ps[-1].energy_kwh)
            for t, ps in sorted(buckets.items())
        ]

    def rows(self, start: int, end: int, per_minute: bool) -> list[MeterSample]:
        times, rows, shift = (
            (self.rollup_times, self.rollup, MINUTE_MS) if per_minute else (self.raw_times, self.raw, 0)
        )
        found = rows[bisect.bisect_left(times, start) : bisect.bisect_left(times, end)]
        return [MeterSample(r.ts_ms + shift, r.power_w, r.energy_kwh) for r in found]

    def neighbour(self, at: int, before: bool, per_minute: bool) -> MeterSample | None:
        """neighbour_statement: rollup rows dated before at - 1 min (or from it); raw ones before at (from it)."""
        edge = at - MINUTE_MS if per_minute else at
        found = self.rows(-(2**62), edge, per_minute) if before else self.rows(edge, 2**62, per_minute)
        if not found:
            return None
        return found[-1] if before else found[0]


def read(store: Store, spans: list[Span], per_minute: bool) -> list[list[Segment]]:
    run = MeterRun(spans, per_minute)
    rows = store.rows(run.read_start, run.read_end, per_minute)
    before = store.neighbour(run.before_at, True, per_minute) if run.needs_before else None
    after = store.neighbour(run.after_at, False, per_minute) if run.needs_after else None
    missing = run.missing(rows, before, after)
    assert per_minute or not missing
    return run.segments([store.minutes(start, end) for start, end in missing])


def read_alone(store: Store, span: Span, per_minute: bool) -> list[Segment]:
    """One piece read on its own, as ``MeterRead`` did before runs (its window, its head, its neighbours)."""
    shift = MINUTE_MS if per_minute else 0
    start = span.start_ms - (0 if span.open_start else shift)
    end = span.end_ms - (0 if span.open_end else shift)
    samples = store.rows(start, end, per_minute)
    if per_minute:
        head_end = samples[0].ts_ms - MINUTE_MS if samples else end
        if head_end - start > MINUTE_MS:
            samples = store.minutes(start, head_end) + samples
    for at, before, edge in ((span.start_ms, True, span.open_start), (span.end_ms, False, span.open_end)):
        if edge:
            continue
        found = store.neighbour(at, before, per_minute)
        if found is None and per_minute:
            near = (at - NEIGHBOUR_MS - MINUTE_MS, at - MINUTE_MS) if before else (at - MINUTE_MS, at + NEIGHBOUR_MS)
            rows = store.minutes(*near)
            found = (rows[-1] if before else rows[0]) if rows else None
        if found is not None:
            if before:
                samples.insert(0, found)
            else:
                samples.append(found)
    lo = -(2**62) if span.open_start else span.start_ms
    hi = 2**62 if span.open_end else span.end_ms
    return clip_segments(segments(samples), lo, hi)


def spans_of(bounds: list[int]) -> list[Span]:
    last = len(bounds) - 2
    return [Span(a, b, i == 0, i == last, b + 8 * 3_600_000) for i, (a, b) in enumerate(itertools.pairwise(bounds))]


@pytest.mark.parametrize("per_minute", [True, False])
@pytest.mark.parametrize(
    "bounds",
    [
        # A range whose own edges are not on a minute, cut at "midnights" every 3 h.
        [BASE + 30_500, *(BASE + k * H for k in range(1, 8)), BASE + 7 * H + 1_234_567],
        # Whole days only, between stored ones (no open side).
        [BASE + k * H for k in range(8)],
    ],
)
def test_a_run_gives_each_piece_what_its_own_read_gives(bounds: list[int], per_minute: bool) -> None:
    store = Store()
    spans = spans_of(bounds)
    if bounds[0] % MINUTE_MS == 0:  # no open side
        spans = [Span(s.start_ms, s.end_ms, False, False, s.events_end_ms) for s in spans]
    together = read(store, spans, per_minute)
    alone = [read_alone(store, span, per_minute) for span in spans]
    assert together == alone
    assert sum(len(segs) for segs in alone) > 100, "an empty store proves nothing"
    if per_minute:
        # Heads and nears were needed (the rollup has holes), and read in a few ranges, not one per piece.
        run = MeterRun(spans, per_minute)
        rows = store.rows(run.read_start, run.read_end, True)
        missing = run.missing(
            rows, store.neighbour(run.before_at, True, True), store.neighbour(run.after_at, False, True)
        )
        assert 2 <= len(missing) <= 3


def test_events_are_split_as_each_piece_reads_them() -> None:
    def event(at: int) -> StationEvent:
        return StationEvent(event_id=f"e{at}", ts_ms=at, station="s", type=EventType.STATE, state=StationState.WORKING)

    events = [event(BASE + k * 600_000) for k in range(-200, 400)]
    spans = spans_of([BASE + k * H for k in range(4)])

    def own(span: Span) -> list[int]:
        return [e.ts_ms for e in events if span.start_ms - 86_400_000 <= e.ts_ms < span.events_end_ms]

    assert [[e.ts_ms for e in part] for part in split_events(events[::-1], spans, 86_400_000)] == [
        own(span) for span in spans
    ]
