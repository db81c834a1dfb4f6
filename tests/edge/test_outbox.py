"""The outbox on a real SQLite file: seq survives restarts, bounds drop the oldest and count it."""

from __future__ import annotations

from pathlib import Path

from edge.outbox import Outbox, Outgoing
from shopfloor.contract import Kind

NOW_MS = 1_763_900_000_000


def payload(seq: int) -> str:
    return f'{{"seq": {seq}}}'


def reading_at(ts_ms: int) -> Outgoing:
    return Outgoing(ts_ms, Kind.READING, "m1", payload)


def test_seq_survives_reopen_even_when_empty(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    seqs = [box.append(reading_at(NOW_MS)) for _ in range(3)]
    box.remove(seqs)
    box.close()
    reopened = Outbox(tmp_path / "o.db")
    assert reopened.depth == 0
    assert reopened.append(reading_at(NOW_MS)) == 3
    assert [row.payload for row in reopened.after(-1, 10)] == ['{"seq": 3}']


def test_rows_stay_until_removed_in_order(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    for _ in range(5):
        box.append(reading_at(NOW_MS))
    box.remove([1, 3])
    assert [row.seq for row in box.after(-1, 10)] == [0, 2, 4]
    assert [row.seq for row in box.after(0, 1)] == [2]
    assert box.depth == 3
    assert box.oldest_ts_ms() == NOW_MS


def test_full_outbox_drops_oldest_and_counts_persistently(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_rows=100)
    for _ in range(130):
        box.append(reading_at(NOW_MS))
    assert box.depth == 100
    assert box.after(-1, 1)[0].seq == 30
    assert box.dropped() == {"full": 30, "age": 0}
    box.close()
    assert Outbox(tmp_path / "o.db", max_rows=100).dropped() == {"full": 30, "age": 0}


def test_old_readings_expire_and_are_counted(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_age_s=60)
    box.append(reading_at(NOW_MS - 120_000))
    box.append(reading_at(NOW_MS - 30_000))
    assert box.expire(NOW_MS) == 1
    assert [row.seq for row in box.after(-1, 10)] == [1]
    assert box.dropped() == {"full": 0, "age": 1}


def test_checkpoint_empties_the_wal(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    for _ in range(50):
        box.append(reading_at(NOW_MS))
    wal = tmp_path / "o.db-wal"
    assert wal.stat().st_size > 0
    box.checkpoint()
    assert wal.stat().st_size == 0


def test_events_go_alone_and_split_reading_batches() -> None:
    from edge.outbox import Row
    from edge.publisher import batchable

    reading = '{"ts_ms":1,"seq":0,"edge":"e","device":"d"}'
    event = '{"event_id":"bench-1-1","ts_ms":1,"station":"bench-1"}'
    rows = [
        Row(0, 1, Kind.READING, "d", reading),
        Row(1, 1, Kind.READING, "d", reading),
        Row(2, 1, Kind.EVENT, "bench-1", event),
        Row(3, 1, Kind.READING, "d", reading),
    ]
    assert [r.seq for r in batchable(rows)] == [0, 1]
    assert [r.seq for r in batchable(rows[2:])] == [2]
    assert [r.seq for r in batchable(rows[3:])] == [3]


def test_state_is_stored_with_the_message(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append_many(
        [Outgoing(1, Kind.EVENT, "bench-1", lambda seq: "a"), Outgoing(2, Kind.EVENT, "bench-1", lambda seq: "b")],
        ("station:bench-1", '{"events": 2}'),
    )
    box.close()
    again = Outbox(tmp_path / "o.db")
    assert again.load_state("station:bench-1") == '{"events": 2}'
    assert [r.payload for r in again.after(-1, 10)] == ["a", "b"]
    assert again.load_state("nothing") is None


def test_an_outbox_from_before_kinds_is_migrated_once(tmp_path: Path) -> None:
    """Rows written by an older agent keep their payload and get the kind and source the publisher needs."""
    import sqlite3

    path = tmp_path / "o.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE readings (seq INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, payload TEXT NOT NULL)")
        old.execute("INSERT INTO readings VALUES (0, 1, ?)", ('{"ts_ms":1,"seq":0,"edge":"e","device":"main"}',))
        old.execute("INSERT INTO readings VALUES (1, 2, ?)", ('{"event_id":"b-1","ts_ms":2,"station":"bench-1"}',))
    old.close()
    box = Outbox(path)
    rows = box.after(-1, 10)
    assert [(row.kind, row.source) for row in rows] == [(Kind.READING, "main"), (Kind.EVENT, "bench-1")]
    assert rows[0].payload == '{"ts_ms":1,"seq":0,"edge":"e","device":"main"}'
