"""``shopfloor collector init-db``: create what docs/storage.md describes, or check it on 2.x. Idempotent."""

from __future__ import annotations

from collector.settings import CollectorSettings, InfluxV1Settings

ROLLUP_RP = "rollup"
ROLLUP_CQ = "cq_meter_1m"


def rollup_query(database: str) -> str:
    return (
        f"SELECT mean(power) AS power, max(power) AS power_max, last(energy_import) AS energy_import, "
        f'last(energy_export) AS energy_export INTO "{database}"."{ROLLUP_RP}"."meter_1m" '
        f'FROM "{database}"."autogen"."meter" GROUP BY time(1m), *'
    )


def init_v1(settings: InfluxV1Settings) -> list[str]:
    from collector.influx_v1 import InfluxV1Writer

    db = settings.database
    done: list[str] = []
    writer = InfluxV1Writer(settings)
    try:
        writer.query(f'CREATE DATABASE "{db}"')
        done.append(f"database {db}")
        policies = {row["name"]: row for row in writer.query(f'SHOW RETENTION POLICIES ON "{db}"')}
        verb = "ALTER" if "autogen" in policies else "CREATE"
        writer.query(
            f'{verb} RETENTION POLICY "autogen" ON "{db}" DURATION {settings.raw_retention} REPLICATION 1 DEFAULT'
        )
        done.append(f"retention policy autogen ({settings.raw_retention}, default)")
        if ROLLUP_RP not in policies:
            writer.query(f'CREATE RETENTION POLICY "{ROLLUP_RP}" ON "{db}" DURATION INF REPLICATION 1')
        done.append(f"retention policy {ROLLUP_RP} (infinite)")
        existing = {row["name"]: row["query"] for row in writer.query("SHOW CONTINUOUS QUERIES") if "name" in row}
        body = rollup_query(db)
        if ROLLUP_CQ in existing and body.split(" INTO ")[0].lower() not in existing[ROLLUP_CQ].lower():
            writer.query(f'DROP CONTINUOUS QUERY "{ROLLUP_CQ}" ON "{db}"')
            existing.pop(ROLLUP_CQ)
        if ROLLUP_CQ not in existing:
            writer.query(f'CREATE CONTINUOUS QUERY "{ROLLUP_CQ}" ON "{db}" BEGIN {body} END')
        done.append(f"continuous query {ROLLUP_CQ} -> {ROLLUP_RP}.meter_1m")
    finally:
        writer.close()
    return done


def init_db(settings: CollectorSettings) -> list[str]:
    """What was created or checked, one line each. Raises InfluxQueryError / BucketCheckError."""
    if isinstance(settings.influx, InfluxV1Settings):
        return init_v1(settings.influx)
    from collector.influx_v2 import InfluxV2Writer

    writer = InfluxV2Writer(settings.influx)
    try:
        return [writer.check_bucket()]
    finally:
        writer.close()
