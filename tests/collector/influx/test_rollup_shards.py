"""The rollup policy keeps a year in one shard group: a statement over a year opens one or two shards, not 53."""

from __future__ import annotations

import pytest

from collector.influx import schema
from collector.influx.init_db import init_v1
from collector.settings import InfluxV1Settings
from tests.harness.influx import InfluxTestDB


def test_shard_hours_reads_influxdb_durations() -> None:
    assert schema.shard_hours("168h0m0s") == 168
    assert schema.shard_hours("8736h0m0s") == schema.ROLLUP_SHARD_HOURS
    assert schema.shard_hours("1h30m0s") == 1.5
    assert schema.shard_hours("") is None
    assert schema.shard_hours("a week") is None


def rollup_shard_duration(db: InfluxTestDB) -> str:
    rows = db.query(f'SHOW RETENTION POLICIES ON "{db.database}"')
    return next(str(row["shardGroupDuration"]) for row in rows if row["name"] == schema.ROLLUP_RP)


@pytest.mark.integration
def test_init_db_gives_the_rollup_year_long_shards(influx_db: InfluxTestDB) -> None:
    settings = InfluxV1Settings(url=influx_db.url, database=influx_db.database)
    done = init_v1(settings)
    assert rollup_shard_duration(influx_db) == "8736h0m0s"
    assert any("52w shards" in line for line in done), done


@pytest.mark.integration
def test_init_db_alters_a_rollup_policy_made_with_week_shards(influx_db: InfluxTestDB) -> None:
    """A database made by an older init-db (InfluxDB's default for an infinite policy: 7 days)."""
    influx_db.query(f'CREATE DATABASE "{influx_db.database}"')
    influx_db.query(f'CREATE RETENTION POLICY "rollup" ON "{influx_db.database}" DURATION INF REPLICATION 1')
    assert rollup_shard_duration(influx_db) == "168h0m0s"
    init_v1(InfluxV1Settings(url=influx_db.url, database=influx_db.database))
    assert rollup_shard_duration(influx_db) == "8736h0m0s"
    init_v1(InfluxV1Settings(url=influx_db.url, database=influx_db.database))  # idempotent
    assert rollup_shard_duration(influx_db) == "8736h0m0s"
