"""Late meter data (an edge backlog, a backfill) still reaches the 1-minute rollup the dashboards read."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from collector.drain.drainer import QUIET_FOR_CATCH_UP_S, Drainer
from collector.drain.rollup import NS_PER_MINUTE, LateMinutes, rebuild_rollup
from collector.influx.connect import make_client
from collector.influx.init_db import init_v1
from collector.influx.schema import rollup_range_statement
from collector.metrics import CollectorMetrics
from collector.points import Points, minute_ranges
from collector.settings import InfluxV1Settings
from collector.storage.dead_letters import DeadLetterStore
from collector.storage.spool import Spool
from tests.harness.influx import InfluxTestDB

MINUTE = NS_PER_MINUTE


def test_late_minutes_collects_only_closed_minutes_and_merges_ranges() -> None:
    now = 1_763_900_000 * 1_000_000_000 + 30_000_000_000  # 30 s into a minute
    late = LateMinutes()
    current_minute = now - 5_000_000_000
    # The meter points of a spooled row: the repair_event beside them (10 minutes ago) has no minute there.
    meter_points_ns = [now - 3 * MINUTE, now - 2 * MINUTE, current_minute]  # the last minute is still open
    late.note_written(minute_ranges(ts // MINUTE for ts in meter_points_ns), now)
    start = now - 3 * MINUTE
    start -= start % MINUTE
    assert late.ranges == [(start, start + 2 * MINUTE)]
    late.add(start + 2 * MINUTE, start + 3 * MINUTE)
    assert late.ranges == [(start, start + 3 * MINUTE)]
    late.add(start + 10 * MINUTE, start + 11 * MINUTE)
    assert len(late.take()) == 2 and late.ranges == []


def test_take_cuts_a_month_into_days() -> None:
    late = LateMinutes()
    late.add(0, 30 * 24 * 60 * MINUTE)
    spans = late.take()
    assert len(spans) == 30 and spans[0] == (0, 24 * 60 * MINUTE)


def test_take_first_hands_out_a_day_at_a_time_oldest_first() -> None:
    late = LateMinutes()
    day = 24 * 60 * MINUTE
    late.add(5 * day, 5 * day + MINUTE)
    late.add(0, day + 10 * MINUTE)
    assert late.take_first() == (0, day)
    assert late.take_first() == (day, day + 10 * MINUTE)
    assert late.take_first() == (5 * day, 5 * day + MINUTE)
    assert late.take_first() is None and late.ranges == []


def test_range_query_is_the_cq_body_with_a_time_filter() -> None:
    query = rollup_range_statement("shopfloor", 10, 20)
    assert 'INTO "shopfloor"."rollup"."meter_1m"' in query
    assert query.endswith("WHERE time >= 10 AND time < 20 GROUP BY time(1m), *")


@pytest.mark.integration
def test_backlog_written_late_is_rolled_up(influx_db: InfluxTestDB, tmp_path: Path) -> None:
    """Two hours of history written now: the continuous query would never see it; the drainer completes it."""
    settings = InfluxV1Settings(url=influx_db.url, database=influx_db.database)
    init_v1(settings)
    spool = Spool(tmp_path / "spool.sqlite", max_lines=1_000_000, max_bytes=1_000_000_000)
    writer = make_client(settings)
    drainer = Drainer(spool, writer, DeadLetterStore(tmp_path / "dead.sqlite"), CollectorMetrics(), settings)
    end_ms = (int(time.time() * 1000) // 60_000 - 10) * 60_000
    times_ms = range(end_ms - 7_190_000, end_ms + 1, 10_000)
    lines = [
        f"meter,device=main,edge=e,site=s power={100 + i % 7}.0,energy_import={i / 60:.4f} {ts_ms * 1_000_000}"
        for i, ts_ms in enumerate(times_ms)
    ]
    # What the ingest spools beside them: the minutes of the meter points.
    spool.append(Points(lines, {ts_ms * 1_000_000 // MINUTE for ts_ms in times_ms}), site="s")
    rollup = 'SELECT count(power) FROM "rollup"."meter_1m" WHERE site=\'s\''
    try:
        drainer.drain_once()
        assert influx_db.query(rollup) == []  # raw points first: no catch-up while the spool still had them
        drainer.drain_once()
        assert influx_db.query(rollup) == []  # nor right after a write: more may come (a backfill)
        time.sleep(QUIET_FOR_CATCH_UP_S)
        drainer.drain_once()  # an empty spool, no write for a quiet spell: the catch-up runs
    finally:
        writer.close()
    rows = influx_db.query('SELECT count(power), sum(power) FROM "rollup"."meter_1m" WHERE site=\'s\'')
    raw = influx_db.query("SELECT mean(power) FROM meter WHERE time > 0 GROUP BY time(1m) fill(none)")
    minutes = {int(line.rsplit(" ", 1)[1]) // MINUTE for line in lines}
    assert rows[0]["count"] == len(raw) == len(minutes)
    assert rows[0]["sum"] == pytest.approx(sum(r["mean"] for r in raw))


@pytest.mark.integration
def test_rebuild_rollup_covers_history_already_in_the_database(influx_db: InfluxTestDB) -> None:
    """`init-db --rebuild-rollup DAYS`: for history written before this collector version, or by another tool."""
    settings = InfluxV1Settings(url=influx_db.url, database=influx_db.database)
    init_v1(settings)
    day_ms = 86_400_000
    now_ms = int(time.time() * 1000)
    influx_db.write(
        "\n".join(f"meter,device=main,edge=e,site=s power=200.0 {now_ms - d * day_ms}" for d in (1, 2, 3, 10)),
        precision="ms",
    )
    queries = rebuild_rollup(settings, days=5, now_ns=time.time_ns())
    assert queries == 5
    rows = influx_db.query('SELECT count(power) FROM "rollup"."meter_1m" WHERE site=\'s\'')
    assert rows[0]["count"] == 3  # the point 10 days back is outside the rebuilt range


@pytest.mark.integration
def test_a_failing_catch_up_keeps_every_range_for_later(influx_db: InfluxTestDB, tmp_path: Path) -> None:
    """The database is gone, so the query fails, and nothing of the three days is forgotten."""
    settings = InfluxV1Settings(url=influx_db.url, database=f"{influx_db.database}_absent")
    spool = Spool(tmp_path / "spool.sqlite", max_lines=1000, max_bytes=1_000_000)
    writer = make_client(settings)
    drainer = Drainer(spool, writer, DeadLetterStore(tmp_path / "dead.sqlite"), CollectorMetrics(), settings)
    assert drainer.late is not None
    three_days = (0, 3 * 24 * 60 * MINUTE)
    drainer.late.add(*three_days)
    try:
        drainer.drain_once()  # empty spool: runs the catch-up, which InfluxDB refuses
    finally:
        writer.close()
    assert drainer.late.ranges == [three_days]
