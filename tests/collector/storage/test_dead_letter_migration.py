"""A dead-letter store from before rejected writes kept their contract message: migrated in place, its rows kept,
and its line-only letters refused by requeue (never spooled); the per-kind cap of cardinality letters."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from collector.ingest.requeue import ONLY_LINES, Refusal, requeue
from collector.storage.dead_letters import CARDINALITY, CONTRACT, WRITE_REJECTED, DeadLetterStore, NewDeadLetter
from collector.storage.spool import Spool

OLD_SCHEMA = """
CREATE TABLE dead_letters (
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
    payload_bytes INTEGER
);
"""
OLD_LINE = b"meter,device=main,edge=pi,site=gent power=1.0 1763900000000000000"


def test_an_old_store_is_migrated_and_its_line_only_letters_are_never_requeued(tmp_path: Path) -> None:
    path = tmp_path / "dead.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SCHEMA)
    conn.execute(
        "INSERT INTO dead_letters (digest, received_at_ms, topic, payload, reason, kind, site)"
        " VALUES (x'01', 1, '', ?, 'HTTP 400: partial write: points beyond retention policy dropped=1',"
        " 'write_rejected', 'gent')",
        (OLD_LINE,),
    )
    conn.commit()
    conn.close()

    store = DeadLetterStore(path)
    spool = Spool(tmp_path / "spool.sqlite", 1000, 10_000_000)
    [letter] = store.entries()
    assert letter.kind == WRITE_REJECTED and letter.payload == OLD_LINE and letter.line is None and letter.only_lines
    for edited in (None, OLD_LINE, json.dumps({"ts_ms": 1}).encode()):
        result = requeue(store, spool, letter.id, prefix="shopfloor", edited_payload=edited)
        assert (result.ok, result.refusal, result.detail) == (False, Refusal.CONFLICT, ONLY_LINES)
    assert spool.depth_lines == 0 and spool.peek(10) is None
    assert store.get(letter.id) is not None and store.get(letter.id).requeued_at_ms is None  # type: ignore[union-attr]
    # New letters get the column.
    store.add_many([NewDeadLetter("t", b"{}", "bad", WRITE_REJECTED, "gent", "a line")])
    assert store.entries()[-1].line == "a line"
    spool.close()
    store.close()


def test_cardinality_letters_stop_at_their_cap_and_leave_the_others_room(tmp_path: Path) -> None:
    drops: list[tuple[str, int]] = []
    store = DeadLetterStore(tmp_path / "d.sqlite", caps={CARDINALITY: 3}, on_drop=lambda *d: drops.append(d))
    fresh = store.add_many([NewDeadLetter(f"t/{i}", b"{}", "cardinality_limit: x", CARDINALITY) for i in range(5)])
    assert len(fresh) == 3 and store.count(CARDINALITY) == 3 and drops == [("cap", 2)]
    store.add_many([NewDeadLetter("t/other", b"{", "not JSON", CONTRACT)])
    assert store.count(CONTRACT) == 1
    store.mark_requeued(store.entries(kind=CARDINALITY)[0].id)  # a requeued letter frees its place
    assert len(store.add_many([NewDeadLetter("t/new", b"{}", "cardinality_limit: y", CARDINALITY)])) == 1
    store.close()
    reopened = DeadLetterStore(tmp_path / "d.sqlite", caps={CARDINALITY: 3})
    assert reopened.add_many([NewDeadLetter("t/late", b"{}", "cardinality_limit: z", CARDINALITY)]) == []
    reopened.close()
