"""Staffed bench-hours: the KPI API and the cluster dashboard agree, on the simulator's events in a real influxd.

The simulated stations report what real ones do: item events, working/paused/idle states, and a bench
that opens and closes with the site (issue 16, item 7). Both read the same day summaries
(``rollup.kpi_day``, written by the collector's catch-up): the API through ``KpiReport``, the dashboard by summing
their ``staffed_h``. The bounds check that the summaries' staffed time (``staffed_intervals``) is plausible.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from collector.influx.v1 import InfluxV1Client
from collector.kpi.queries import KpiQueries, Range
from collector.kpi.report import KpiReport
from collector.kpi.summaries import SETTLE_MS
from collector.points import event_line
from collector.settings import InfluxV1Settings, SiteSettings
from dashboards import generate
from dashboards.evaluate import Context, default_variables, evaluate_panel
from dashboards.influx import InfluxQL
from shopfloor.kpi.opening_hours import OpeningHours
from shopfloor.kpi.rates import Bucket
from simulator.services import Influxd
from simulator.sites import SiteSpec, default_sites
from simulator.workshop import Workshop
from tests.dashboards.summaries import summarize_settled_days
from tests.harness.influx import InfluxTestDB

pytestmark = pytest.mark.integration

# Local midnight, so no repair session crosses the range's edges (jobs carried overnight are paused).
NOW = datetime(2026, 11, 30, tzinfo=ZoneInfo("Europe/Brussels"))
NOW_MS = int(NOW.timestamp() * 1000)
START_MS = int((NOW - timedelta(days=30)).timestamp() * 1000)
SITES = default_sites(3)


# The catch-up's clock: an hour after the range's last day settled.
SETTLED_MS = NOW_MS + SETTLE_MS + 3_600_000


def facts(site: SiteSpec) -> SiteSettings:
    return SiteSettings(opening_hours=site.opening_hours_spec, timezone=site.timezone)


@pytest.fixture(scope="module")
def stored(influxd: Influxd) -> Iterator[InfluxTestDB]:
    db = InfluxTestDB(influxd.url, f"staffed_{uuid.uuid4().hex[:10]}")
    db.create()
    db.query(f'CREATE RETENTION POLICY "rollup" ON "{db.database}" DURATION INF REPLICATION 1')  # as init-db does
    try:
        for site in SITES:
            events = Workshop(site, seed=42).events_between(START_MS, NOW_MS)
            db.write("\n".join(event_line(site.id, event) for event in events), precision="ns")
        # The day summaries the cluster dashboard reads, as the collector's catch-up writes them once the days settled.
        written = summarize_settled_days(db, {site.id: facts(site) for site in SITES}, START_MS, NOW_MS - 1, SETTLED_MS)
        assert written == 30 * len(SITES)
        yield db
    finally:
        db.drop()


def api_bench_hours(db: InfluxTestDB, site: SiteSpec) -> dict[str, float]:
    writer = InfluxV1Client(InfluxV1Settings(url=db.url, database=db.database))
    try:
        report = KpiReport(KpiQueries(writer))
        body = report.kpis(site.id, facts(site), Range(START_MS, NOW_MS), Bucket.WEEK)
        return body["items"]  # type: ignore[no-any-return]
    finally:
        writer.close()


def test_api_and_dashboard_count_the_same_staffed_hours_within_opening_hours(stored: InfluxTestDB) -> None:
    dashboard = generate.load()["cluster-comparison"]
    context = Context(NOW, default_variables(dashboard))
    client = InfluxQL(stored.url, stored.database)
    table = next(p for p in dashboard["panels"] if p["title"] == "Sites side by side")
    (frame,) = evaluate_panel(dashboard, table, context, client)
    rows = {row["site"]: row for row in frame.records()}
    bars = next(p for p in dashboard["panels"] if p["title"] == "Throughput per bench-hour")
    (bar_frame,) = evaluate_panel(dashboard, bars, context, client)
    per_bench_hour = dict(bar_frame.rows)
    for site in SITES:
        api = api_bench_hours(stored, site)
        hours = OpeningHours(hours=site.opening_hours_spec, timezone=site.timezone)
        open_hours = sum(span.seconds for span in hours.open_intervals(START_MS, NOW_MS)) / 3600
        # Staffed within opening hours: the benches open and close with the site, and are busy most of the day.
        assert 0.9 * len(site.benches) * open_hours <= api["bench_hours"] <= len(site.benches) * open_hours
        # The API reads event times to the millisecond, InfluxQL to the nanosecond: under 1 ms per staffed stretch.
        assert rows[site.id]["bench_hours"] == pytest.approx(api["bench_hours"], rel=1e-7)
        assert rows[site.id]["items_per_bench_hour"] == pytest.approx(api["items_per_bench_hour"], rel=1e-7)
        assert per_bench_hour[site.id] == pytest.approx(api["items_per_bench_hour"], rel=1e-7)
