"""What the collector keeps in InfluxDB (docs/storage.md): retention policies, measurements, and the
1-minute rollup, whose continuous query is built here from its parts.

``init-db`` creates it, the drainer's rollup catch-up re-runs the rollup's body for late minutes, and the
KPI queries read it. Pure: statements only, no I/O.
"""

from __future__ import annotations

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


def rollup_rp_statement(database: str) -> str:
    return f'CREATE RETENTION POLICY "{ROLLUP_RP}" ON "{database}" DURATION INF REPLICATION 1'
