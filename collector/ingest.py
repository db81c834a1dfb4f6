"""From MQTT message to durable spool row (or dead letter), and only then the ack.

No paho here: :mod:`collector.mqtt_in` feeds :meth:`Ingest.receive` from its network thread and gives
an ``ack`` callable. Messages are grouped: every ``commit_every`` messages, or every ``commit_interval``
(the :meth:`flush` timer), one spool transaction and one dead-letter transaction commit, then the whole
group is acknowledged. A bad message costs one decode and one row, so a flood of them never stalls the
good ones.

Validating a ReadingBatch (a backlog flush: hundreds of readings in one message) is the costly part of
the collector, so with ``decode_workers`` those messages are validated in worker processes while the
MQTT thread goes on receiving; each is still acked only after its lines are committed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass

from collector.deadletters import CONTRACT, DeadLetterStore, NewDeadLetter
from collector.lineprotocol import NS_PER_MS, ItemIndex, dead_letter_line, message_lines, raw_reading_line
from collector.metrics import CollectorMetrics
from collector.spool import Lane, Spool, SpoolFull
from shopfloor.contract import ContractError, RawReading, StationEvent, Topic, decode, readings_fast

log = logging.getLogger(__name__)

Ack = Callable[[list[tuple[int, int]]], None]
# Told about every valid station event before its lines are built (the item index records it).
EventHook = Callable[[str, StationEvent], object]
Decoded = tuple[list[str] | None, str | None]


def site_of(topic: str, prefix: str) -> str | None:
    parts = topic.split("/")
    n = len(prefix.split("/"))
    return parts[n + 1] if len(parts) == n + 4 else None


_READING_KINDS = ("/reading", "/batch")


def fast_lines(
    topic: str, payload: bytes, prefix: str, seen: Callable[[str, list[RawReading]], None] | None = None
) -> tuple[Topic, list[str]] | None:
    """Meter readings the contract's fast path accepts, straight to lines; None: decode with the models.

    ``seen`` is told the readings too (the alert gauges, collector/site_gauges.py).
    """
    if not topic.endswith(_READING_KINDS):
        return None
    fast = readings_fast(topic, payload, prefix)
    if fast is None:
        return None
    parsed, readings = fast
    if seen is not None:
        seen(parsed.site, readings)
    return parsed, [raw_reading_line(parsed.site, reading) for reading in readings]


def decode_lines(topic: str, payload: bytes, prefix: str) -> Decoded:
    """Worker-process entry point: (lines, None), or (None, reason) for a message that breaks the contract."""
    fast = fast_lines(topic, payload, prefix)
    if fast is not None:
        return fast[1], None
    try:
        return message_lines(decode(topic, payload, prefix)), None
    except ContractError as exc:
        return None, str(exc)


@dataclass(slots=True)
class _Pending:
    topic: str
    payload: bytes
    mid: int
    qos: int
    lines: list[str] | None = None
    reason: str | None = None
    future: Future[Decoded] | None = None

    @property
    def ready(self) -> bool:
        return self.future is None or self.future.done()


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
    ) -> None:
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
        self._received = {
            kind: metrics.received.labels(kind) for kind in ("reading", "batch", "event", "status", "guard")
        }
        self._invalid = metrics.received.labels("invalid")

    def receive(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        entry = _Pending(topic, payload, mid, qos)
        if self.batch_pool is not None and topic.endswith("/batch"):
            entry.future = self.batch_pool.submit(decode_lines, topic, payload, self.prefix)
            with self._lock:
                self._pending.append(entry)
                self._in_workers += 1
                oldest = next(e.future for e in self._pending if e.future is not None)
                busy = self._in_workers > self.max_in_workers
            if busy:  # back-pressure: let the workers catch up before taking more
                oldest.result()
                self.flush()
            return
        fast = fast_lines(topic, payload, self.prefix, self.metrics.sites.raw_readings)
        if fast is not None:
            parsed, entry.lines = fast
            self.metrics.last_seen.mark(parsed.site, parsed.source, time.time())
        else:
            self._decode(entry)
        with self._lock:
            self._pending.append(entry)
            due = len(self._pending) - self._in_workers >= self.commit_every
        if due:
            self.flush()

    def _decode(self, entry: _Pending) -> None:
        """The models' path: every payload kind, and the precise reason when a message breaks the contract."""
        topic, payload = entry.topic, entry.payload
        try:
            message = decode(topic, payload, self.prefix)
            if self.on_event is not None and isinstance(message.payload, StationEvent):
                self.on_event(message.topic.site, message.payload)
            entry.lines = message_lines(message, self.item_index)
            self.metrics.last_seen.mark(message.topic.site, message.topic.source, time.time())
            self.metrics.sites.message(message.topic.site, message.payload)
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
            lines: list[str] = []
            backlog: list[str] = []
            letters: list[NewDeadLetter] = []
            for entry in ready:
                self._resolve(entry)
                if entry.lines is not None:
                    (backlog if entry.topic.endswith("/batch") else lines).extend(entry.lines)
                else:
                    letters.append(
                        NewDeadLetter(
                            entry.topic, entry.payload, entry.reason or "?", CONTRACT, site_of(entry.topic, self.prefix)
                        )
                    )
            try:
                if letters:
                    fresh = self.dead_letters.add_many(letters)
                    lines.extend(
                        dead_letter_line(letter.site, letter.kind, letter.reason, at_ms * NS_PER_MS + i % NS_PER_MS)
                        for i, (letter, at_ms) in enumerate(fresh)
                    )
                    self.metrics.dead_lettered.labels(CONTRACT).inc(len(fresh))
                self.spool.append_rows([(Lane.LIVE, lines), (Lane.BACKLOG, backlog)])
            except SpoolFull as exc:
                self._note_full(str(exc))
                return
            done = {id(entry) for entry in ready}
            self._pending = [entry for entry in self._pending if id(entry) not in done]
        self._counted(ready, letters)
        if self._full_since is not None:
            log.warning(
                "spool has room again after %.0f s: acking and receiving again", time.monotonic() - self._full_since
            )
            self._full_since = None
            self.metrics.spool_full.set(0)
        acks = [(entry.mid, entry.qos) for entry in ready if entry.qos > 0]
        if acks:
            self.ack(acks)

    def _resolve(self, entry: _Pending) -> None:
        if entry.future is None:
            return
        entry.lines, entry.reason = entry.future.result()
        entry.future = None
        self._in_workers -= 1
        if entry.lines is not None:
            parts = entry.topic.split("/")
            self.metrics.last_seen.mark(parts[-3], parts[-2], time.time())

    def _counted(self, ready: list[_Pending], letters: list[NewDeadLetter]) -> None:
        lines = 0
        for entry in ready:
            if entry.lines is None:
                self._invalid.inc()
                continue
            lines += len(entry.lines)
            counter = self._received.get(entry.topic.rsplit("/", 1)[-1])
            if counter is not None:
                counter.inc()
        self.metrics.spooled.inc(lines)
        self.metrics.spool_depth.set(self.spool.depth_lines)
        self.metrics.spool_bytes.set(self.spool.depth_bytes)

    def _note_full(self, why: str) -> None:
        if self._full_since is None:
            self._full_since = time.monotonic()
            self.metrics.spool_full.set(1)
            log.error("%s, its configured maximum: holding new messages un-acked until InfluxDB drains it", why)
