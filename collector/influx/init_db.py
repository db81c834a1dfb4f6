"""``shopfloor collector init-db``: create what docs/storage.md describes, or check it on 2.x. Idempotent."""

from __future__ import annotations

from collector.influx import schema
from collector.influx.connect import make_client
from collector.settings import CollectorSettings, InfluxV1Settings


def init_v1(settings: InfluxV1Settings) -> list[str]:
    db = settings.database
    done: list[str] = []
    client = make_client(settings)
    try:
        client.query(f'CREATE DATABASE "{db}"')
        done.append(f"database {db}")
        policies = {row["name"]: row for row in client.query(f'SHOW RETENTION POLICIES ON "{db}"')}
        client.query(schema.raw_rp_statement(db, settings.raw_retention, exists=schema.RAW_RP in policies))
        done.append(f"retention policy {schema.RAW_RP} ({settings.raw_retention}, default)")
        rollup = policies.get(schema.ROLLUP_RP)
        if rollup is None:
            client.query(schema.rollup_rp_statement(db))
        elif schema.shard_hours(str(rollup.get("shardGroupDuration", ""))) != schema.ROLLUP_SHARD_HOURS:
            client.query(schema.rollup_rp_statement(db, exists=True))
        done.append(f"retention policy {schema.ROLLUP_RP} (infinite, {schema.ROLLUP_SHARD_DURATION} shards)")
        existing = {row["name"]: row["query"] for row in client.query("SHOW CONTINUOUS QUERIES") if "name" in row}
        if schema.ROLLUP_CQ in existing and not schema.rollup_cq_is_current(existing[schema.ROLLUP_CQ]):
            client.query(schema.drop_rollup_cq(db))
            existing.pop(schema.ROLLUP_CQ)
        if schema.ROLLUP_CQ not in existing:
            client.query(schema.create_rollup_cq(db))
        done.append(f"continuous query {schema.ROLLUP_CQ} -> {schema.ROLLUP_RP}.{schema.METER_1M}")
    finally:
        client.close()
    return done


def init_db(settings: CollectorSettings) -> list[str]:
    """What was created or checked, one line each. Raises InfluxError (BucketCheckError on 2.x)."""
    if isinstance(settings.influx, InfluxV1Settings):
        return init_v1(settings.influx)
    from collector.influx.v2 import InfluxV2Client

    client = InfluxV2Client(settings.influx)
    try:
        return [client.check_bucket()]
    finally:
        client.close()
