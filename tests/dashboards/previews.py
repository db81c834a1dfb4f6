"""Regenerate the README's dashboard previews from the test dataset: ``python -m tests.dashboards.previews docs/img``.

Starts a private influxd, writes ``tests/dashboards/dataset.py`` and its rollup, and runs
``shopfloor dashboards render`` at the dataset's ``NOW``.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from collector.influx.schema import rollup_statement
from collector.settings import SiteSettings
from shopfloor.cli import main as shopfloor
from simulator.services import Influxd
from tests.dashboards import dataset, summaries
from tests.harness.influx import InfluxTestDB


def seed(db: InfluxTestDB) -> None:
    lines = list(dataset.lines())
    for start in range(0, len(lines), 20_000):
        db.write("\n".join(lines[start : start + 20_000]))
    db.query(f'CREATE RETENTION POLICY "rollup" ON "{db.database}" DURATION INF REPLICATION 1')
    start_ms = dataset.ms(dataset.MONTH_START - timedelta(days=1))
    end_ms = dataset.ms(dataset.NOW + timedelta(minutes=1))
    db.query(rollup_statement(db.database, f"time >= {start_ms}ms AND time < {end_ms}ms"))
    summarize_settled_days(db)


# The sites as the collector is configured for the dataset: UTC days, the opening hours its meters follow.
SITE_FACTS = SiteSettings(timezone="UTC", opening_hours="mon-fri 08:00-18:00")


def summarize_settled_days(db: InfluxTestDB) -> int:
    """The KPI day summaries as the collector's catch-up writes them at ``NOW``: every settled day of the dataset."""
    start_ms, now_ms = dataset.ms(dataset.MONTH_START), dataset.ms(dataset.NOW)
    return summaries.summarize_settled_days(db, dict.fromkeys(dataset.SITES, SITE_FACTS), start_ms, now_ms, now_ms)


def main(argv: list[str]) -> int:
    out = argv[0] if argv else "docs/img"
    with tempfile.TemporaryDirectory() as data, Influxd(Path(data)) as server:
        db = InfluxTestDB(server.url, "shopfloor")
        db.create()
        seed(db)
        args = ["dashboards", "render", "--influx-url", server.url, "--database", "shopfloor"]
        return shopfloor([*args, "--now", dataset.NOW.isoformat(), "--out", out, *argv[1:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
