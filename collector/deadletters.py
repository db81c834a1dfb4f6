"""The dead-letter store: every message the collector could not use, with its reason, topic, time and bytes.

SQLite in WAL mode, beside the spool. Kinds: ``contract`` (the message broke contract v1) and
``write_rejected`` (InfluxDB refused a line). A message redelivered by the broker is stored once: the
row is keyed by a digest of topic and payload, and ``seen`` counts the deliveries.
``shopfloor collector dead-letters`` and the API read it; requeue lives in :mod:`collector.requeue`.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.spool import open_sqlite

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
    requeued_at_ms INTEGER
);
CREATE INDEX IF NOT EXISTS dead_letters_open ON dead_letters (requeued_at_ms, id);
"""

CONTRACT = "contract"
WRITE_REJECTED = "write_rejected"


@dataclass(frozen=True, slots=True)
class NewDeadLetter:
    topic: str
    payload: bytes
    reason: str
    kind: str
    site: str | None = None


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


def _digest(topic: str, payload: bytes) -> bytes:
    return hashlib.blake2b(topic.encode() + b"\0" + payload, digest_size=16).digest()


_COLUMNS = "id, received_at_ms, topic, payload, reason, kind, seen, requeued_at_ms"


class DeadLetterStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = open_sqlite(path)
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def add_many(self, letters: list[NewDeadLetter]) -> list[tuple[NewDeadLetter, int]]:
        """Store in one transaction. Returns the letters that were new, with their receive time (ms)."""
        now_ms = int(time.time() * 1000)
        fresh: list[tuple[NewDeadLetter, int]] = []
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                for letter in letters:
                    digest = _digest(letter.topic, letter.payload)
                    cursor = self._conn.execute(
                        "INSERT OR IGNORE INTO dead_letters (digest, received_at_ms, topic, payload, reason, kind)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (digest, now_ms, letter.topic, letter.payload, letter.reason, letter.kind),
                    )
                    if cursor.rowcount == 1:
                        fresh.append((letter, now_ms))
                    else:
                        self._conn.execute(
                            "UPDATE dead_letters SET seen = seen + 1, requeued_at_ms = NULL, reason = ?"
                            " WHERE digest = ?",
                            (letter.reason, digest),
                        )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return fresh

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
        """Dead letters received in ``[start_ms, end_ms)`` on the site's topics, per kind (requeued ones too:
        a report counts what went wrong in its range)."""
        pattern = f"{prefix}/v1/{site}/%".replace("_", "\\_")
        rows = self._rows(
            "SELECT kind, count(*) FROM dead_letters WHERE topic LIKE ? ESCAPE '\\' "
            "AND received_at_ms >= ? AND received_at_ms < ? GROUP BY kind",
            (pattern, start_ms, end_ms),
        )
        return {str(kind): int(count) for kind, count in rows}

    def mark_requeued(self, letter_id: int) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE dead_letters SET requeued_at_ms = ? WHERE id = ?", (int(time.time() * 1000), letter_id)
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
