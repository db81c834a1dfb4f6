"""The spool (SQLite WAL) and the ingest step: ack only after commit, bounded, dead letters on the same path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.deadletters import DeadLetterStore
from collector.ingest import Ingest
from collector.metrics import CollectorMetrics
from collector.spool import Spool, SpoolFull
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
    spool.delete_through(batch.last_id)
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
        spool.delete_through(batch.last_id)
    # 3+2 fill a request; a row larger than a request goes alone (the drainer splits it); 1 is the rest.
    assert sizes == [5, 6, 1]


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
    spool.delete_through(batch.last_id)  # the drainer made room
    ingest.flush()
    assert 7 in [mid for mid, _ in acked]
