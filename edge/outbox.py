"""The durable outbox: every reading waits in SQLite until the broker acknowledged it.

Why it survives what it must:

* ``journal_mode=WAL`` + ``synchronous=NORMAL``: each reading is committed right after it is
  read. A commit appends to the WAL file (the OS page cache holds it), so ``kill -9`` of the
  agent loses nothing. Only a power cut can lose the last commits not yet written back.
* fsync happens at checkpoints, which :meth:`Outbox.checkpoint` runs every
  ``checkpoint_interval_s`` (automatic checkpoints are off): one sync per interval instead of
  one per reading spares SD cards.
* ``seq`` is a per-edge counter kept in the same transaction as the reading, so it keeps
  rising across restarts even when the outbox is empty.
* Bounded by rows and age; the oldest rows go first, and every drop is counted persistently.
* Station events wait in the same table (they take ``seq`` numbers too, so a reading's ``seq``
  may skip). Each row keeps its contract kind and source beside the payload, so the publisher
  picks the topic without reading the payload back. The ``state`` table keeps energy-counter
  offsets and station counters, written in the same transaction as the message they produced.

Used from one thread (the agent's event loop).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from shopfloor.contract import Kind

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    seq INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, payload TEXT NOT NULL, kind TEXT, source TEXT
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('next_seq', 0), ('dropped_full', 0), ('dropped_age', 0);
"""


class Outgoing(NamedTuple):
    """A message to store: ``render(seq)`` encodes it with its sequence number."""

    ts_ms: int
    kind: Kind
    source: str  # the device (a reading) or the station (an event): the topic's source level
    render: Callable[[int], str]


@dataclass(frozen=True, slots=True)
class Row:
    seq: int
    ts_ms: int
    kind: Kind
    source: str
    payload: str


class Outbox:
    def __init__(self, path: Path | str, *, max_rows: int = 1_000_000, max_age_s: float = 7 * 86_400) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_rows = max_rows
        self.max_age_ms = int(max_age_s * 1000)
        # One thread owns the connection (the agent's event loop); sqlite3 refuses any other, which
        # turns a threading mistake into an error instead of a crash in the C library.
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._depth: int = self._scalar("SELECT count(*) FROM readings")
        self._next_seq: int = self._counter("next_seq")

    def _migrate(self) -> None:
        """An outbox written before rows kept their kind and source: read each payload once, here."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(readings)").fetchall()}
        for name in ("kind", "source"):
            if name not in columns:
                self._db.execute(f"ALTER TABLE readings ADD COLUMN {name} TEXT")
        untyped = self._db.execute("SELECT seq, payload FROM readings WHERE kind IS NULL").fetchall()
        for seq, payload in untyped:
            body = json.loads(payload)
            kind, source = (Kind.EVENT, body["station"]) if "event_id" in body else (Kind.READING, body["device"])
            self._db.execute("UPDATE readings SET kind=?, source=? WHERE seq=?", (kind.value, source, seq))

    def _scalar(self, sql: str, *args: object) -> int:
        # fetchall() finalises the statement; a half-read cursor would block checkpoints.
        rows = self._db.execute(sql, args).fetchall()
        return int(rows[0][0])

    def _counter(self, name: str) -> int:
        return self._scalar("SELECT value FROM counters WHERE name=?", name)

    def append(self, message: Outgoing, state: tuple[str, str] | None = None) -> int:
        """Store one message; ``state`` = (key, value) is saved in the same transaction (an energy counter's offset)."""
        return self.append_many([message], state)[0]

    def append_many(self, messages: list[Outgoing], state: tuple[str, str] | None = None) -> list[int]:
        """Store several messages (a press's station events) and ``state`` atomically: all or none."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        seqs: list[int] = []
        try:
            seq = self._counter("next_seq")
            for ts_ms, kind, source, render in messages:
                db.execute(
                    "INSERT INTO readings (seq, ts_ms, payload, kind, source) VALUES (?, ?, ?, ?, ?)",
                    (seq, ts_ms, render(seq), kind.value, source),
                )
                seqs.append(seq)
                seq += 1
            db.execute("UPDATE counters SET value=? WHERE name='next_seq'", (seq,))
            if state is not None:
                db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", state)
            self._depth += len(messages)
            if self._depth > self.max_rows:
                self._drop_oldest(self._depth - self.max_rows, "dropped_full")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self._depth = self._scalar("SELECT count(*) FROM readings")
            raise
        self._next_seq = seq
        return seqs

    def save_state(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, value))

    def load_state(self, key: str) -> str | None:
        rows = self._db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchall()
        return str(rows[0][0]) if rows else None

    def _drop_oldest(self, count: int, counter: str) -> None:
        cur = self._db.execute(
            "DELETE FROM readings WHERE seq IN (SELECT seq FROM readings ORDER BY seq LIMIT ?)", (count,)
        )
        self._db.execute("UPDATE counters SET value=value+? WHERE name=?", (cur.rowcount, counter))
        self._depth -= cur.rowcount

    def expire(self, now_ms: int) -> int:
        """Drop readings older than ``max_age_s``; returns how many."""
        cutoff = now_ms - self.max_age_ms
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        cur = db.execute("DELETE FROM readings WHERE ts_ms < ?", (cutoff,))
        db.execute("UPDATE counters SET value=value+? WHERE name='dropped_age'", (cur.rowcount,))
        db.execute("COMMIT")
        self._depth -= cur.rowcount
        return cur.rowcount

    def after(self, seq: int, limit: int) -> list[Row]:
        """The oldest ``limit`` readings with a sequence number above ``seq``, in order."""
        rows = self._db.execute(
            "SELECT seq, ts_ms, kind, source, payload FROM readings WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        ).fetchall()
        return [Row(seq, ts_ms, Kind(kind), source, payload) for seq, ts_ms, kind, source, payload in rows]

    def remove(self, seqs: list[int]) -> None:
        if not seqs:
            return
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        removed = 0
        for start in range(0, len(seqs), 500):
            chunk = seqs[start : start + 500]
            marks = ",".join("?" * len(chunk))
            removed += db.execute(f"DELETE FROM readings WHERE seq IN ({marks})", chunk).rowcount
        db.execute("COMMIT")
        self._depth -= removed

    @property
    def next_seq(self) -> int:
        """The sequence number the next reading will get: how many readings were ever stored.

        Kept in memory like ``depth``, so monitoring may read it from any thread.
        """
        return self._next_seq

    @property
    def depth(self) -> int:
        return int(self._depth)

    def oldest_ts_ms(self) -> int | None:
        rows = self._db.execute("SELECT ts_ms FROM readings ORDER BY seq LIMIT 1").fetchall()
        return int(rows[0][0]) if rows else None

    def dropped(self) -> dict[str, int]:
        return {"full": self._counter("dropped_full"), "age": self._counter("dropped_age")}

    def checkpoint(self) -> None:
        """Write the WAL back into the database file and fsync: the batched durability point."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def close(self) -> None:
        try:
            self.checkpoint()
        finally:
            self._db.close()
