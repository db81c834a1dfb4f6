"""The dead-letter store: every message the collector could not use, with its reason, topic, time and bytes.

SQLite in WAL mode, beside the spool. Kinds: ``contract`` (the message broke contract v1),
``write_rejected`` (InfluxDB refused a line) and ``cardinality_limit`` (a site, device or station beyond
``ingest.limits``). A ``write_rejected`` letter keeps the contract message rebuilt from its line
(:mod:`collector.drain.recover`) as its topic and payload, and the line itself in ``line``; one from before
that (or whose line could not be rebuilt) has an empty topic and the line as its payload. A message
redelivered by the broker is stored once: the row is keyed by a digest of topic and payload, and ``seen``
counts the deliveries.

Bounded: a payload beyond ``max_payload_bytes`` keeps its head, its size and its digest (it can no longer
be requeued); the store as a whole keeps at most ``max_bytes`` and ``max_age_s``, dropping the oldest
letters first and counting every drop (``on_drop``), so a flood of huge messages cannot fill the disk.
A kind may also have a cap on its number of open letters (``caps``: ``cardinality_limit`` by default): past
it, new letters of that kind are counted (``on_drop("cap", n)``) and not stored, so a flood of invented ids
neither grows the store nor pushes the other letters out.
``shopfloor collector dead-letters`` and the API read it; requeue lives in :mod:`collector.ingest.requeue`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.settings import DeadLetterSettings
from collector.storage.sqlite import open_sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    digest BLOB NOT NULL UNIQUE,
    received_at_ms INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    reason TEXT NOT NULL,
    kind TEXT NOT NULL,
    seen INTEGER NOT NULL DEFAULT 1,
    requeued_at_ms INTEGER,
    site TEXT,
    payload_bytes INTEGER,
    line TEXT
);
CREATE INDEX IF NOT EXISTS dead_letters_open ON dead_letters (requeued_at_ms, id);
"""
_ADDED_COLUMNS = {"site": "TEXT", "payload_bytes": "INTEGER", "line": "TEXT"}

log = logging.getLogger(__name__)

# Told how many letters a bound dropped, and which bound: "size" or "age".
DropHook = Callable[[str, int], None]

CONTRACT = "contract"
WRITE_REJECTED = "write_rejected"
CARDINALITY = "cardinality_limit"


@dataclass(frozen=True, slots=True)
class NewDeadLetter:
    topic: str
    payload: bytes
    reason: str
    kind: str
    site: str | None = None
    line: str | None = None  # write_rejected: the line InfluxDB refused


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    received_at_ms: int
    topic: str
    payload: bytes
    reason: str
    kind: str
    seen: int
    requeued_at_ms: int | None
    site: str | None = None
    payload_bytes: int | None = None  # the size received, when only the head of the payload was kept
    line: str | None = None  # write_rejected: the line InfluxDB refused

    @property
    def only_lines(self) -> bool:
        """A rejected write kept as line protocol only (before contract messages were kept, or not rebuildable)."""
        return self.kind == WRITE_REJECTED and not self.topic

    @property
    def truncated(self) -> bool:
        return self.payload_bytes is not None and self.payload_bytes > len(self.payload)


def _digest(topic: str, payload: bytes) -> bytes:
    return hashlib.blake2b(topic.encode() + b"\0" + payload, digest_size=16).digest()


_COLUMNS = "id, received_at_ms, topic, payload, reason, kind, seen, requeued_at_ms, site, payload_bytes, line"
# What a letter costs besides its payload and reason: the row, its key and its index entries.
_ROW_OVERHEAD = 200


class DeadLetterStore:
    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 100_000_000,
        max_age_s: float = 30 * 86_400,
        max_payload_bytes: int = 65_536,
        on_drop: DropHook | None = None,
        caps: dict[str, int] | None = None,
    ) -> None:
        self.path = path
        self.caps = {CARDINALITY: 1000} if caps is None else caps
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.max_payload_bytes = max_payload_bytes
        self.on_drop = on_drop
        self._conn = open_sqlite(path)
        self._conn.executescript(_SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(dead_letters)")}
        for name, definition in _ADDED_COLUMNS.items():
            if name not in columns:
                self._conn.execute(f"ALTER TABLE dead_letters ADD COLUMN {name} {definition}")
        self._lock = threading.Lock()
        self._bytes = int(
            self._conn.execute(
                f"SELECT coalesce(sum(length(payload) + length(reason) + length(topic) + {_ROW_OVERHEAD}), 0)"
                " FROM dead_letters"
            ).fetchone()[0]
        )
        self._bound_logged = False
        self._cap_logged: set[str] = set()
        self._open_by_kind = self._count_capped()

    def _count_capped(self) -> dict[str, int]:
        return {kind: self._count_open(kind) for kind in self.caps}

    def _count_open(self, kind: str) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM dead_letters WHERE requeued_at_ms IS NULL AND kind = ?", (kind,)
        ).fetchone()
        return int(row[0])

    @classmethod
    def open(cls, settings: DeadLetterSettings, on_drop: DropHook | None = None) -> DeadLetterStore:
        return cls(
            settings.path,
            max_bytes=settings.max_bytes,
            max_age_s=settings.max_age_days * 86_400,
            max_payload_bytes=settings.max_payload_bytes,
            on_drop=on_drop,
            caps={CARDINALITY: settings.max_cardinality_letters},
        )

    @property
    def size_bytes(self) -> int:
        """What the letters take, as counted against ``max_bytes``."""
        return self._bytes

    def _kept(self, letter: NewDeadLetter) -> tuple[bytes, int | None]:
        if len(letter.payload) <= self.max_payload_bytes:
            return letter.payload, None
        return letter.payload[: self.max_payload_bytes], len(letter.payload)

    def add_many(self, letters: list[NewDeadLetter]) -> list[tuple[NewDeadLetter, int]]:
        """Store in one transaction. Returns the letters that were new, with their receive time (ms)."""
        now_ms = int(time.time() * 1000)
        fresh: list[tuple[NewDeadLetter, int]] = []
        capped: dict[str, int] = {}
        reopened = False  # a requeued letter of a capped kind that came again
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                for letter in letters:
                    cap = self.caps.get(letter.kind)
                    if cap is not None and self._open_by_kind[letter.kind] >= cap:
                        capped[letter.kind] = capped.get(letter.kind, 0) + 1
                        continue
                    digest = _digest(letter.topic, letter.payload)
                    payload, size = self._kept(letter)
                    cursor = self._conn.execute(
                        "INSERT OR IGNORE INTO dead_letters"
                        " (digest, received_at_ms, topic, payload, reason, kind, site, payload_bytes, line)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            digest,
                            now_ms,
                            letter.topic,
                            payload,
                            letter.reason,
                            letter.kind,
                            letter.site,
                            size,
                            letter.line,
                        ),
                    )
                    if cursor.rowcount == 1:
                        fresh.append((letter, now_ms))
                        if cap is not None:
                            self._open_by_kind[letter.kind] += 1
                        self._bytes += len(payload) + len(letter.reason) + len(letter.topic) + _ROW_OVERHEAD
                    else:
                        self._conn.execute(
                            "UPDATE dead_letters SET seen = seen + 1, requeued_at_ms = NULL, reason = ?"
                            " WHERE digest = ?",
                            (letter.reason, digest),
                        )
                        reopened = reopened or cap is not None
                dropped = self._enforce_bounds(now_ms)
                if dropped or reopened:
                    self._open_by_kind = self._count_capped()
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                self._bytes = self._count_bytes()
                self._open_by_kind = self._count_capped()
                raise
        for why, count in dropped.items():
            self._note_drop(why, count)
        for kind, count in capped.items():
            self._note_capped(kind, count)
        return fresh

    def _note_capped(self, kind: str, count: int) -> None:
        if kind not in self._cap_logged:
            log.warning(
                "dead-letter store holds %d open %s letters, its cap: further ones are counted in "
                'shopfloor_collector_dead_letters_dropped_total{why="cap"}, not kept',
                self.caps[kind],
                kind,
            )
            self._cap_logged.add(kind)
        if self.on_drop is not None:
            self.on_drop("cap", count)

    def _count_bytes(self) -> int:
        return int(
            self._conn.execute(
                f"SELECT coalesce(sum(length(payload) + length(reason) + length(topic) + {_ROW_OVERHEAD}), 0)"
                " FROM dead_letters"
            ).fetchone()[0]
        )

    def _enforce_bounds(self, now_ms: int) -> dict[str, int]:
        """Inside the caller's transaction: drop letters past ``max_age_s``, then the oldest past ``max_bytes``."""
        dropped: dict[str, int] = {}
        aged = self._conn.execute(
            "DELETE FROM dead_letters WHERE received_at_ms < ?", (now_ms - int(self.max_age_s * 1000),)
        ).rowcount
        if aged:
            dropped["age"] = aged
            self._bytes = self._count_bytes()
        oversize = 0
        while self._bytes > self.max_bytes:
            rows = self._conn.execute(
                f"SELECT id, length(payload) + length(reason) + length(topic) + {_ROW_OVERHEAD}"
                " FROM dead_letters ORDER BY id LIMIT 100"
            ).fetchall()
            if not rows:
                break
            excess = self._bytes - self.max_bytes
            ids: list[int] = []
            for letter_id, size in rows:
                ids.append(letter_id)
                excess -= size
                self._bytes -= size
                if excess <= 0:
                    break
            marks = ",".join("?" * len(ids))
            oversize += self._conn.execute(f"DELETE FROM dead_letters WHERE id IN ({marks})", ids).rowcount
        if oversize:
            dropped["size"] = oversize
        return dropped

    def _note_drop(self, why: str, count: int) -> None:
        if not self._bound_logged:
            bound = f"max_bytes {self.max_bytes}" if why == "size" else f"max_age_s {self.max_age_s:g}"
            log.warning(
                "dead-letter store at its bound (%s): dropped the %d oldest letter(s); the count is in "
                "shopfloor_collector_dead_letters_dropped_total",
                bound,
                count,
            )
            self._bound_logged = True
        if self.on_drop is not None:
            self.on_drop(why, count)

    def _rows(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """A read, under the lock that close() takes: no thread reads a connection being closed."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def entries(
        self, limit: int = 100, offset: int = 0, kind: str | None = None, requeued: bool = False
    ) -> list[DeadLetter]:
        where = "requeued_at_ms IS NOT NULL" if requeued else "requeued_at_ms IS NULL"
        params: list[object] = []
        if kind is not None:
            where += " AND kind = ?"
            params.append(kind)
        rows = self._rows(
            f"SELECT {_COLUMNS} FROM dead_letters WHERE {where} ORDER BY id LIMIT ? OFFSET ?", (*params, limit, offset)
        )
        return [DeadLetter(*row) for row in rows]

    def get(self, letter_id: int) -> DeadLetter | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM dead_letters WHERE id = ?", (letter_id,))
        return DeadLetter(*rows[0]) if rows else None

    def open_ids(self) -> list[int]:
        return [row[0] for row in self._rows("SELECT id FROM dead_letters WHERE requeued_at_ms IS NULL")]

    def count(self, kind: str | None = None) -> int:
        if kind is None:
            return int(self._rows("SELECT count(*) FROM dead_letters WHERE requeued_at_ms IS NULL")[0][0])
        rows = self._rows("SELECT count(*) FROM dead_letters WHERE requeued_at_ms IS NULL AND kind = ?", (kind,))
        return int(rows[0][0])

    def count_for_site(self, prefix: str, site: str, start_ms: int, end_ms: int) -> dict[str, int]:
        """Dead letters received in ``[start_ms, end_ms)`` for the site, per kind (requeued ones too: a report
        counts what went wrong in its range). Letters kept before the site column are matched by topic."""
        pattern = f"{prefix}/v1/{site}/%".replace("_", "\\_")
        rows = self._rows(
            "SELECT kind, count(*) FROM dead_letters WHERE (site = ? OR (site IS NULL AND topic LIKE ? ESCAPE '\\')) "
            "AND received_at_ms >= ? AND received_at_ms < ? GROUP BY kind",
            (site, pattern, start_ms, end_ms),
        )
        return {str(kind): int(count) for kind, count in rows}

    def mark_requeued(self, letter_id: int) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE dead_letters SET requeued_at_ms = ? WHERE id = ?", (int(time.time() * 1000), letter_id)
            )
            self._open_by_kind = self._count_capped()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
