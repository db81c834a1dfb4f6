from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from collector.initdb import rollup_query
from dashboards.influx import InfluxQL
from shopfloor.services import Influxd
from tests.dashboards import dataset
from tests.harness.influx import InfluxTestDB


@pytest.fixture(scope="session")
def seeded(influxd: Influxd) -> Iterator[InfluxQL]:
    """A fresh database with the known dataset and its 1-minute rollup, as the CQ would have written it."""
    db = InfluxTestDB(influxd.url, f"dash_{uuid.uuid4().hex[:10]}")
    db.create()
    try:
        lines = list(dataset.lines())
        for start in range(0, len(lines), 20_000):
            db.write("\n".join(lines[start : start + 20_000]))
        db.query(f'CREATE RETENTION POLICY "rollup" ON "{db.database}" DURATION INF REPLICATION 1')
        select, group = rollup_query(db.database).split(" GROUP BY ")
        start_ms = dataset.ms(dataset.MONTH_START - timedelta(days=1))
        end_ms = dataset.ms(dataset.NOW + timedelta(minutes=1))
        db.query(f"{select} WHERE time >= {start_ms}ms AND time < {end_ms}ms GROUP BY {group}")
        yield InfluxQL(influxd.url, db.database)
    finally:
        db.drop()
