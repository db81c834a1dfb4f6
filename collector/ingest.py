"""From MQTT message to durable spool row (or dead letter), and only then the ack.

No paho here: :mod:`collector.mqtt_in` feeds :meth:`Ingest.receive` from its network thread and gives
an ``ack`` callable. Messages are grouped: every ``commit_every`` messages, or every ``commit_interval``
(the :meth:`flush` timer), one spool transaction and one dead-letter transaction commit, then the whole
group is acknowledged. A bad message costs one decode and one row, so a flood of them never stalls the
good ones.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from collector.deadletters import CONTRACT, DeadLetterStore, NewDeadLetter
from collector.lineprotocol import NS_PER_MS, ItemIndex, dead_letter_line, message_lines
from collector.metrics import CollectorMetrics
from collector.spool import Spool, SpoolFull
from shopfloor.contract import ContractError, decode

log = logging.getLogger(__name__)

Ack = Callable[[list[tuple[int, int]]], None]


def site_of(topic: str, prefix: str) -> str | None:
    parts = topic.split("/")
    n = len(prefix.split("/"))
    return parts[n + 1] if len(parts) == n + 4 else None


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
    ) -> None:
        self.prefix = prefix
        self.spool = spool
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.ack = ack
        self.commit_every = commit_every
        self.item_index = item_index
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._letters: list[NewDeadLetter] = []
        self._acks: list[tuple[int, int]] = []
        self._count = 0
        self._full_since: float | None = None

    def receive(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        kind = topic.rsplit("/", 1)[-1]
        try:
            message = decode(topic, payload, self.prefix)
            lines = message_lines(message, self.item_index)
        except ContractError as exc:
            letter = NewDeadLetter(topic, payload, str(exc), CONTRACT, site_of(topic, self.prefix))
            with self._lock:
                self._letters.append(letter)
                self._queue_ack(mid, qos)
            self.metrics.received.labels("invalid").inc()
        else:
            self.metrics.last_seen.mark(message.topic.site, message.topic.source, time.time())
            with self._lock:
                self._lines.extend(lines)
                self._queue_ack(mid, qos)
            self.metrics.received.labels(kind).inc()
        if self._count >= self.commit_every:
            self.flush()

    def _queue_ack(self, mid: int, qos: int) -> None:
        self._count += 1
        if qos > 0:
            self._acks.append((mid, qos))

    def flush(self) -> None:
        """Commit what was received, then ack it. On a full spool, keep it (un-acked) for the next try."""
        with self._lock:
            if not self._count:
                return
            lines, letters, acks = self._lines, self._letters, self._acks
            try:
                if letters:
                    fresh = self.dead_letters.add_many(letters)
                    lines = lines + [
                        dead_letter_line(letter.site, letter.kind, letter.reason, at_ms * NS_PER_MS + i % NS_PER_MS)
                        for i, (letter, at_ms) in enumerate(fresh)
                    ]
                    self.metrics.dead_lettered.labels(CONTRACT).inc(len(fresh))
                    self._letters = []
                self.spool.append(lines)
            except SpoolFull as exc:
                self._lines = lines
                self._note_full(str(exc))
                return
            self._lines, self._acks, self._count = [], [], 0
        self.metrics.spooled.inc(len(lines))
        self.metrics.spool_depth.set(self.spool.depth_lines)
        self.metrics.spool_bytes.set(self.spool.depth_bytes)
        if self._full_since is not None:
            log.warning(
                "spool has room again after %.0f s: acking and receiving again", time.monotonic() - self._full_since
            )
            self._full_since = None
            self.metrics.spool_full.set(0)
        if acks:
            self.ack(acks)

    def _note_full(self, why: str) -> None:
        if self._full_since is None:
            self._full_since = time.monotonic()
            self.metrics.spool_full.set(1)
            log.error("%s, its configured maximum: holding new messages un-acked until InfluxDB drains it", why)
