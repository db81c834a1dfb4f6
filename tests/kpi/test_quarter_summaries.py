"""Quarter-hour energy summaries (``rollup.kpi_quarter``) serve the comparison's raw pieces of the days that
have not settled yet, and keep its answers those of the old path, on a real influxd: the demo's workshops
(yesterday before 08:15, today), a backlog flushed through the real spool and drainer, and a meter that
went silent."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from collector.drain.drainer import Drainer
from collector.drain.kpi_days import KpiDayCatchUp
from collector.drain.kpi_quarters import QUARTER_SETTLE_MS, QuarterCatchUp
from collector.drain.rollup import rebuild_rollup
from collector.influx.client import InfluxClient, Series
from collector.influx.connect import make_client
from collector.influx.init_db import init_v1
from collector.kpi.quarters import KPI_QUARTER, QUARTER_MS, QuarterSummaries, quarter_start
from collector.kpi.queries import KpiQueries, Range
from collector.kpi.report import KpiReport
from collector.kpi.summaries import DaySummaries, day_bounds
from collector.metrics import CollectorMetrics
from collector.points import NS_PER_MS
from collector.settings import InfluxV1Settings, SiteSettings
from collector.storage.dead_letters import DeadLetterStore
from collector.storage.spool import Lane, Spool
from shopfloor.kpi.pieces import MeterPiece, joined_kwh_piece, served
from simulator.services import Influxd
from tests.collector.drain.test_kpi_days import meter_points
from tests.harness.influx import CountingClient, InfluxTestDB
from tests.kpi.reference_path import ReferenceKpiReport
from tests.kpi.test_read_model import assert_same, summarize_settled_days
from tests.reports.demo_data import DemoData, load_demo

pytestmark = [pytest.mark.integration]

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
TZ = "Europe/Brussels"


class MinuteRows(CountingClient):
    """Counts the meter rows (minute rollup and raw) that the answers carry."""

    def __init__(self, inner: InfluxClient) -> None:
        super().__init__(inner)
        self.meter_rows = 0

    def series_many(
        self, statements: Sequence[str], epoch: str | None = None, packed: bool = False
    ) -> list[list[Series]]:
        answers = super().series_many(statements, epoch, packed)
        for statement, answer in zip(statements, answers, strict=True):
            if "meter_1m" in statement or "FROM meter" in statement:
                self.meter_rows += sum(len(one.values) for one in answer)
        return answers


def frozen(patch: pytest.MonkeyPatch, at_ms: int) -> None:
    for where in ("collector.kpi.report", "collector.kpi.summaries", "tests.kpi.reference_path"):
        patch.setattr(f"{where}.now_ms", lambda: at_ms)


def before_settling(real_now_ms: int) -> int:
    """The latest 07:00 in Brussels an hour or more ago: yesterday has not settled then (08:15)."""
    zone = ZoneInfo(TZ)
    local = datetime.fromtimestamp((real_now_ms - HOUR_MS) / 1000, zone)
    seven = local.replace(hour=7, minute=0, second=0, microsecond=0)
    if seven > local:
        seven = (seven - timedelta(days=1)).replace(hour=7)
    return int(seven.timestamp() * 1000)


@pytest.fixture(scope="module")
def morning(influxd: Influxd) -> Iterator[tuple[InfluxV1Settings, DemoData, int]]:
    """Three days of the demo's workshops up to 07:00 local, the settled days summarized as the catch-up does."""
    settings = InfluxV1Settings(url=influxd.url, database=f"quarters_{uuid.uuid4().hex[:8]}")
    now = before_settling(int(time.time() * 1000))
    data = load_demo(settings, 3, now)
    client = make_client(settings)
    summarize_settled_days(settings, client, data, now)
    try:
        yield settings, data, now
    finally:
        client.query(f'DROP DATABASE "{settings.database}"')
        client.close()


def site_facts(data: DemoData) -> dict[str, SiteSettings]:
    return {
        spec.id: SiteSettings(
            main_meter=spec.main_meter_id, timezone=spec.timezone, opening_hours=spec.opening_hours_spec
        )
        for spec in data.specs
    }


def test_compare_before_0815_reads_the_quarters_and_equals_the_old_path(
    morning: tuple[InfluxV1Settings, DemoData, int],
) -> None:
    settings, data, now = morning
    facts = site_facts(data)
    client = make_client(settings)
    catch_up = QuarterCatchUp(QuarterSummaries(client, DaySummaries.writer_for(settings)), facts.__getitem__)
    catch_up.note_written(facts, [], now)
    assert catch_up.run_one(now)
    zone = ZoneInfo(TZ)
    yesterday = day_bounds(now - DAY_MS, TZ)[0]
    for site in facts:
        # Kept from yesterday's midnight (not settled at 07:00) up to the last quarter with a sample after it.
        assert catch_up.cursor[site] == quarter_start(now - QUARTER_SETTLE_MS), site
        stored = client.query(
            f'SELECT main_kwh FROM "rollup"."{KPI_QUARTER}" WHERE site = \'{site}\' ORDER BY time ASC LIMIT 1',
            epoch="ms",
        )
        assert int(stored[0]["time"]) == yesterday, datetime.fromtimestamp(int(stored[0]["time"]) / 1000, zone)
    assert not catch_up.run_one(now), "nothing new ended: no second read"

    window = Range(data.start_ms, now)
    old = ReferenceKpiReport(KpiQueries(client))
    with pytest.MonkeyPatch.context() as patch:
        frozen(patch, now)
        reference = old.compare(facts, window)
        with_quarters = MinuteRows(client)
        answer = KpiReport(KpiQueries(with_quarters)).compare(facts, window)
        assert_same(answer, reference, "compare")
        assert all(row["kwh"] for row in answer["sites"]), "an empty demo proves nothing"
        client.query(f'DROP MEASUREMENT "{KPI_QUARTER}"')
        without = MinuteRows(client)
        assert_same(KpiReport(KpiQueries(without)).compare(facts, window), reference, "compare without quarters")
    # Yesterday and today until 06:45 came from the quarters: only the range's first partial day (3 days back,
    # from 07:00) and the last quarter hour were minute rows.
    assert with_quarters.meter_rows < without.meter_rows * 0.6, (with_quarters.meter_rows, without.meter_rows)
    assert without.meter_rows - with_quarters.meter_rows >= len(facts) * (24 + 6) * 60
    client.close()


def assert_compare_as_the_old_path(
    client: InfluxClient, facts: dict[str, SiteSettings], window: Range, at_ms: int
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        frozen(patch, at_ms)
        new = KpiReport(KpiQueries(client)).compare(facts, window)
        assert_same(new, ReferenceKpiReport(KpiQueries(client)).compare(facts, window), "compare")


def quarters_of(client: InfluxClient, site: str) -> dict[int, dict[str, object]]:
    rows = client.query(f'SELECT * FROM "rollup"."{KPI_QUARTER}" WHERE site = \'{site}\'', epoch="ms")
    return {int(row["time"]): row for row in rows}


def test_a_backlog_flushed_later_recomputes_its_quarters(influx_db: InfluxTestDB, tmp_path: Path) -> None:
    """The edge lost its link for half an hour and flushed the backlog afterwards: through the real spool
    and drainer, the quarters of the outage are computed again, and compare equals the old path."""
    settings = InfluxV1Settings(url=influx_db.url, database=influx_db.database, flush_interval_ms=10)
    init_v1(settings)
    site = "gent"
    facts = SiteSettings(timezone=TZ, opening_hours="mon-sun 09:00-17:00")
    now = int(time.time() * 1000) // MINUTE_MS * MINUTE_MS
    start = quarter_start(now - 6 * HOUR_MS)
    outage = quarter_start(now - 4 * HOUR_MS) + 5 * MINUTE_MS  # 35 minutes without data, off the quarters
    client = make_client(settings)
    catch_up = KpiDayCatchUp(client, DaySummaries.writer_for(settings), lambda name: facts)
    spool = Spool(tmp_path / "spool.sqlite", 1_000_000, 1_000_000_000)
    drainer = Drainer(
        spool, client, DeadLetterStore(tmp_path / "dead.sqlite"), CollectorMetrics(), settings, kpi_days=catch_up
    )
    before, kwh = meter_points("main", start, outage, 2000.0, 100.0, site=site)
    backlog, kwh = meter_points("main", outage, outage + 35 * MINUTE_MS, 6000.0, kwh, site=site)
    after, _ = meter_points("main", outage + 35 * MINUTE_MS, now - 3 * MINUTE_MS, 2000.0, kwh, site=site)
    influx_db.write("\n".join([*before.lines, *after.lines]), precision="ns")
    rebuild_rollup(settings, 1, now * NS_PER_MS)  # as the continuous query did, minute by minute
    catch_up.note_written([site], [], now)
    catch_up.quarters.run_one(now)
    first = quarters_of(client, site)
    hole = quarter_start(outage)
    assert first[hole]["gap"] is True and first[hole + QUARTER_MS]["gap"] is True

    spool.append(backlog, Lane.BACKLOG, site=site)
    for _ in range(100):  # write, complete the rollup, then the quarters, one step at a time
        drainer.drain_once()
        drained = spool.depth_lines == 0 and not (drainer.late and drainer.late.ranges)
        if drained and catch_up.quarters.cursor[site] >= quarter_start(now - QUARTER_SETTLE_MS) - QUARTER_MS:
            break
    second = quarters_of(client, site)
    for at in (hole, hole + QUARTER_MS, hole + 2 * QUARTER_MS):
        assert second[at]["gap"] is False, datetime.fromtimestamp(at / 1000, ZoneInfo(TZ))
        assert second[at]["main_kwh"] != first[at]["main_kwh"]
    # The quarter inside the outage: 15 minutes at 6 kW, not the counter's step spread over the gap.
    assert abs(second[hole + QUARTER_MS]["main_kwh"] - 1.5) < 1e-9 < abs(first[hole + QUARTER_MS]["main_kwh"] - 1.5)
    window = Range(start - DAY_MS, now + HOUR_MS)
    assert_compare_as_the_old_path(client, {site: facts}, window, now)
    client.close()
    spool.close()


def test_a_silent_meter_s_quarters_wait_for_its_next_sample(influx_db: InfluxTestDB) -> None:
    settings = InfluxV1Settings(url=influx_db.url, database=influx_db.database)
    init_v1(settings)
    site = "leuven"
    facts = SiteSettings(timezone=TZ, opening_hours="mon-sun 09:00-17:00")
    now = int(time.time() * 1000) // MINUTE_MS * MINUTE_MS
    start = quarter_start(now - 4 * HOUR_MS)
    silent_from = start + HOUR_MS + 7 * MINUTE_MS
    points, kwh = meter_points("main", start, silent_from, 1200.0, 10.0, site=site)
    influx_db.write("\n".join(points.lines), precision="ns")
    rebuild_rollup(settings, 1, now * NS_PER_MS)
    client = make_client(settings)
    catch_up = QuarterCatchUp(QuarterSummaries(client, DaySummaries.writer_for(settings)), lambda name: facts)
    catch_up.note_written([site], [], now)
    catch_up.run_one(now)
    # The last sample is at silent_from - 1 min: the quarter holding it has no sample after its end.
    assert catch_up.cursor[site] == quarter_start(silent_from)
    assert max(quarters_of(client, site)) < quarter_start(silent_from)
    assert not catch_up.run_one(now), "the same quarters are not read again until something changes"

    # The meter is back two hours later (a live point, not late): the next quarter's end tries again.
    back = silent_from + 2 * HOUR_MS
    later, _ = meter_points("main", back, back + 20 * MINUTE_MS, 1200.0, kwh + 2.4, site=site)
    influx_db.write("\n".join(later.lines), precision="ns")
    rebuild_rollup(settings, 1, now * NS_PER_MS)
    then = back + 20 * MINUTE_MS + QUARTER_SETTLE_MS
    catch_up.run_one(then)
    stored = quarters_of(client, site)
    assert stored[quarter_start(silent_from) + QUARTER_MS]["gap"] is True  # inside the silence: a counter gap
    assert catch_up.cursor[site] == quarter_start(back + 19 * MINUTE_MS)
    window = Range(start - DAY_MS, then)
    assert_compare_as_the_old_path(client, {site: facts}, window, then)
    client.close()


def test_served_joins_the_quarters_that_follow_each_other() -> None:
    one = MeterPiece(has_data=True, day="2026-12-02", kwh=0.5, covered_ms=QUARTER_MS)
    gap = MeterPiece(has_data=True, day="2026-12-02", kwh=0.25, covered_ms=0, gap=True)
    empty = MeterPiece()
    quarters = {0: empty, QUARTER_MS: one, 2 * QUARTER_MS: gap, 4 * QUARTER_MS: one}
    got = served(quarters, 0, 10 * QUARTER_MS)
    assert got is not None and got.until_ms == 3 * QUARTER_MS  # stops where one is missing
    assert got.meter == MeterPiece(True, "2026-12-02", 0.75, QUARTER_MS, True)
    assert served(quarters, 3 * QUARTER_MS, 10 * QUARTER_MS) is None
    short = served(quarters, QUARTER_MS, 2 * QUARTER_MS + 1)  # a quarter that ends after the piece is not used
    assert short is not None and short.until_ms == 2 * QUARTER_MS and short.meter.kwh == 0.5
    assert joined_kwh_piece([empty, empty]) == MeterPiece()
