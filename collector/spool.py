"""The local disk spool: validated messages, as line protocol, between the MQTT ack and the InfluxDB write.

Two lanes: live traffic (single readings, events, status) and backlog (an edge's ReadingBatch flush, a
requeue). The drainer takes live rows first and fills each request up with backlog, so one site's
backlog never holds back every other site's live data. Points are idempotent, so order does not matter
to InfluxDB.

SQLite in WAL mode. A message is acknowledged to the broker only after the transaction that holds its
lines has committed, so a crash (kill -9) loses nothing: what is not committed was not acked, and the
broker redelivers it. ``synchronous=NORMAL`` keeps commits free of fsync: a power cut (not a crash) may
lose the last commits. ``Spool(..., synchronous="FULL")`` closes that gap at a throughput cost; it is not
in collector.yaml yet.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from collector.lineprotocol import split_lines

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ms INTEGER NOT NULL,
    n INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    lines TEXT NOT NULL,
    lane INTEGER NOT NULL DEFAULT 0
);
"""


class Lane(IntEnum):
    LIVE = 0
    BACKLOG = 1


class SpoolFull(Exception):
    """The spool holds its configured maximum; the caller keeps the messages un-acked and tries again."""


@dataclass(frozen=True, slots=True)
class SpoolBatch:
    # Per lane, the last row taken: a batch is a prefix of each lane, so rows appended since stay.
    through: dict[Lane, int]
    lines: list[str]
    oldest_created_ms: int


def open_sqlite(path: Path, synchronous: str = "NORMAL") -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


class Spool:
    def __init__(self, path: Path, max_lines: int, max_bytes: int, synchronous: str = "NORMAL") -> None:
        self.path = path
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self._writer = open_sqlite(path, synchronous)
        self._writer.executescript(_SCHEMA)
        columns = {row[1] for row in self._writer.execute("PRAGMA table_info(spool)")}
        if "lane" not in columns:  # a spool written before lanes: all of it counts as live
            self._writer.execute("ALTER TABLE spool ADD COLUMN lane INTEGER NOT NULL DEFAULT 0")
        self._writer.execute("CREATE INDEX IF NOT EXISTS spool_by_lane ON spool (lane, id)")
        self._reader = open_sqlite(path, synchronous)
        # One lock per connection: appends (MQTT thread) and reads (drainer) still run side by side,
        # as WAL allows, and close() takes both, so no thread is inside a connection being closed.
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._appended = threading.Condition()
        self._lines_since_notify = 0
        self.depth_lines = 0
        self.depth_bytes = 0
        self.refresh_depth()

    def refresh_depth(self) -> None:
        """Recount from disk: another process (``dead-letters requeue``) may have appended."""
        with self._read_lock:
            lines, size = self._reader.execute(
                "SELECT coalesce(sum(n), 0), coalesce(sum(bytes), 0) FROM spool"
            ).fetchone()
        with self._lock:
            self.depth_lines, self.depth_bytes = int(lines), int(size)

    def append(self, lines: list[str], lane: Lane = Lane.LIVE) -> None:
        """Commit lines as one row. Raises SpoolFull when the bounds would be passed."""
        self.append_rows([(lane, lines)])

    def append_rows(self, rows: list[tuple[Lane, list[str]]]) -> None:
        """Commit one row per lane in one transaction. Raises SpoolFull when the bounds would be passed."""
        texts = [(lane, len(lines), "\n".join(lines)) for lane, lines in rows if lines]
        if not texts:
            return
        count = sum(n for _, n, _ in texts)
        size = sum(len(text) for *_, text in texts)
        now_ms = int(time.time() * 1000)
        with self._lock:
            if self.depth_lines > 0 and (
                self.depth_lines + count > self.max_lines or self.depth_bytes + size > self.max_bytes
            ):
                raise SpoolFull(f"spool holds {self.depth_lines} points ({self.depth_bytes} bytes)")
            with self._writer:  # one transaction: all rows or none
                self._writer.execute("BEGIN")
                self._writer.executemany(
                    "INSERT INTO spool (created_ms, n, bytes, lines, lane) VALUES (?, ?, ?, ?, ?)",
                    [(now_ms, n, len(text), text, int(lane)) for lane, n, text in texts],
                )
            self.depth_lines += count
            self.depth_bytes += size
        with self._appended:
            self._lines_since_notify += count
            self._appended.notify_all()

    def wait(self, min_lines: int, timeout: float) -> None:
        """Block until ``min_lines`` more lines were appended, or ``timeout`` seconds passed."""
        with self._appended:
            self._appended.wait_for(lambda: self._lines_since_notify >= min_lines, timeout)
            self._lines_since_notify = 0

    def wake(self) -> None:
        with self._appended:
            self._lines_since_notify = 1 << 62
            self._appended.notify_all()

    def peek(self, max_lines: int) -> SpoolBatch | None:
        """Live rows first, then backlog, each lane oldest first, whole rows: as many as fit in ``max_lines``
        lines, or the first row when it alone is larger.

        Whole rows, so one write request rarely carries a small remainder: InfluxDB syncs its WAL per request.
        """
        lines: list[str] = []
        through: dict[Lane, int] = {}
        oldest = 0
        with self._read_lock:
            for row_id, created_ms, n, text, lane in self._reader.execute(
                "SELECT id, created_ms, n, lines, lane FROM spool ORDER BY lane, id LIMIT 10000"
            ):
                if lines and len(lines) + n > max_lines:
                    break
                oldest = created_ms if not lines else min(oldest, created_ms)
                lines.extend(split_lines(text, n))
                through[Lane(lane)] = row_id
        if not lines:
            return None
        return SpoolBatch(through, lines, oldest)

    def remove(self, batch: SpoolBatch) -> None:
        """Delete the rows of a written batch."""
        with self._lock, self._writer:
            self._writer.execute("BEGIN")
            for lane, last_id in batch.through.items():
                self._writer.execute("DELETE FROM spool WHERE lane = ? AND id <= ?", (int(lane), last_id))
        self.refresh_depth()

    def close(self) -> None:
        with self._lock, self._read_lock:
            self._writer.close()
            self._reader.close()
