"""The spool (SQLite WAL) and the ingest step: ack only after commit, bounded, dead letters on the same path."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from collector.ingest.pipeline import Ingest
from collector.metrics import CollectorMetrics
from collector.storage.dead_letters import DeadLetterStore
from collector.storage.spool import Lane, Spool, SpoolFull, SpoolRow
from tests.collector.traffic import base_ts_ms, reading


def test_spool_keeps_rows_in_order_across_a_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", 1000, 1_000_000)
    spool.append(["a 1", "b 2"])
    spool.append(["c 3"])
    spool.close()
    spool = Spool(tmp_path / "s.sqlite", 1000, 1_000_000)
    assert spool.depth_lines == 3
    batch = spool.peek(2)
    assert batch is not None and batch.lines == ["a 1", "b 2"]
    spool.remove(batch)
    assert spool.depth_lines == 1
    rest = spool.peek(100)
    assert rest is not None and rest.lines == ["c 3"]


def test_peek_takes_whole_rows_that_fit_in_one_request(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", 1000, 1_000_000)
    for row in (["a", "b", "c"], ["d", "e"], ["f", "g", "h", "i", "j", "k"], ["l"]):
        spool.append(row)
    sizes = []
    while (batch := spool.peek(5)) is not None:
        sizes.append(len(batch.lines))
        spool.remove(batch)
    # 3+2 fill a request; a row larger than a request goes alone (the drainer splits it); 1 is the rest.
    assert sizes == [5, 6, 1]


def test_live_rows_go_first_and_fill_up_with_backlog(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", 1000, 1_000_000)
    spool.append(["backlog 1", "backlog 2", "backlog 3"], Lane.BACKLOG)
    spool.append(["live 1"])
    spool.append_rows([SpoolRow(Lane.LIVE, ["live 2"]), SpoolRow(Lane.BACKLOG, ["backlog 4"])])
    first = spool.peek(4)
    assert first is not None and first.lines == ["live 1", "live 2"]  # the next row, 3 lines, would not fit
    spool.append(["live 3"])  # arrives while the first batch is being written
    spool.remove(first)
    second = spool.peek(100)
    assert second is not None and second.lines == ["live 3", "backlog 1", "backlog 2", "backlog 3", "backlog 4"]
    spool.remove(second)
    assert spool.peek(100) is None and spool.depth_lines == 0


def test_a_spool_from_before_lanes_is_migrated_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE spool (id INTEGER PRIMARY KEY AUTOINCREMENT, created_ms INTEGER NOT NULL,"
        " n INTEGER NOT NULL, bytes INTEGER NOT NULL, lines TEXT NOT NULL)"
    )
    old.execute("INSERT INTO spool (created_ms, n, bytes, lines) VALUES (1, 2, 7, 'a 1\nb 2')")
    old.commit()
    old.close()
    spool = Spool(path, 1000, 1_000_000)
    spool.append(["c 3"], Lane.BACKLOG)
    batch = spool.peek(100)
    assert batch is not None and batch.lines == ["a 1", "b 2", "c 3"]


def test_spool_is_bounded(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", max_lines=3, max_bytes=1_000_000)
    spool.append(["a", "b"])
    with pytest.raises(SpoolFull):
        spool.append(["c", "d"])
    assert spool.depth_lines == 2


def test_ingest_acks_only_what_is_committed_and_holds_the_rest_while_the_spool_is_full(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite", max_lines=1000, max_bytes=1_000_000)
    acked: list[tuple[int, int]] = []
    ingest = Ingest(
        prefix="shopfloor",
        spool=spool,
        dead_letters=DeadLetterStore(tmp_path / "d.sqlite"),
        metrics=CollectorMetrics(),
        ack=acked.extend,
        commit_every=10_000,
    )
    t0 = base_ts_ms()
    topic = "shopfloor/v1/site-a/m00/reading"
    for i in range(5):
        ingest.receive(topic, json.dumps(reading(0, i, t0)).encode(), mid=i + 1, qos=1)
    ingest.receive(topic, b"{broken", mid=6, qos=1)
    assert acked == []  # received, not yet committed: not acked
    ingest.flush()
    assert sorted(mid for mid, _ in acked) == [1, 2, 3, 4, 5, 6]
    assert spool.depth_lines == 6  # five readings and one dead_letter point
    assert ingest.dead_letters.count() == 1

    spool.max_lines = 6  # now full
    ingest.receive(topic, json.dumps(reading(0, 9, t0)).encode(), mid=7, qos=1)
    ingest.flush()
    assert 7 not in [mid for mid, _ in acked]
    batch = spool.peek(100)
    assert batch is not None
    spool.remove(batch)  # the drainer made room
    ingest.flush()
    assert 7 in [mid for mid, _ in acked]
