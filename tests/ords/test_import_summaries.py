"""``shopfloor collector ords import`` stores the KPI day summaries of the days it wrote, so the KPI API
answers imported history from them (real influxd made by init-db), with the answers of the old path."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path
from typing import Any

import pytest

from collector.influx.connect import make_client
from collector.influx.init_db import init_v1
from collector.kpi.queries import KpiQueries, Range
from collector.kpi.report import KpiReport
from collector.kpi.summaries import KPI_DAY, DaySummaries, day_bounds, local_midnights
from collector.ords.io import parse_bound
from collector.settings import InfluxV1Settings, SiteSettings, load_settings
from shopfloor.cli import main
from shopfloor.kpi.rates import Bucket
from simulator.services import Influxd
from tests.kpi.reference_path import ReferenceKpiReport
from tests.kpi.test_read_model import assert_same
from tests.ords.test_influx_import_export import REAL, SITE, write_config

pytestmark = [pytest.mark.integration]


class CountingSummaries(DaySummaries):
    days_read = 0

    def details(self, site: str, facts: SiteSettings, days: Any, devices: Any) -> Any:
        found = super().details(site, facts, days, devices)
        CountingSummaries.days_read += len(found)
        return found


def test_an_import_stores_the_summaries_of_its_days_and_the_kpis_read_them(
    influxd: Influxd, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    part = tmp_path / "2019q1.csv"
    with REAL.open(newline="", encoding="utf-8") as source, part.open("w", newline="", encoding="utf-8") as out:
        rows = csv.DictReader(source)
        assert rows.fieldnames is not None
        writer = csv.DictWriter(out, rows.fieldnames)
        writer.writeheader()
        chosen = [row for row in rows if row["event_date"].startswith(("2019-01", "2019-02", "2019-03"))]
        writer.writerows(chosen)
    dates = {row["event_date"] for row in chosen}
    assert len(dates) > 20, "a few days prove nothing"

    database = f"ords_sum_{uuid.uuid4().hex[:8]}"
    config = write_config(tmp_path / "collector.yaml", influxd, database)
    # History older than the default raw retention (docs/ords.md): autogen keeps it forever.
    config.write_text(
        config.read_text().replace(f"  database: {database}\n", f"  database: {database}\n  raw_retention: INF\n")
    )
    settings = load_settings(config)
    assert isinstance(settings.influx, InfluxV1Settings)
    init_v1(settings.influx)
    client = make_client(settings.influx)
    try:
        assert main(["ords", "import", str(part), "--site", SITE, "--config", str(config), "--quiet"]) == 0
        facts = settings.site(SITE)
        first, last = (parse_bound(day, facts.timezone, end=False) for day in (min(dates), max(dates)))
        # Every day from the first record to the last, also those without one (empty summaries).
        expected_days = {first, *local_midnights(first, last + 1, facts.timezone)}
        assert len(expected_days) > len(dates)
        assert f"{len(expected_days)} KPI day summaries written" in capsys.readouterr().out
        stored = client.query(f'SELECT items_final FROM "rollup"."{KPI_DAY}" WHERE site = \'{SITE}\'', epoch="ms")
        assert {int(row["time"]) for row in stored} == expected_days
        assert sum(row["items_final"] for row in stored) == sum(1 for row in chosen if row["repair_status"])

        start = parse_bound("2018-12-31", facts.timezone, end=False)
        window = Range(
            start + 12 * 3_600_000, day_bounds(parse_bound("2019-04-01", facts.timezone, end=False), facts.timezone)[1]
        )
        report = KpiReport(KpiQueries(client))
        report._stored = CountingSummaries(client)
        answer = report.kpis(SITE, facts, window, Bucket.WEEK)
        assert CountingSummaries.days_read == len(expected_days)  # every imported day from its summary
        assert answer["items"]["finished"] == len(chosen)
        assert_same(answer, ReferenceKpiReport(KpiQueries(client)).kpis(SITE, facts, window, Bucket.WEEK))
    finally:
        client.query(f'DROP DATABASE "{database}"')
        client.close()
