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
from shopfloor.cli import main as shopfloor
from simulator.services import Influxd
from tests.dashboards import dataset
from tests.harness.influx import InfluxTestDB


def seed(db: InfluxTestDB) -> None:
    lines = list(dataset.lines())
    for start in range(0, len(lines), 20_000):
        db.write("\n".join(lines[start : start + 20_000]))
    db.query(f'CREATE RETENTION POLICY "rollup" ON "{db.database}" DURATION INF REPLICATION 1')
    start_ms = dataset.ms(dataset.MONTH_START - timedelta(days=1))
    end_ms = dataset.ms(dataset.NOW + timedelta(minutes=1))
    db.query(rollup_statement(db.database, f"time >= {start_ms}ms AND time < {end_ms}ms"))


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
