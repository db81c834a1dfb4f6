from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from dashboards.influx import InfluxQL
from simulator.services import Influxd
from tests.dashboards.previews import seed
from tests.harness.influx import InfluxTestDB


@pytest.fixture(scope="session")
def seeded(influxd: Influxd) -> Iterator[InfluxQL]:
    """A fresh database with the known dataset and its 1-minute rollup, as the CQ would have written it."""
    db = InfluxTestDB(influxd.url, f"dash_{uuid.uuid4().hex[:10]}")
    db.create()
    try:
        seed(db)
        yield InfluxQL(influxd.url, db.database)
    finally:
        db.drop()
