"""From MQTT message to durable spool row (or dead letter), and only then the ack.

No paho here: :mod:`collector.ingest.mqtt` feeds :meth:`Ingest.receive` from its network thread and gives
an ``ack`` callable. The topic is parsed once, on arrival, and travels with the message. Messages are
grouped, and the group adapts to the traffic. When no further message is waiting (``more_waiting=False``)
after a quiet spell (the last commit's pause is over), the group is committed at once: under light traffic, one
message a commit. Under steady traffic a group grows after each commit for a pause of twice that commit's own
time, at most ``commit_gap_s`` (:mod:`collector.pacing`; the commit thread's
:meth:`commit_when_due`), since a SQLite commit costs as much as receiving dozens of messages; and a group
of ``commit_every`` messages is committed at once. One spool transaction and one dead-letter transaction
commit, then the whole group is acknowledged. A bad message costs one decode and one row, so a flood of them
never stalls the good ones.

Validating a ReadingBatch (a backlog flush: hundreds of readings in one message) is the costly part of
the collector, so with ``decode_workers`` those messages are validated in worker processes while the
MQTT thread goes on receiving; each is still acked only after its lines are committed.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass

from collector.ingest.cardinality import CardinalityGuard
from collector.metrics import CollectorMetrics
from collector.pacing import PAUSE_PER_OPERATION_TIME, Pace
from collector.points import (
    NS_PER_MS,
    ItemIndex,
    Points,
    ahead_of_clock,
    dead_letter_line,
    message_points,
    raw_reading_points,
)
from collector.storage.dead_letters import CARDINALITY, CONTRACT, DeadLetterStore, NewDeadLetter
from collector.storage.spool import Lane, Spool, SpoolFull, SpoolRow
from shopfloor.contract import (
    ContractError,
    Kind,
    RawReading,
    StationEvent,
    Topic,
    decode_message,
    parse_json,
    parse_topic,
    plainly_valid_forms,
)

log = logging.getLogger(__name__)

Ack = Callable[[list[tuple[int, int]]], None]
# Told about every valid station event before its lines are built (the item index records it).
EventHook = Callable[[str, StationEvent], object]
Decoded = tuple[Points | None, str | None]

_READING_KINDS = (Kind.READING, Kind.BATCH)


def _plain_points(topic: Topic, payload: bytes) -> tuple[list[RawReading], Points] | None:
    """The contract's fast path and its points; None: decode with the models.

    The lines are built with the forms the fast path found (BARE: the values are looked at once, not again
    for the line). Parsed as the models parse (pydantic_core): orjson parses a 500-reading batch faster
    (1.3 against 2.2 µs a reading), but its fresh strings cost that back in the checks' cached lookups (0.2
    µs a reading saved in all), and it reads an integer beyond 64 bits as a float, which the models keep.
    """
    plain = plainly_valid_forms(topic, parse_json(payload))
    if plain is None:
        return None
    readings, forms = plain
    return readings, raw_reading_points(topic.site, readings, forms)


@functools.lru_cache(maxsize=4096)
def _parsed(topic: str, prefix: str) -> Topic | ContractError:
    """Topics repeat (one per device and kind): each is parsed once."""
    try:
        return parse_topic(topic, prefix)
    except ContractError as exc:
        return exc


def fast_points(
    topic: Topic, payload: bytes, seen: Callable[[str, list[RawReading]], None] | None = None
) -> Points | None:
    """Meter readings the contract's fast path accepts, straight to points; None: decode with the models.

    ``seen`` is told the readings too (the alert gauges, collector/site_gauges.py).
    """
    if topic.kind not in _READING_KINDS:
        return None
    plain = _plain_points(topic, payload)
    if plain is None:
        return None
    if seen is not None:
        seen(topic.site, plain[0])
    return plain[1]


def decode_points(topic: Topic, payload: bytes) -> Decoded:
    """Worker-process entry point: (points, None), or (None, reason) for a message that breaks the contract."""
    fast = fast_points(topic, payload)
    if fast is not None:
        return fast, None
    try:
        return message_points(decode_message(topic, payload)), None
    except ContractError as exc:
        return None, str(exc)


@dataclass(slots=True)
class _Pending:
    raw_topic: str
    topic: Topic | None  # None: the topic itself breaks the contract
    payload: bytes
    mid: int
    qos: int
    points: Points | None = None
    reason: str | None = None
    site: str | None = None  # for a dead letter: the topic's site, when it named a valid one
    future: Future[Decoded] | None = None
    kind: str = CONTRACT  # of its dead letter
    readings: list[RawReading] | None = None  # the fast path's: for the alert gauges, once committed

    @property
    def ready(self) -> bool:
        return self.future is None or self.future.done()

    @property
    def lane(self) -> Lane:
        # An edge's backlog flush: the spool writes live traffic first.
        return Lane.BACKLOG if self.topic is not None and self.topic.kind is Kind.BATCH else Lane.LIVE


class Ingest:
    def __init__(
        self,
        *,
        prefix: str,
        spool: Spool,
        dead_letters: DeadLetterStore,
        metrics: CollectorMetrics,
        ack: Ack,
        commit_every: int = 500,
        item_index: ItemIndex | None = None,
        on_event: EventHook | None = None,
        batch_pool: Executor | None = None,
        batch_workers: int = 0,
        max_future_skew_s: float = 86_400,
        cardinality: CardinalityGuard | None = None,
        commit_gap_s: float = 0.005,
        commit_share: float = PAUSE_PER_OPERATION_TIME,
    ) -> None:
        # Under steady traffic a group grows after each commit for twice that commit's time, at most commit_gap_s.
        self.pace = Pace(commit_gap_s, commit_share)
        self._due = threading.Event()
        self.max_future_skew_s = max_future_skew_s
        self.cardinality = cardinality
        self._admitted: set[str] = set()  # raw topics the cardinality guard admitted: one str lookup a message
        self.prefix = prefix
        self.spool = spool
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.ack = ack
        self.commit_every = commit_every
        self.item_index = item_index
        self.on_event = on_event
        self.batch_pool = batch_pool
        self.max_in_workers = 4 * max(1, batch_workers)
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._in_workers = 0
        self._full_since: float | None = None
        self._received = {kind: metrics.received.labels(kind.value) for kind in Kind}
        self._invalid = metrics.received.labels("invalid")

    def receive(
        self, topic: str, payload: bytes, mid: int, qos: int, more_waiting: bool | Callable[[], bool] = True
    ) -> None:
        """Take one message; commit the group (then ack it) when nothing more is waiting, or it is full.

        ``more_waiting`` may be a check (a system call on the socket): it is asked only when no commit is due yet.
        """
        parsed = _parsed(topic, self.prefix)
        if isinstance(parsed, ContractError):
            site = None if parsed.site is None else self._known(parsed.site)
            entry = _Pending(topic, None, payload, mid, qos, reason=str(parsed), site=site)
        elif (
            self.cardinality is not None
            and topic not in self._admitted
            and (refused := self._refused(topic, parsed)) is not None
        ):
            entry = _Pending(topic, None, payload, mid, qos, reason=refused, site=self._known(parsed.site))
            entry.kind = CARDINALITY
        else:
            entry = _Pending(topic, parsed, payload, mid, qos, site=parsed.site)
            if self.batch_pool is not None and parsed.kind is Kind.BATCH:
                self._to_worker(entry, parsed)
                return
            plain = _plain_points(parsed, payload) if parsed.kind in _READING_KINDS else None
            if plain is not None:
                # The gauges and the last-seen ages learn of these readings at the commit, a group at a time.
                entry.readings, entry.points = plain
            else:
                self._decode(entry, parsed)
        with self._lock:
            self._pending.append(entry)
            grouped = len(self._pending) - self._in_workers
        if grouped >= self.commit_every:
            self.flush()
        elif self._due.is_set():
            pass  # a commit is due already: the commit thread takes this message too, no need to look at the socket
        elif not (more_waiting() if callable(more_waiting) else more_waiting):
            if self.pace.remaining_s() <= 0:
                self.flush()
            else:
                self._due.set()

    def _refused(self, raw_topic: str, topic: Topic) -> str | None:
        """The cardinality guard's answer; a topic it admitted is remembered by its text (a str hashes once)."""
        assert self.cardinality is not None
        refused = self.cardinality.refuses(topic)
        if refused is None:
            self._admitted.add(raw_topic)
        return refused

    def commit_when_due(self, timeout: float) -> None:
        """The commit thread's step: wait up to ``timeout`` for a group to fall due, and commit it once
        the last commit's pause is over (after ``timeout``, whatever waits: the safety net)."""
        self._due.wait(timeout)
        self._due.clear()
        gap = self.pace.remaining_s()
        if gap > 0:
            time.sleep(gap)
        self.flush()

    def _known(self, site: str) -> str | None:
        """A letter of an unknown site is filed under none: invented ids make no dead_letter series either."""
        return site if self.cardinality is None else self.cardinality.known_site(site)

    def _to_worker(self, entry: _Pending, topic: Topic) -> None:
        assert self.batch_pool is not None
        entry.future = self.batch_pool.submit(decode_points, topic, entry.payload)
        with self._lock:
            self._pending.append(entry)
            self._in_workers += 1
            oldest = next(e.future for e in self._pending if e.future is not None)
            busy = self._in_workers > self.max_in_workers
        if busy:  # back-pressure: let the workers catch up before taking more
            oldest.result()
            self.flush()

    def _decode(self, entry: _Pending, topic: Topic) -> None:
        """The models' path: every payload kind, and the precise reason when a message breaks the contract."""
        try:
            message = decode_message(topic, entry.payload)
            if self.on_event is not None and isinstance(message.payload, StationEvent):
                self.on_event(topic.site, message.payload)
            entry.points = message_points(message, self.item_index)
            self.metrics.last_seen.mark(topic.site, topic.source, time.time())
            self.metrics.sites.message(topic.site, message.payload)
        except ContractError as exc:
            entry.reason = str(exc)

    def flush(self, wait: bool = False) -> None:
        """Commit what is ready, then ack it. On a full spool, keep it (un-acked) for the next try."""
        with self._lock:
            if wait:
                for entry in self._pending:
                    if entry.future is not None:
                        entry.future.exception()
            ready = [entry for entry in self._pending if entry.ready]
            if not ready:
                return
            started = time.monotonic()
            rows: dict[tuple[Lane, str | None], Points] = {}
            letters: list[NewDeadLetter] = []
            now_ms = int(time.time() * 1000)
            for entry in ready:
                self._resolve(entry, now_ms)
                if entry.points is not None:
                    rows.setdefault((entry.lane, entry.site), Points()).extend(entry.points)
                else:
                    letters.append(
                        NewDeadLetter(entry.raw_topic, entry.payload, entry.reason or "?", entry.kind, entry.site)
                    )
            try:
                if letters:
                    fresh = self.dead_letters.add_many(letters)
                    for i, (letter, at_ms) in enumerate(fresh):
                        marker = dead_letter_line(
                            letter.site, letter.kind, letter.reason, at_ms * NS_PER_MS + i % NS_PER_MS
                        )
                        rows.setdefault((Lane.LIVE, letter.site), Points()).lines.append(marker)
                        self.metrics.dead_lettered.labels(letter.kind).inc()
                self.spool.append_rows([SpoolRow(lane, points, site) for (lane, site), points in rows.items()])
            except SpoolFull as exc:
                self._note_full(str(exc))
                return
            self.pace.done(started)
            if len(ready) == len(self._pending):
                self._pending = []
            else:
                done = {id(entry) for entry in ready}
                self._pending = [entry for entry in self._pending if id(entry) not in done]
        self._counted(ready)
        if self._full_since is not None:
            log.warning(
                "spool has room again after %.0f s: acking and receiving again", time.monotonic() - self._full_since
            )
            self._full_since = None
            self.metrics.spool_full.set(0)
        acks = [(entry.mid, entry.qos) for entry in ready if entry.qos > 0]
        if acks:
            self.ack(acks)

    def _resolve(self, entry: _Pending, now_ms: int) -> None:
        """The worker's answer, if it had one; then the clock check every valid message passes."""
        from_worker = entry.future is not None
        if entry.future is not None:
            entry.points, entry.reason = entry.future.result()
            entry.future = None
            self._in_workers -= 1
        if entry.points is None:
            return
        ahead = ahead_of_clock(entry.points.latest_ms, now_ms, self.max_future_skew_s)
        if ahead is not None:
            entry.points, entry.reason = None, ahead
        elif from_worker and entry.topic is not None:
            self.metrics.last_seen.mark(entry.topic.site, entry.topic.source, time.time())

    def _counted(self, ready: list[_Pending]) -> None:
        """Metrics for a committed group: one update per metric, not one per message."""
        lines = invalid = 0
        kinds: dict[Kind, int] = {}
        seen: list[tuple[str, list[RawReading]]] = []
        sources: set[tuple[str, str]] = set()
        for entry in ready:
            topic = entry.topic
            if entry.points is None or topic is None:
                invalid += 1
                continue
            lines += len(entry.points.lines)
            kinds[topic.kind] = kinds.get(topic.kind, 0) + 1
            if entry.readings is not None:
                seen.append((topic.site, entry.readings))
                sources.add((topic.site, topic.source))
                entry.readings = None
        if seen:
            self.metrics.sites.raw_readings_of(seen)
            self.metrics.last_seen.mark_all(sources, time.time())
        if invalid:
            self._invalid.inc(invalid)
        for kind, count in kinds.items():
            self._received[kind].inc(count)
        self.metrics.spooled.inc(lines)
        self.metrics.spool_depth.set(self.spool.depth_lines)
        self.metrics.spool_bytes.set(self.spool.depth_bytes)

    def _note_full(self, why: str) -> None:
        if self._full_since is None:
            self._full_since = time.monotonic()
            self.metrics.spool_full.set(1)
            log.error("%s, its configured maximum: holding new messages un-acked until InfluxDB drains it", why)
