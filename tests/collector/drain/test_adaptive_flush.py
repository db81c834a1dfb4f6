"""Adaptive flushing, in terms that cannot depend on the machine's speed: no test here times anything.

* Light traffic: a message nothing follows is committed and acked within the call that receives it, and an idle
  drainer writes a single spooled point in the step that finds it. The spool's ``wait`` is the one place either
  could wait for a timer, so the drainer's tests use a spool whose ``wait`` fails the test (a real SQLite spool
  otherwise), and a real influxd.
* Load: right after a write, a small batch waits for more (a pause of twice that write's own time, at most the
  flush interval: collector.pacing), full batches go back to back, and a backlog through the real broker and
  collector is written in batches of more than one line. Where a test needs the pause to outlast it, the pause's
  share is made huge, so the pause is its cap.
* At-least-once is unchanged: nothing is acked before its commit, and a full spool still holds the ack.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.drain.drainer import Drainer
from collector.influx.v1 import InfluxV1Client
from collector.ingest.pipeline import Ingest
from collector.metrics import CollectorMetrics
from collector.pacing import PAUSE_PER_OPERATION_TIME
from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings, InfluxV1Settings
from collector.storage.dead_letters import DeadLetterStore
from collector.storage.spool import Spool
from simulator.services import Influxd, Mosquitto, wait_until
from tests.collector.traffic import Publisher, base_ts_ms, reading, readings
from tests.harness.influx import InfluxTestDB

pytestmark = pytest.mark.integration

T = 1763900000000000000
TOPIC = "shopfloor/v1/site-a/m00/reading"


class WaitingIsAFailure(Spool):
    """A real spool whose ``wait`` fails the test: the drainer must write without waiting for anything."""

    def wait(self, min_lines: int, timeout: float) -> None:
        raise AssertionError(f"the drainer waited (for {min_lines} lines or {timeout} s) with points spooled")


CAP_ALWAYS = 1e9  # a pause share this large makes every pause its cap, whatever the operation took


def drainer_with(
    db: InfluxTestDB, tmp_path: Path, spool: Spool | None = None, share: float = CAP_ALWAYS, **settings: int
) -> tuple[Drainer, Spool, CollectorMetrics]:
    influx = InfluxV1Settings(url=db.url, database=db.database, **settings)
    spool = spool or WaitingIsAFailure(tmp_path / "spool.sqlite", 1_000_000, 1_000_000_000)
    metrics = CollectorMetrics()
    store = DeadLetterStore(tmp_path / "dead.sqlite")
    drainer = Drainer(spool, InfluxV1Client(influx), store, metrics, influx)
    drainer.pace.share = share
    return drainer, spool, metrics


def batches(metrics: CollectorMetrics) -> tuple[float, float]:
    """(write requests, lines in them) from the drainer's histogram."""
    count = metrics.registry.get_sample_value("shopfloor_collector_write_batch_lines_count")
    total = metrics.registry.get_sample_value("shopfloor_collector_write_batch_lines_sum")
    return count or 0.0, total or 0.0


def test_an_idle_drainer_writes_a_single_point_in_the_step_that_finds_it(
    influx_db: InfluxTestDB, tmp_path: Path
) -> None:
    drainer, spool, metrics = drainer_with(influx_db, tmp_path)
    spool.append([f"meter,device=m0,site=gent power=1.5 {T}"])
    drainer.drain_once()  # WaitingIsAFailure: a wait for a fuller batch or a timer fails here
    assert influx_db.scalar("SELECT count(power) FROM meter") == 1
    assert batches(metrics) == (1.0, 1.0)
    assert spool.depth_lines == 0


def test_right_after_a_write_the_drainer_lets_a_small_batch_grow_for_the_pause(
    influx_db: InfluxTestDB, tmp_path: Path
) -> None:
    """Under load: what is committed just after a write waits for more (and the test above can fail)."""
    drainer, spool, metrics = drainer_with(influx_db, tmp_path, flush_interval_ms=60_000)
    spool.append([f"meter,device=m0,site=gent power=1.5 {T}"])
    drainer.drain_once()  # the first after a quiet spell: at once, even with a minute's interval
    assert batches(metrics) == (1.0, 1.0)
    spool.append([f"meter,device=m0,site=gent power=2.5 {T + 1}"])
    with pytest.raises(AssertionError, match="the drainer waited"):
        drainer.drain_once()
    assert batches(metrics) == (1.0, 1.0)


def test_a_quick_write_earns_a_short_pause_not_the_whole_flush_interval(
    influx_db: InfluxTestDB, tmp_path: Path
) -> None:
    """Light traffic: the pause after a write is twice that write's own time, so with a minute's interval the
    next point still goes out within the same step (a fixed interval would hold it for the minute)."""
    spool = Spool(tmp_path / "spool.sqlite", 1_000_000, 1_000_000_000)
    drainer, spool, metrics = drainer_with(
        influx_db, tmp_path, spool, share=PAUSE_PER_OPERATION_TIME, flush_interval_ms=60_000
    )
    spool.append([f"meter,device=m0,site=gent power=1.5 {T}"])
    drainer.drain_once()
    assert 0 < drainer.pace.pause_s < 30  # a loopback write of one line: milliseconds, even on a loaded machine
    spool.append([f"meter,device=m0,site=gent power=2.5 {T + 1}"])
    drainer.drain_once()  # waits out the short pause (the spool's real wait), then writes
    assert batches(metrics) == (2.0, 2.0)
    assert influx_db.scalar("SELECT count(power) FROM meter") == 2


def test_full_batches_go_out_back_to_back_whatever_the_interval(influx_db: InfluxTestDB, tmp_path: Path) -> None:
    drainer, spool, metrics = drainer_with(influx_db, tmp_path, batch_size=200, flush_interval_ms=60_000)
    for row in range(6):  # six commits of 100 lines while the drainer was busy
        spool.append([f"meter,device=m{row},site=gent power={i}.5 {T + i}" for i in range(100)])
    for _ in range(3):  # a full batch is always waiting: no wait, whole rows up to 200 lines
        drainer.drain_once()
    assert spool.depth_lines == 0
    assert influx_db.scalar("SELECT count(power) FROM meter") == 600
    assert batches(metrics) == (3.0, 600.0)


def ingest_for(
    tmp_path: Path,
    acked: list[tuple[int, int]],
    spool: Spool | None = None,
    commit_gap_s: float = 3600,
    commit_share: float = CAP_ALWAYS,
) -> Ingest:
    """An ingest whose pause after a commit outlasts any test (the cap, an hour): what it commits in ``receive``,
    it commits at once."""
    return Ingest(
        prefix="shopfloor",
        spool=spool or Spool(tmp_path / "s.sqlite", max_lines=1_000_000, max_bytes=1_000_000_000),
        dead_letters=DeadLetterStore(tmp_path / "d.sqlite"),
        metrics=CollectorMetrics(),
        ack=acked.extend,
        commit_every=500,
        commit_gap_s=commit_gap_s,
        commit_share=commit_share,
    )


def message(i: int) -> bytes:
    return json.dumps(reading(0, i, base_ts_ms())).encode()


def test_a_message_after_a_quiet_spell_is_committed_and_acked_in_the_call_that_receives_it(tmp_path: Path) -> None:
    acked: list[tuple[int, int]] = []
    ingest = ingest_for(tmp_path, acked)
    ingest.receive(TOPIC, message(0), mid=1, qos=1, more_waiting=False)
    assert acked == [(1, 1)]
    assert ingest.spool.depth_lines == 1


def test_under_steady_traffic_commits_are_spaced_and_acks_wait_for_them(tmp_path: Path) -> None:
    acked: list[tuple[int, int]] = []
    ingest = ingest_for(tmp_path, acked)
    ingest.receive(TOPIC, message(0), mid=1, qos=1, more_waiting=False)  # after a quiet spell: at once
    for i in range(1, 4):  # within the commit gap: grouped, not acked
        ingest.receive(TOPIC, message(i), mid=i + 1, qos=1, more_waiting=False)
    assert acked == [(1, 1)] and ingest.spool.depth_lines == 1
    ingest.flush()  # what the commit thread does once the gap has passed
    assert sorted(acked) == [(1, 1), (2, 1), (3, 1), (4, 1)] and ingest.spool.depth_lines == 4


def test_the_commit_thread_commits_a_due_group_once_the_gap_has_passed(tmp_path: Path) -> None:
    acked: list[tuple[int, int]] = []
    ingest = ingest_for(tmp_path, acked, commit_gap_s=0.0)
    ingest.receive(TOPIC, message(0), mid=1, qos=1, more_waiting=True)  # the socket held more: no commit yet
    assert acked == []
    ingest.commit_when_due(timeout=0.0)
    assert acked == [(1, 1)]


def test_a_quick_commit_earns_a_short_pause_not_the_whole_commit_interval(tmp_path: Path) -> None:
    acked: list[tuple[int, int]] = []
    ingest = ingest_for(tmp_path, acked, commit_share=PAUSE_PER_OPERATION_TIME)  # an hour's interval
    ingest.receive(TOPIC, message(0), mid=1, qos=1, more_waiting=False)
    assert acked == [(1, 1)]
    assert 0 < ingest.pace.pause_s < 1800  # twice one small SQLite commit's time, not the hour
    wait_until(lambda: ingest.pace.remaining_s() <= 0, 60, "the short pause over")
    ingest.receive(TOPIC, message(1), mid=2, qos=1, more_waiting=False)  # after the pause: committed at once
    assert acked == [(1, 1), (2, 1)]


def test_a_burst_is_committed_in_groups_of_commit_every_and_acked_only_after_each_commit(tmp_path: Path) -> None:
    acked: list[tuple[int, int]] = []
    ingest = ingest_for(tmp_path, acked)
    for i in range(499):
        ingest.receive(TOPIC, message(i), mid=i + 1, qos=1, more_waiting=True)
    assert acked == [] and ingest.spool.depth_lines == 0  # more is waiting: the group grows, nothing acked
    ingest.receive(TOPIC, message(499), mid=500, qos=1, more_waiting=True)
    assert len(acked) == 500 and ingest.spool.depth_lines == 500  # commit_every: one commit, then the acks
    batch = ingest.spool.peek(10_000)
    assert batch is not None and len(batch.through) == 1 and len(batch.lines) == 500  # one row: one transaction


def test_a_full_spool_still_holds_the_ack_of_a_message_nothing_follows(tmp_path: Path) -> None:
    acked: list[tuple[int, int]] = []
    spool = Spool(tmp_path / "s.sqlite", max_lines=1000, max_bytes=1_000_000)
    ingest = ingest_for(tmp_path, acked, spool)
    ingest.receive(TOPIC, message(0), mid=1, qos=1, more_waiting=False)
    spool.max_lines = 1  # now full
    ingest.receive(TOPIC, message(1), mid=2, qos=1, more_waiting=True)
    ingest.flush()
    assert acked == [(1, 1)]
    batch = spool.peek(100)
    assert batch is not None
    spool.remove(batch)  # the drainer made room
    ingest.flush()
    assert acked == [(1, 1), (2, 1)]


def test_through_the_real_broker_one_message_is_one_request_and_a_backlog_is_written_in_batches(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxd: Influxd,
    influx_db: InfluxTestDB,
    run_collector: Callable[[CollectorSettings], CollectorRuntime],
) -> None:
    settings = CollectorSettings.model_validate(
        {
            "collector_id": f"adaptive-{uuid.uuid4().hex[:6]}",
            "broker": {"port": mosquitto.port},
            "subscription": {"session_expiry_s": 300},
            "influx": {"version": 1, "url": influxd.url, "database": influx_db.database},
            "spool": {"path": str(tmp_path / "spool.sqlite")},
            "dead_letters": {"path": str(tmp_path / "dead.sqlite")},
        }
    )
    runtime = run_collector(settings)
    t0 = base_ts_ms()
    publisher = Publisher(mosquitto.host, mosquitto.port)
    publisher.publish_all([next(readings(1, 1, t0))])
    wait_until(lambda: influx_db.scalar("SELECT count(power) FROM meter") == 1, 60, "the one point written")
    # The histogram is updated just after InfluxDB answers the request.
    wait_until(lambda: batches(runtime.metrics)[0] > 0, 60, "the drainer's request counted")
    assert batches(runtime.metrics) == (1.0, 1.0)

    # A backlog: 2000 messages queued at the broker for the session while the collector is away.
    runtime.stop()
    publisher.publish_all(list(readings(50, 40, t0, start=1)), timeout=300)
    publisher.close()
    runtime = run_collector(settings)
    wait_until(lambda: influx_db.scalar("SELECT count(power) FROM meter") == 2001, 300, "the backlog written")
    wait_until(lambda: batches(runtime.metrics)[1] >= 2000, 60, "the drainer's requests counted")
    requests, lines = batches(runtime.metrics)
    assert lines == 2000
    assert requests < lines  # at least one request carried more than one line


def test_the_socket_is_looked_at_only_while_no_commit_is_due(tmp_path: Path) -> None:
    """``more_waiting`` as a check (mqtt.py's zero-timeout select): asked until a group falls due, not after."""
    acked: list[tuple[int, int]] = []
    ingest = ingest_for(tmp_path, acked, commit_gap_s=2.0)  # long enough for a loaded machine, short for a test
    asked: list[int] = []

    def socket_dry(mid: int) -> Callable[[], bool]:
        def check() -> bool:
            asked.append(mid)
            return False

        return check

    ingest.receive(TOPIC, message(0), mid=1, qos=1, more_waiting=socket_dry(1))  # after a quiet spell: at once
    assert acked == [(1, 1)] and asked == [1]
    ingest.receive(TOPIC, message(1), mid=2, qos=1, more_waiting=socket_dry(2))  # within the gap: falls due
    for i in range(2, 5):  # a commit is due already: the commit thread takes these too, no system call
        ingest.receive(TOPIC, message(i), mid=i + 1, qos=1, more_waiting=socket_dry(i + 1))
    assert asked == [1, 2] and acked == [(1, 1)]
    ingest.commit_when_due(timeout=0.0)  # the commit thread: waits out the gap, commits
    assert len(acked) == 5
    ingest.receive(TOPIC, message(5), mid=6, qos=1, more_waiting=socket_dry(6))  # nothing due: asked again
    assert asked == [1, 2, 6]
