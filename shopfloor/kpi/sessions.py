"""Repair sessions: what happened to one item at one bench, rebuilt from its station events.

Events may arrive twice (same ``event_id``) and out of order (over MQTT and from a phone's
retry queue), so they are de-duplicated and sorted by ``ts_ms`` first. Bench time is the sum
of the intervals between ``started``/``resumed`` and ``paused``/``finished`` (docs/kpis.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple, Protocol, TypeVar
from zoneinfo import ZoneInfo

from shopfloor.contract import EventType, RepairStatus, ReuseOutcome, StationState

DEFAULT_TIMEZONE = "Europe/Brussels"
# A station silent for longer than this (a working shift) was not staffed in between (docs/kpis.md).
STAFFED_MAX_SILENCE_MS = 8 * 3_600_000

# Same-millisecond events keep their logical order.
_TYPE_ORDER = {
    EventType.CHECKED_IN: 0,
    EventType.STARTED: 1,
    EventType.RESUMED: 2,
    EventType.PAUSED: 3,
    EventType.FINISHED: 4,
    EventType.STATE: 5,
}
_WORK_BEGINS = frozenset({EventType.STARTED, EventType.RESUMED})
_WORK_ENDS = frozenset({EventType.PAUSED, EventType.FINISHED})


class SessionEvent(Protocol):
    """What sessions and staffed time read of a station event: the contract's ``StationEvent`` (the bench
    page, ingestion) or a ``StoredEvent`` (read back from InfluxDB for a KPI)."""

    @property
    def event_id(self) -> str: ...
    @property
    def ts_ms(self) -> int: ...
    @property
    def station(self) -> str: ...
    @property
    def type(self) -> EventType: ...
    @property
    def item_id(self) -> str | None: ...
    @property
    def state(self) -> StationState | None: ...
    @property
    def category(self) -> str | None: ...
    @property
    def weight_kg(self) -> float | None: ...
    @property
    def repair_status(self) -> RepairStatus | None: ...
    @property
    def outcome(self) -> ReuseOutcome | None: ...


Event = TypeVar("Event", bound=SessionEvent)


class StoredEvent(NamedTuple):
    """A station event as a KPI read finds it in InfluxDB, without the payload details sessions need not: a
    year's comparison reads thousands of them, and a named tuple costs a tenth of a validated model (and a
    third of a frozen dataclass, whose ``__init__`` sets each field through ``object.__setattr__``)."""

    event_id: str
    ts_ms: int
    station: str
    type: EventType
    item_id: str | None = None
    state: StationState | None = None
    category: str | None = None
    weight_kg: float | None = None
    repair_status: RepairStatus | None = None
    outcome: ReuseOutcome | None = None


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open span of time ``[start_ms, end_ms)`` in Unix milliseconds."""

    start_ms: int
    end_ms: int

    @property
    def seconds(self) -> float:
        return (self.end_ms - self.start_ms) / 1000


@dataclass(frozen=True, slots=True)
class ItemHistory:
    """One item's life at a bench. ``bench_s`` is None when the item was never seen ``started``."""

    item_id: str
    station: str
    category: str | None
    weight_kg: float | None
    checked_in_ms: int | None
    finished_ms: int | None
    repair_status: RepairStatus | None
    outcome: ReuseOutcome | None
    sessions: tuple[Interval, ...]
    started: bool
    working: bool

    @property
    def is_final(self) -> bool:
        return self.finished_ms is not None

    @property
    def bench_s(self) -> float | None:
        if not self.started:
            return None
        return sum(session.seconds for session in self.sessions)


def ordered_unique(events: Iterable[Event]) -> list[Event]:
    """Events sorted by time, each ``event_id`` once (the first one seen wins, like ingestion)."""
    seen: set[str] = set()
    unique: list[Event] = []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            unique.append(event)
    unique.sort(key=lambda e: (e.ts_ms, _TYPE_ORDER[e.type]))
    return unique


def item_histories(events: Iterable[SessionEvent], until_ms: int | None = None) -> dict[str, ItemHistory]:
    """Every item seen in ``events``, keyed by item id.

    A session still running is closed at ``until_ms`` (e.g. "now") when given, else left out.
    Events after ``finished`` are ignored: an item is finished once.
    """
    by_item: dict[str, list[SessionEvent]] = {}
    for event in ordered_unique(events):
        if event.item_id is not None and event.type is not EventType.STATE:
            by_item.setdefault(event.item_id, []).append(event)
    return {item_id: _history(item_id, item_events, until_ms) for item_id, item_events in by_item.items()}


def _history(item_id: str, events: list[SessionEvent], until_ms: int | None) -> ItemHistory:
    category = weight = checked_in = finished = status = outcome = None
    sessions: list[Interval] = []
    working_since: int | None = None
    started = False
    for event in events:
        category = event.category or category
        weight = event.weight_kg if event.weight_kg is not None else weight
        if event.type is EventType.CHECKED_IN and checked_in is None:
            checked_in = event.ts_ms
        if event.type in _WORK_BEGINS and working_since is None:
            working_since = event.ts_ms
            started = started or event.type is EventType.STARTED
        if event.type in _WORK_ENDS and working_since is not None:
            sessions.append(Interval(working_since, event.ts_ms))
            working_since = None
        if event.type is EventType.FINISHED:
            finished, status, outcome = event.ts_ms, event.repair_status, event.outcome
            break
    working = working_since is not None
    if working_since is not None and until_ms is not None and until_ms > working_since:
        sessions.append(Interval(working_since, until_ms))
    return ItemHistory(
        item_id=item_id,
        station=events[0].station,
        category=category,
        weight_kg=weight,
        checked_in_ms=checked_in,
        finished_ms=finished,
        repair_status=status,
        outcome=outcome,
        sessions=tuple(sessions),
        started=started,
        working=working,
    )


def open_items(events: Iterable[SessionEvent], until_ms: int | None = None) -> list[ItemHistory]:
    """Items checked in or started and not finished yet, oldest first (the bench page's list)."""
    histories = item_histories(events, until_ms)
    pending = [h for h in histories.values() if not h.is_final]
    return sorted(pending, key=lambda h: (h.checked_in_ms or 0, h.item_id))


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Merge overlapping intervals, so time is never counted twice."""
    merged: list[Interval] = []
    for interval in sorted(intervals, key=lambda i: i.start_ms):
        if interval.end_ms <= interval.start_ms:
            continue
        if merged and interval.start_ms <= merged[-1].end_ms:
            last = merged[-1]
            merged[-1] = Interval(last.start_ms, max(last.end_ms, interval.end_ms))
        else:
            merged.append(interval)
    return merged


def staffed_intervals(
    events: Iterable[SessionEvent], until_ms: int, max_silence_ms: int = STAFFED_MAX_SILENCE_MS
) -> list[Interval]:
    """When one station was staffed: between its events, and while an item was in session.

    The time from one event of the station (any type) to its next counts, unless that event is a
    ``closed`` state or the next one comes more than ``max_silence_ms`` later: a bench silent for
    longer than a shift was left, whether or not anyone pressed "closed" (real stations rarely do).
    Item sessions count in full, also on a bench that never sends ``state`` events; a session still
    running is counted up to ``until_ms``. Overlaps are merged (docs/kpis.md).
    """
    ordered = ordered_unique(events)
    spans: list[Interval] = []
    by_station: dict[str, list[SessionEvent]] = {}
    for event in ordered:
        by_station.setdefault(event.station, []).append(event)
    for station_events in by_station.values():
        for current, following in itertools.pairwise(station_events):
            if current.type is EventType.STATE and current.state is StationState.CLOSED:
                continue
            if following.ts_ms - current.ts_ms <= max_silence_ms:
                spans.append(Interval(current.ts_ms, following.ts_ms))
    for history in item_histories(ordered, until_ms).values():
        spans.extend(history.sessions)
    return union(spans)


def clip(intervals: Iterable[Interval], window: Interval) -> list[Interval]:
    """The parts of ``intervals`` inside ``window``: bench time within a KPI's time range."""
    clipped = (Interval(max(i.start_ms, window.start_ms), min(i.end_ms, window.end_ms)) for i in intervals)
    return [i for i in clipped if i.end_ms > i.start_ms]


def seconds_by_day(intervals: Iterable[Interval], timezone: str = DEFAULT_TIMEZONE) -> dict[date, float]:
    """Split intervals at local midnights: a repair across midnight counts on both days."""
    zone = ZoneInfo(timezone)
    totals: dict[date, float] = {}
    for interval in intervals:
        start = interval.start_ms
        while start < interval.end_ms:
            local = datetime.fromtimestamp(start / 1000, zone)
            next_midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), zone)
            end = min(interval.end_ms, int(next_midnight.timestamp() * 1000))
            totals[local.date()] = totals.get(local.date(), 0.0) + (end - start) / 1000
            start = end
    return totals
