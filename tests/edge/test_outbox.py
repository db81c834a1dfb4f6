"""The outbox on a real SQLite file: seq survives restarts, bounds drop the oldest and count it."""

from __future__ import annotations

from pathlib import Path

from edge.outbox import Outbox
from edge.publisher import backoff_delay

NOW_MS = 1_763_900_000_000


def payload(seq: int) -> str:
    return f'{{"seq": {seq}}}'


def test_seq_survives_reopen_even_when_empty(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    seqs = [box.append(NOW_MS, payload) for _ in range(3)]
    box.remove(seqs)
    box.close()
    reopened = Outbox(tmp_path / "o.db")
    assert reopened.depth == 0
    assert reopened.append(NOW_MS, payload) == 3
    assert [row.payload for row in reopened.after(-1, 10)] == ['{"seq": 3}']


def test_rows_stay_until_removed_in_order(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    for _ in range(5):
        box.append(NOW_MS, payload)
    box.remove([1, 3])
    assert [row.seq for row in box.after(-1, 10)] == [0, 2, 4]
    assert [row.seq for row in box.after(0, 1)] == [2]
    assert box.depth == 3
    assert box.oldest_ts_ms() == NOW_MS


def test_full_outbox_drops_oldest_and_counts_persistently(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_rows=100)
    for _ in range(130):
        box.append(NOW_MS, payload)
    assert box.depth == 100
    assert box.after(-1, 1)[0].seq == 30
    assert box.dropped() == {"full": 30, "age": 0}
    box.close()
    assert Outbox(tmp_path / "o.db", max_rows=100).dropped() == {"full": 30, "age": 0}


def test_old_readings_expire_and_are_counted(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_age_s=60)
    box.append(NOW_MS - 120_000, payload)
    box.append(NOW_MS - 30_000, payload)
    assert box.expire(NOW_MS) == 1
    assert [row.seq for row in box.after(-1, 10)] == [1]
    assert box.dropped() == {"full": 0, "age": 1}


def test_checkpoint_empties_the_wal(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    for _ in range(50):
        box.append(NOW_MS, payload)
    wal = tmp_path / "o.db-wal"
    assert wal.stat().st_size > 0
    box.checkpoint()
    assert wal.stat().st_size == 0


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    assert backoff_delay(0, 1, 60, rand=lambda: 0.0) == 0.5
    assert backoff_delay(0, 1, 60, rand=lambda: 1.0) == 1.0
    assert backoff_delay(3, 1, 60, rand=lambda: 1.0) == 8.0
    assert backoff_delay(20, 1, 60, rand=lambda: 0.0) == 30.0
    assert backoff_delay(20, 1, 60, rand=lambda: 1.0) == 60.0


def test_events_go_alone_and_split_reading_batches() -> None:
    from edge.outbox import Row
    from edge.publisher import batchable

    reading = '{"ts_ms":1,"seq":0,"edge":"e","device":"d"}'
    event = '{"event_id":"bench-1-1","ts_ms":1,"station":"bench-1"}'
    rows = [Row(0, 1, reading), Row(1, 1, reading), Row(2, 1, event), Row(3, 1, reading)]
    assert [r.seq for r in batchable(rows)] == [0, 1]
    assert [r.seq for r in batchable(rows[2:])] == [2]
    assert [r.seq for r in batchable(rows[3:])] == [3]


def test_state_is_stored_with_the_message(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.append_many([(1, lambda seq: "a"), (2, lambda seq: "b")], ("station:bench-1", '{"events": 2}'))
    box.close()
    again = Outbox(tmp_path / "o.db")
    assert again.load_state("station:bench-1") == '{"events": 2}'
    assert [r.payload for r in again.after(-1, 10)] == ["a", "b"]
    assert again.load_state("nothing") is None
