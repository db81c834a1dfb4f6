"""What the collector keeps in InfluxDB (docs/storage.md): retention policies, measurements, and the
1-minute rollup, whose continuous query is built here from its parts.

``init-db`` creates it, the drainer's rollup catch-up re-runs the rollup's body for late minutes, and the
KPI queries read it. Pure: statements only, no I/O.
"""

from __future__ import annotations

import re

RAW_RP = "autogen"
ROLLUP_RP = "rollup"

METER = "meter"
METER_1M = "meter_1m"
REPAIR_EVENT = "repair_event"
EDGE_STATUS = "edge_status"
DEAD_LETTER = "dead_letter"

ROLLUP_CQ = "cq_meter_1m"
# Each rollup field: (aggregate of the raw field, name in meter_1m).
ROLLUP_FIELDS = (
    ("mean(power)", "power"),
    ("max(power)", "power_max"),
    ("last(energy_import)", "energy_import"),
    ("last(energy_export)", "energy_export"),
)
ROLLUP_GROUP_BY = "time(1m), *"


def rollup_select() -> str:
    """The rollup's field list, as InfluxDB also shows it back in ``SHOW CONTINUOUS QUERIES``."""
    return "SELECT " + ", ".join(f"{aggregate} AS {name}" for aggregate, name in ROLLUP_FIELDS)


def rollup_statement(database: str, where: str | None = None) -> str:
    """``SELECT ... INTO rollup.meter_1m FROM autogen.meter [WHERE ...] GROUP BY time(1m), *``."""
    condition = f" WHERE {where}" if where else ""
    return (
        f'{rollup_select()} INTO "{database}"."{ROLLUP_RP}"."{METER_1M}" '
        f'FROM "{database}"."{RAW_RP}"."{METER}"{condition} GROUP BY {ROLLUP_GROUP_BY}'
    )


def rollup_range_statement(database: str, start_ns: int, end_ns: int) -> str:
    """The continuous query's body, limited to [start_ns, end_ns): the catch-up for late minutes."""
    return rollup_statement(database, f"time >= {start_ns} AND time < {end_ns}")


def create_rollup_cq(database: str) -> str:
    return f'CREATE CONTINUOUS QUERY "{ROLLUP_CQ}" ON "{database}" BEGIN {rollup_statement(database)} END'


def drop_rollup_cq(database: str) -> str:
    return f'DROP CONTINUOUS QUERY "{ROLLUP_CQ}" ON "{database}"'


def rollup_cq_is_current(shown: str) -> bool:
    """Whether a continuous query's text from ``SHOW CONTINUOUS QUERIES`` computes today's fields."""
    return rollup_select().lower() in shown.lower()


def raw_rp_statement(database: str, duration: str, exists: bool) -> str:
    verb = "ALTER" if exists else "CREATE"
    return f'{verb} RETENTION POLICY "{RAW_RP}" ON "{database}" DURATION {duration} REPLICATION 1 DEFAULT'


# InfluxDB gives an infinite policy 7-day shard groups: a year of the rollup would be 53 shards, and every
# statement over it opens each of them (a year's sums of one site's day summaries: 13 ms, against 2 ms in one
# shard; docs/performance.md). The rollup is small (a row a minute per meter, a point a day per site), so a
# shard holds a year of it.
ROLLUP_SHARD_DURATION = "52w"
ROLLUP_SHARD_HOURS = 52 * 7 * 24


def rollup_rp_statement(database: str, exists: bool = False) -> str:
    """Create the rollup policy, or give an existing one the rollup's shard duration (shard groups made from
    then on; older ones keep theirs)."""
    if exists:
        return f'ALTER RETENTION POLICY "{ROLLUP_RP}" ON "{database}" SHARD DURATION {ROLLUP_SHARD_DURATION}'
    return (
        f'CREATE RETENTION POLICY "{ROLLUP_RP}" ON "{database}" DURATION INF REPLICATION 1 '
        f"SHARD DURATION {ROLLUP_SHARD_DURATION}"
    )


def shard_hours(shown: str) -> float | None:
    """``SHOW RETENTION POLICIES``'s ``shardGroupDuration`` (``168h0m0s``) in hours; None if unreadable."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", shown or "")
    if not shown or parts is None:
        return None
    hours, minutes, seconds = (float(part or 0) for part in parts.groups())
    return hours + minutes / 60 + seconds / 3600
