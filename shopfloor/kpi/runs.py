"""Consecutive raw pieces read together (docs/kpis.md#the-kpi-read-model): a *run* of pieces (the days
without a current summary, and a range's partial edges next to them) is read once, as one stretch of time,
and split here into the pieces a per-piece read would have given, term for term. Pure: no I/O.

Splitting is exact, not approximate: each piece gets the events, items and meter samples its own read
would have returned (the same lookback, the same neighbouring samples across its midnights, the same
minutes aggregated from raw data where the rollup lacks them), and is then computed the same way.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from shopfloor.kpi.energy import MeterSample, Segment, segments
from shopfloor.kpi.pieces import clip_segments, clip_sessions
from shopfloor.kpi.rates import FinishedItem
from shopfloor.kpi.sessions import Interval, SessionEvent, clip, item_histories, staffed_intervals

MINUTE_MS = 60_000
# Without a rollup, a piece's neighbouring sample is looked for this far from its boundary.
NEIGHBOUR_MS = 6 * 3_600_000
_FAR = 2**62
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Span:
    """One piece ``[start_ms, end_ms)`` of a run. ``open_*``: that side is the range's own edge (nothing
    beyond it is read). ``events_end_ms``: the events that can reach the piece come before it."""

    start_ms: int
    end_ms: int
    open_start: bool
    open_end: bool
    events_end_ms: int


def by_time(values: Sequence[T], times: Sequence[int], start_ms: int, end_ms: int) -> Sequence[T]:
    """The values whose time (``times``, ascending, one per value) is in ``[start_ms, end_ms)``."""
    return values[bisect.bisect_left(times, start_ms) : bisect.bisect_left(times, end_ms)]


def split_events(
    events: Sequence[SessionEvent], spans: Sequence[Span], lookback_ms: int
) -> list[Sequence[SessionEvent]]:
    """Each span's events, as its own read ``[start - lookback, events_end)`` returns them (in time order)."""
    ordered = sorted(events, key=lambda event: event.ts_ms)
    times = [event.ts_ms for event in ordered]
    return [by_time(ordered, times, span.start_ms - lookback_ms, span.events_end_ms) for span in spans]


def split_finished(items: Sequence[FinishedItem], spans: Sequence[Span]) -> list[Sequence[FinishedItem]]:
    """Each span's finished items: those finished in ``[start, end)``."""
    ordered = sorted(items, key=lambda item: item.finished_ms)
    times = [item.finished_ms for item in ordered]
    return [by_time(ordered, times, span.start_ms, span.end_ms) for span in spans]


@dataclass(slots=True)
class SpanSessions:
    """What a span's events give: staffed seconds per station, and item sessions cut to the span."""

    staffed_s: dict[str, float] = field(default_factory=dict)
    sessions: dict[str, dict[str, list[Interval]]] = field(default_factory=dict)  # station -> item -> spans


def span_sessions(span: Span, events: Sequence[SessionEvent], until_ms: int, item_energy: bool) -> SpanSessions:
    """Staffed time and (with ``item_energy``) item sessions of one span from its own events."""
    found = SpanSessions()
    by_station: dict[str, list[SessionEvent]] = {}
    for event in events:
        by_station.setdefault(event.station, []).append(event)
    window = Interval(span.start_ms, span.end_ms)
    for name, station_events in by_station.items():
        staffed = clip(staffed_intervals(station_events, until_ms), window)
        seconds = sum(part.seconds for part in staffed)
        if seconds:
            found.staffed_s[name] = seconds
        if not item_energy:
            continue
        sessions = {
            item: list(history.sessions)
            for item, history in item_histories(station_events, until_ms).items()
            if history.sessions
        }
        clipped = clip_sessions(
            sessions, None if span.open_start else span.start_ms, None if span.open_end else span.end_ms
        )
        if clipped:
            found.sessions[name] = clipped
    return found


def merge_adjacent(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Ranges (ascending, disjoint) joined where one ends exactly where the next begins."""
    merged: list[tuple[int, int]] = []
    for start, end in ranges:
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


class MeterRun:
    """One meter over a run of spans, read as a whole and split into what each span's own read gives.

    A span's own read (``per_minute``: the rollup's minute rows, dated at the minute's end by ``shift_ms``)
    takes its rows in its window, the rows neighbouring its inner sides (the nearest ones, however far), and,
    per minute, what the rollup lacks: raw minutes before its first rollup row (its *head*), and raw minutes
    near a side the rollup has no neighbour for at all. The run reads the rollup rows of its whole stretch
    and the two beyond it once (``read_*``, ``before_at``/``after_at``), then the raw minutes all spans lack
    in one go (``missing``), and gives each span the rows its own read would have had (``segments``).

    Raw minutes come from ``GROUP BY time(1m)``: reading them over a longer range returns the same rows, so
    heads that touch are read as one range (only a run's own ends can cut a minute), and the raw minutes
    near sides as one range around all of them."""

    def __init__(self, spans: Sequence[Span], per_minute: bool) -> None:
        self.spans = list(spans)
        self.per_minute = per_minute
        self.shift = MINUTE_MS if per_minute else 0
        shift = self.shift
        # Each span's own window of rows (row time, before the shift).
        self.windows = [
            (s.start_ms - (0 if s.open_start else shift), s.end_ms - (0 if s.open_end else shift)) for s in self.spans
        ]
        first = self.spans[0]
        # Rows dated (after the shift) in [first.start, read_end + shift): every window, and the minute before
        # an open start, so that a neighbour looked up inside the run is found here or just beyond it.
        self.read_start = first.start_ms - shift
        self.read_end = self.windows[-1][1]
        self.before_at = first.start_ms  # the last row dated before it
        self.after_at = self.read_end + shift  # the first row dated from it
        self.needs_before = any(not s.open_start for s in self.spans)
        self.needs_after = any(not s.open_end for s in self.spans)
        self._rows: list[MeterSample] = []
        self._times: list[int] = []
        self._before: MeterSample | None = None
        self._after: MeterSample | None = None
        self._own: list[list[MeterSample]] = []
        self._heads: list[tuple[int, int] | None] = []
        self._sides: list[list[tuple[int, bool, MeterSample | None, tuple[int, int] | None]]] = []
        self.head_ranges: list[tuple[int, int]] = []
        self.near_range: tuple[int, int] | None = None

    def _neighbour(self, at_ms: int, before: bool) -> MeterSample | None:
        """The row a span's neighbour read returns: the last dated before ``at_ms``, or the first from it."""
        if before:
            i = bisect.bisect_left(self._times, at_ms)
            return self._rows[i - 1] if i else self._before
        i = bisect.bisect_left(self._times, at_ms)
        return self._rows[i] if i < len(self._rows) else self._after

    def missing(
        self, rows: list[MeterSample], before: MeterSample | None, after: MeterSample | None
    ) -> list[tuple[int, int]]:
        """The rollup's rows of the run (shifted, ascending) and its neighbours: the raw ranges still to read
        (row time, aggregated per minute), heads first, then the one range around the sides."""
        self._rows, self._before, self._after = rows, before, after
        self._times = [row.ts_ms for row in rows]
        nears: list[tuple[int, int]] = []
        for span, (start, end) in zip(self.spans, self.windows, strict=True):
            own = list(by_time(rows, self._times, start + self.shift, end + self.shift))
            self._own.append(own)
            head: tuple[int, int] | None = None
            if self.per_minute:
                head_end = own[0].ts_ms - MINUTE_MS if own else end
                if head_end - start > MINUTE_MS:
                    head = (start, head_end)
            self._heads.append(head)
            sides: list[tuple[int, bool, MeterSample | None, tuple[int, int] | None]] = []
            for at, before_side, edge in ((span.start_ms, True, span.open_start), (span.end_ms, False, span.open_end)):
                if edge:
                    continue
                found = self._neighbour(at, before_side)
                near: tuple[int, int] | None = None
                if found is None and self.per_minute:
                    near = (
                        (at - NEIGHBOUR_MS - MINUTE_MS, at - MINUTE_MS)
                        if before_side
                        else (at - MINUTE_MS, at + NEIGHBOUR_MS)
                    )
                    nears.append(near)
                sides.append((at, before_side, found, near))
            self._sides.append(sides)
        self.head_ranges = merge_adjacent([head for head in self._heads if head is not None])
        self.near_range = (min(n[0] for n in nears), max(n[1] for n in nears)) if nears else None
        asked = list(self.head_ranges)
        if self.near_range is not None:
            asked.append(self.near_range)
        return asked

    def segments(self, raw: Sequence[list[MeterSample]]) -> list[list[Segment]]:
        """The answers to ``missing``'s ranges (shifted minute rows): each span's segments, cut to it."""
        head_rows = [row for rows in raw[: len(self.head_ranges)] for row in rows]
        head_times = [row.ts_ms for row in head_rows]
        near_rows = raw[len(self.head_ranges)] if self.near_range is not None else []
        near_times = [row.ts_ms for row in near_rows]
        result: list[list[Segment]] = []
        for span, own, head, sides in zip(self.spans, self._own, self._heads, self._sides, strict=True):
            samples = list(own)
            if head is not None:
                # A minute row is dated at its end: the rows of minutes that overlap the head.
                samples = [*by_time(head_rows, head_times, head[0] + 1, head[1] + MINUTE_MS), *samples]
            for _, before, found, near in sides:
                neighbour = found
                if near is not None:
                    rows = by_time(near_rows, near_times, near[0] + 1, near[1] + MINUTE_MS)
                    neighbour = (rows[-1] if before else rows[0]) if rows else None
                if neighbour is None:
                    continue
                if before:
                    samples.insert(0, neighbour)
                else:
                    samples.append(neighbour)
            lo = -_FAR if span.open_start else span.start_ms
            hi = _FAR if span.open_end else span.end_ms
            result.append(clip_segments(segments(samples), lo, hi))
        return result


def bench_devices(sessions: Sequence[SpanSessions], bench_of: Mapping[str, str]) -> set[str]:
    """The bench meters any span needs for its items' energy."""
    return {bench_of[name] for found in sessions for name in found.sessions}
