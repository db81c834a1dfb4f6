"""The local disk spool: validated messages, as line protocol, between the MQTT ack and the InfluxDB write.

Two lanes: live traffic (single readings, events, status) and backlog (an edge's ReadingBatch flush, a
requeue). The drainer takes live rows first and fills each request up with backlog, so one site's
backlog never holds back every other site's live data. Points are idempotent, so order does not matter
to InfluxDB.

SQLite in WAL mode. A message is acknowledged to the broker only after the transaction that holds its
lines has committed, so a crash (kill -9) loses nothing: what is not committed was not acked, and the
broker redelivers it. Each row holds one site's lines, with the site and the minutes of its meter points
beside them, so the drainer never reads line protocol back. ``synchronous=NORMAL`` keeps commits free of
fsync: a power cut (not a crash) may lose the last commits. ``Spool(..., synchronous="FULL")`` closes that
gap at a throughput cost; it is not in collector.yaml yet.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import NamedTuple

from collector.points import Points, merge_ranges, minute_ranges, split_lines
from collector.storage.sqlite import open_sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_ms INTEGER NOT NULL,
    n INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    lines TEXT NOT NULL,
    lane INTEGER NOT NULL DEFAULT 0,
    site TEXT,
    meter_minutes TEXT
);
"""
# Columns added since the first spool: a spool from before is migrated in place.
_ADDED_COLUMNS = {"lane": "INTEGER NOT NULL DEFAULT 0", "site": "TEXT", "meter_minutes": "TEXT"}


class Lane(IntEnum):
    LIVE = 0
    BACKLOG = 1


class SpoolFull(Exception):
    """The spool holds its configured maximum; the caller keeps the messages un-acked and tries again."""


class SpoolRow(NamedTuple):
    """One row to append: a site's points in one lane (``site`` None: not known, e.g. a test's lines)."""

    lane: Lane
    points: Points | list[str]
    site: str | None = None


@dataclass(frozen=True, slots=True)
class SpoolBatch:
    # Per lane, the last row taken: a batch is a prefix of each lane, so rows appended since stay.
    through: dict[Lane, int]
    lines: list[str]
    oldest_created_ms: int
    # Per row taken: its site and its number of lines, in the order of ``lines``.
    row_sites: list[tuple[str | None, int]] = field(default_factory=list)
    # Merged [start_ns, end_ns) minute ranges that hold meter points of this batch.
    meter_minutes: list[tuple[int, int]] = field(default_factory=list)

    def site_of(self, line: str) -> str | None:
        """The site of the row that holds ``line`` (the rare path: a line InfluxDB refused)."""
        at = 0
        for site, count in self.row_sites:
            if line in self.lines[at : at + count]:
                return site
            at += count
        return None


def _as_points(points: Points | list[str]) -> Points:
    return points if isinstance(points, Points) else Points(list(points))


class Spool:
    def __init__(self, path: Path, max_lines: int, max_bytes: int, synchronous: str = "NORMAL") -> None:
        self.path = path
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self._writer = open_sqlite(path, synchronous)
        self._writer.executescript(_SCHEMA)
        columns = {row[1] for row in self._writer.execute("PRAGMA table_info(spool)")}
        for name, definition in _ADDED_COLUMNS.items():  # rows from before lanes count as live
            if name not in columns:
                self._writer.execute(f"ALTER TABLE spool ADD COLUMN {name} {definition}")
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

    def append(self, points: Points | list[str], lane: Lane = Lane.LIVE, site: str | None = None) -> None:
        """Commit points as one row. Raises SpoolFull when the bounds would be passed."""
        self.append_rows([SpoolRow(lane, points, site)])

    def append_rows(self, rows: list[SpoolRow]) -> None:
        """Commit the rows in one transaction. Raises SpoolFull when the bounds would be passed."""
        texts = []
        for lane, points, site in rows:
            batch = _as_points(points)
            if batch.lines:
                minutes = json.dumps(minute_ranges(batch.meter_minutes)) if batch.meter_minutes else None
                texts.append((lane, len(batch.lines), "\n".join(batch.lines), site, minutes))
        if not texts:
            return
        count = sum(n for _, n, *_ in texts)
        size = sum(len(text) for _, _, text, *_ in texts)
        now_ms = int(time.time() * 1000)
        with self._lock:
            if self.depth_lines > 0 and (
                self.depth_lines + count > self.max_lines or self.depth_bytes + size > self.max_bytes
            ):
                raise SpoolFull(f"spool holds {self.depth_lines} points ({self.depth_bytes} bytes)")
            with self._writer:  # one transaction: all rows or none
                self._writer.execute("BEGIN")
                self._writer.executemany(
                    "INSERT INTO spool (created_ms, n, bytes, lines, lane, site, meter_minutes)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(now_ms, n, len(text), text, int(lane), site, minutes) for lane, n, text, site, minutes in texts],
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
        row_sites: list[tuple[str | None, int]] = []
        minutes: list[tuple[int, int]] = []
        oldest = 0
        with self._read_lock:
            for row_id, created_ms, n, text, lane, site, meter_minutes in self._reader.execute(
                "SELECT id, created_ms, n, lines, lane, site, meter_minutes FROM spool ORDER BY lane, id LIMIT 10000"
            ):
                if lines and len(lines) + n > max_lines:
                    break
                oldest = created_ms if not lines else min(oldest, created_ms)
                row_lines = split_lines(text, n)
                lines.extend(row_lines)
                row_sites.append((site, len(row_lines)))
                if meter_minutes:
                    minutes.extend((start, end) for start, end in json.loads(meter_minutes))
                through[Lane(lane)] = row_id
        if not lines:
            return None
        return SpoolBatch(through, lines, oldest, row_sites, merge_ranges(minutes))

    def oldest_created_ms(self) -> int | None:
        """When the oldest row still spooled was committed; None for an empty spool."""
        with self._read_lock:
            row = self._reader.execute(
                "SELECT min(created_ms) FROM (SELECT created_ms FROM (SELECT created_ms FROM spool WHERE lane = 0 "
                "ORDER BY id LIMIT 1) UNION ALL SELECT created_ms FROM (SELECT created_ms FROM spool WHERE lane = 1 "
                "ORDER BY id LIMIT 1))"
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

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
