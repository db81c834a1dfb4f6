"""The KPI day summaries (``rollup.kpi_day``) of a test dataset, written by the collector's own catch-up.

The dashboards read them as the KPI API does, so the tests produce them the way a running collector does:
the drainer tells ``KpiDayCatchUp`` what it wrote, and the catch-up summarizes each settled site-day.
"""

from __future__ import annotations

from collections.abc import Mapping

from collector.drain.kpi_days import KpiDayCatchUp
from collector.influx.connect import make_client
from collector.kpi.summaries import DaySummaries
from collector.points import NS_PER_MS
from collector.settings import InfluxV1Settings, SiteSettings
from tests.harness.influx import InfluxTestDB


def summarize_settled_days(
    db: InfluxTestDB, sites: Mapping[str, SiteSettings], start_ms: int, end_ms: int, now_ms: int
) -> int:
    """Summarize every day of ``[start_ms, end_ms]`` that has settled at ``now_ms``; returns how many were written."""
    settings = InfluxV1Settings(url=db.url, database=db.database)
    catch_up = KpiDayCatchUp(make_client(settings), DaySummaries.writer_for(settings), sites.__getitem__)
    catch_up.note_written(sites, [(start_ms * NS_PER_MS, end_ms * NS_PER_MS)], now_ms)
    catch_up.scan.clear()  # the noted days only: not the backfill of older ones (an empty day's summary each)
    catch_up.quarters.cursor.clear()  # nor the quarter hours of the days not settled (no dashboard reads them)
    written = 0
    while catch_up.run_one(now_ms):
        written += 1
    if catch_up.pending:
        raise RuntimeError(f"the KPI day catch-up left days pending: {sorted(catch_up.pending)}")
    return written
