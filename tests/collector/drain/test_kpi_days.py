"""The KPI day summaries follow late data: an edge's backlog, flushed an hour after the item finished,
updates that item's kWh and the day's figures, through the real spool, drainer and influxd."""

from __future__ import annotations

import time
from pathlib import Path

from collector.drain.drainer import Drainer
from collector.drain.kpi_days import BACKFILL_DAYS, SCAN_DAYS, KpiDayCatchUp, event_times
from collector.influx.connect import make_client
from collector.influx.init_db import init_v1
from collector.kpi.queries import KpiQueries, Range
from collector.kpi.report import KpiReport
from collector.kpi.summaries import KPI_DAY, SETTLE_MS, DaySummaries, day_bounds, local_midnights
from collector.metrics import CollectorMetrics
from collector.points import NS_PER_MINUTE, NS_PER_MS, Points, event_line
from collector.settings import InfluxV1Settings, SiteSettings
from collector.storage.dead_letters import DeadLetterStore
from collector.storage.spool import Lane, Spool
from shopfloor.contract import EventType, RepairStatus, StationEvent
from shopfloor.kpi.rates import Bucket
from tests.harness.influx import InfluxTestDB
from tests.kpi.reference_path import ReferenceKpiReport
from tests.kpi.test_read_model import assert_same

SITE = "gent"
TZ = "Europe/Brussels"
MINUTE_MS = 60_000
BENCH_W = 600.0  # the bench meter while the item is repaired; 100 W otherwise
MAIN_W = 2000.0


def meter_points(
    device: str, start_ms: int, end_ms: int, watts: float, kwh0: float, site: str = SITE
) -> tuple[Points, float]:
    lines, minutes, kwh = [], set(), kwh0
    for at in range(start_ms, end_ms, MINUTE_MS):
        kwh += watts / 1000 / 60
        ns = at * NS_PER_MS
        lines.append(f"meter,device={device},edge=e1,site={site} energy_import={kwh},power={watts},seq=1i {ns}")
        minutes.add(ns // NS_PER_MINUTE)
    return Points(lines, minutes), kwh


def event(kind: EventType, at_ms: int, **extra: object) -> str:
    return event_line(
        SITE, StationEvent(event_id=f"{kind}-{at_ms}", ts_ms=at_ms, station="bench-1", type=kind, **extra)
    )


def test_a_backlog_flushed_an_hour_after_the_item_finished_updates_its_kwh_and_the_day(
    influx_db: InfluxTestDB, tmp_path: Path
) -> None:
    settings = InfluxV1Settings(url=influx_db.url, database=influx_db.database, flush_interval_ms=10)
    init_v1(settings)
    facts = SiteSettings(timezone=TZ, opening_hours="mon-sun 09:00-17:00")
    day, _ = day_bounds(int(time.time() * 1000) - 3 * 86_400_000, TZ)
    at = day + 9 * 3_600_000  # 09:00 local
    client = make_client(settings)
    writer = DaySummaries.writer_for(settings)
    catch_up = KpiDayCatchUp(client, writer, lambda site: facts)
    spool = Spool(tmp_path / "spool.sqlite", 1_000_000, 1_000_000_000)
    drainer = Drainer(
        spool, client, DeadLetterStore(tmp_path / "dead.sqlite"), CollectorMetrics(), settings, kpi_days=catch_up
    )

    # On time: the main meter all morning; the bench meter and the item's start, until the edge lost its link.
    main, _ = meter_points("main", at, at + 4 * 3_600_000, MAIN_W, 100.0)
    bench, bench_kwh = meter_points("bench-1", at, at + 3_600_000, 100.0, 5.0)
    on_time = [
        event(EventType.CHECKED_IN, at + 50 * MINUTE_MS, item_id="X", category="Laptop"),
        event(EventType.STARTED, at + 60 * MINUTE_MS, item_id="X"),
    ]
    influx_db.write("\n".join([*main.lines, *bench.lines, *on_time]), precision="ns")
    catch_up.summaries.summarize(SITE, facts, day)  # the day's summary, as the day settled

    report = KpiReport(KpiQueries(client))
    window = Range(day - 86_400_000, day + 2 * 86_400_000)
    before = report.kpis(SITE, facts, window, Bucket.DAY)
    assert before["items"]["finished"] == 0

    # The backlog: the bench meter during the repair (10:00-11:00) and the item finished at 11:00, flushed later.
    late, _ = meter_points("bench-1", at + 3_600_000, at + 2 * 3_600_000, BENCH_W, bench_kwh)
    late.lines.append(event(EventType.FINISHED, at + 120 * MINUTE_MS, item_id="X", repair_status=RepairStatus.FIXED))
    spool.append(late, Lane.BACKLOG, site=SITE)
    for _ in range(200):  # write, complete the rollup, then re-summarize the day, one step at a time
        drainer.drain_once()
        if spool.depth_lines == 0 and not (drainer.late and drainer.late.ranges) and not catch_up.pending:
            break
    assert not catch_up.pending

    after = report.kpis(SITE, facts, window, Bucket.DAY)
    reference = ReferenceKpiReport(KpiQueries(client)).kpis(SITE, facts, window, Bucket.DAY)
    assert after["items"]["finished"] == 1 and after["items"]["fixed"] == 1
    # Sessions 10:00-11:00 at 600 W; the first minute's counter step belongs to the minute before it.
    per_item = after["energy"]["per_item"]
    assert per_item["items_known"] == 1
    assert abs(per_item["kwh_per_item"] - 0.6) < 0.011
    assert per_item == reference["energy"]["per_item"]
    day_row = next(row for row in after["energy"]["days"] if row["day"] == before["energy"]["days"][0]["day"])
    assert day_row == next(row for row in reference["energy"]["days"] if row["day"] == day_row["day"])
    # Staffed 09:50-11:00; before the backlog, the open session ran on to "now".
    assert after["items"]["bench_hours"] == reference["items"]["bench_hours"]
    assert abs(after["items"]["bench_hours"] - 70 / 60) < 1e-9 < before["items"]["bench_hours"] - 70 / 60
    # And it came from the stored summary, rewritten by the catch-up.
    stored = client.query(f'SELECT detail FROM "rollup"."{KPI_DAY}" WHERE time = {day}ms', epoch="ms")
    assert len(stored) == 1 and '"X"' in stored[0]["detail"]
    client.close()
    writer.close()
    spool.close()


def test_a_late_backlog_of_events_only_reopens_the_settled_day(influx_db: InfluxTestDB, tmp_path: Path) -> None:
    """No meter point in the backlog: the events alone (the item finished, the station closed) re-open the
    day, and its stored summary gets the item and the staffed time the old path computes."""
    settings = InfluxV1Settings(url=influx_db.url, database=influx_db.database, flush_interval_ms=10)
    init_v1(settings)
    facts = SiteSettings(timezone=TZ, opening_hours="mon-sun 09:00-17:00")
    day, next_day = day_bounds(int(time.time() * 1000) - 3 * 86_400_000, TZ)
    at = day + 9 * 3_600_000
    client = make_client(settings)
    writer = DaySummaries.writer_for(settings)
    catch_up = KpiDayCatchUp(client, writer, lambda site: facts)
    spool = Spool(tmp_path / "spool.sqlite", 1_000_000, 1_000_000_000)
    drainer = Drainer(
        spool, client, DeadLetterStore(tmp_path / "dead.sqlite"), CollectorMetrics(), settings, kpi_days=catch_up
    )
    main, _ = meter_points("main", at, at + 4 * 3_600_000, MAIN_W, 100.0)
    on_time = [
        event(EventType.CHECKED_IN, at + 50 * MINUTE_MS, item_id="Y", category="Toaster"),
        event(EventType.STARTED, at + 60 * MINUTE_MS, item_id="Y"),
    ]
    influx_db.write("\n".join([*main.lines, *on_time]), precision="ns")
    catch_up.summaries.summarize(SITE, facts, day)
    summary = f'SELECT detail FROM "rollup"."{KPI_DAY}" WHERE time = {day}ms'
    assert '"items_final":0' in client.query(summary, epoch="ms")[0]["detail"]

    late = Points([event(EventType.FINISHED, at + 150 * MINUTE_MS, item_id="Y", repair_status=RepairStatus.FIXED)])
    spool.append(late, Lane.BACKLOG, site=SITE)
    drainer.drain_once()
    assert (SITE, day) in catch_up.pending  # the event re-opened its day, with no meter minute
    # And only settled days: its own, the next (sessions reach into it), none near "now".
    assert {one for _, one in catch_up.pending} <= {day, next_day}
    for _ in range(50):
        drainer.drain_once()
        if spool.depth_lines == 0 and not catch_up.pending:
            break
    assert not catch_up.pending

    detail = client.query(summary, epoch="ms")[0]["detail"]
    assert '"items_final":1' in detail and '"Y":null' in detail  # the item, its session (no bench meter: no kWh)
    window = Range(day - 86_400_000, day + 2 * 86_400_000)
    after = KpiReport(KpiQueries(client)).kpis(SITE, facts, window, Bucket.DAY)
    reference = ReferenceKpiReport(KpiQueries(client)).kpis(SITE, facts, window, Bucket.DAY)
    # Staffed 09:50-11:30, from the re-made summary: before the backlog the open session ran on to its end.
    assert abs(after["items"]["bench_hours"] - 100 / 60) < 1e-9
    assert after["items"]["bench_hours"] == reference["items"]["bench_hours"]
    client.close()
    writer.close()
    spool.close()


def test_event_times_reads_site_and_time_of_repair_events_only() -> None:
    lines = [
        event(EventType.STARTED, 1_700_000_000_123, item_id="A"),
        # A tag value before ``site`` that holds an escaped ",site=" (another tool's point, say).
        'repair_event,category=Fan\\,site\\=x,site=gent,station=s,type=checked_in event_id="a b" 1700000100000000000',
        "meter,device=main,edge=e1,site=gent energy_import=1.0 1700000000000000000",
    ]
    assert list(event_times(lines)) == [(SITE, 1_700_000_000_123), (SITE, 1_700_000_100_000)]


def test_the_catch_up_backfills_settled_days_without_a_summary_newest_first(
    influx_db: InfluxTestDB, tmp_path: Path
) -> None:
    """Days written while no collector ran (here: straight to InfluxDB, as another tool or an outage leaves
    them) get their summaries from the drainer's idle steps, newest first, and the KPI call then reads them."""
    settings = InfluxV1Settings(url=influx_db.url, database=influx_db.database, flush_interval_ms=10)
    init_v1(settings)
    facts = SiteSettings(timezone=TZ, opening_hours="mon-sun 09:00-17:00")
    now = int(time.time() * 1000)
    old_days = [day_bounds(now - ago * 86_400_000, TZ)[0] for ago in (130, 40, 12, 11, 6)]
    lines = []
    for day in old_days:
        at = day + 10 * 3_600_000
        lines += [
            event(EventType.CHECKED_IN, at, item_id=f"I{day}", category="Laptop"),
            event(EventType.STARTED, at + 10 * MINUTE_MS, item_id=f"I{day}"),
            event(EventType.FINISHED, at + 70 * MINUTE_MS, item_id=f"I{day}", repair_status=RepairStatus.FIXED),
        ]
    influx_db.write("\n".join(lines), precision="ns")
    client = make_client(settings)
    writer = DaySummaries.writer_for(settings)
    catch_up = KpiDayCatchUp(client, writer, lambda site: facts)
    order: list[int] = []
    summarize_days = catch_up.summaries.summarize_days

    def recorded(site: str, facts: SiteSettings, days: list[int], chunk_days: int = 31) -> int:
        order.extend(sorted(days, reverse=True))
        return summarize_days(site, facts, days, chunk_days)

    catch_up.summaries.summarize_days = recorded  # type: ignore[method-assign]
    spool = Spool(tmp_path / "spool.sqlite", 1_000_000, 1_000_000_000)
    drainer = Drainer(
        spool, client, DeadLetterStore(tmp_path / "dead.sqlite"), CollectorMetrics(), settings, kpi_days=catch_up
    )
    # A live point: the drainer's first look at the site starts the backfill.
    live, _ = meter_points("main", now - 5 * MINUTE_MS, now, MAIN_W, 1.0)
    spool.append(live, Lane.LIVE, site=SITE)
    steps = 0
    while steps < 100 and (spool.depth_lines or catch_up.pending or catch_up.scan or any(catch_up.backfill.values())):
        drainer.drain_once()
        steps += 1
    assert not catch_up.scan and not any(catch_up.backfill.values()), f"not done after {steps} idle steps"
    # Newest first, every settled day from the oldest data on (also those without data), each once.
    settled_end = day_bounds(now - SETTLE_MS, TZ)[0]
    assert order == sorted(set(order), reverse=True)
    assert set(order) == {old_days[0], *local_midnights(old_days[0], settled_end, TZ)} - {catch_up.settled[SITE]}

    stored = client.query(f'SELECT items_final FROM "rollup"."{KPI_DAY}" WHERE site = \'{SITE}\'', epoch="ms")
    assert {int(row["time"]): row["items_final"] for row in stored if int(row["time"]) in old_days} == dict.fromkeys(
        old_days, 1
    )
    window = Range(old_days[0] - 86_400_000, now)
    report = KpiReport(KpiQueries(client))
    after = report.kpis(SITE, facts, window, Bucket.WEEK)
    assert after["items"]["finished"] == len(old_days)
    assert_same(after, ReferenceKpiReport(KpiQueries(client)).kpis(SITE, facts, window, Bucket.WEEK))
    # A scan step looks at SCAN_DAYS days in one request, a summary step stores BACKFILL_DAYS days.
    # (+ a few idle steps: the first look at the site, and those while the drainer waits a quiet second after
    # the live write before it summarizes.)
    assert steps < 130 / BACKFILL_DAYS + 130 / SCAN_DAYS + 8
    client.close()
    writer.close()
    spool.close()
