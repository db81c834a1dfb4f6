"""What the routers take, defined once: the running collector, its settings, path ids and the time window."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi import Path as PathParam

from collector.api.errors import invalid
from collector.kpi.queries import Range
from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings
from shopfloor.contract.topics import ID_PATTERN
from shopfloor.kpi.rates import Bucket

DAY_MS = 86_400_000
MAX_DAYS = 3660
# Times the KPI API takes: from 1970 to 2200, in ms. Beyond, InfluxDB cannot answer (a 422 here, not a 503).
MAX_TIME_MS = 7_258_118_400_000


def get_runtime(request: Request) -> CollectorRuntime:
    runtime: CollectorRuntime = request.app.state.runtime
    return runtime


def get_settings(request: Request) -> CollectorSettings:
    settings: CollectorSettings = request.app.state.settings
    return settings


RuntimeDep = Annotated[CollectorRuntime, Depends(get_runtime)]
SettingsDep = Annotated[CollectorSettings, Depends(get_settings)]

SiteId = Annotated[str, PathParam(pattern=ID_PATTERN, description="site id, as in the MQTT topics")]
StationId = Annotated[str, PathParam(pattern=ID_PATTERN, description="station (bench) id")]
BucketQuery = Annotated[Bucket, Query(description="throughput buckets: hour, day or week (local time)")]
TimeZoneQuery = Annotated[
    str | None, Query(description="IANA time zone of local days and hours; default the site's (collector.yaml)")
]


def parse_time(text: str, name: str) -> int:
    """RFC 3339 or Unix milliseconds -> Unix ms; a 422 naming the parameter otherwise."""
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        value = int(stripped)
        if not 0 <= value <= MAX_TIME_MS:
            raise invalid(("query", name), f"{name}={stripped[:40]} is not a time between 1970 and 2200 (Unix ms)")
        return value
    try:
        when = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(
            ("query", name), f"{name}={text[:40]!r} is not RFC 3339 (2026-03-01T00:00:00Z) or Unix ms"
        ) from None
    if not 1970 <= when.year <= 2199:
        raise invalid(("query", name), f"{name}={text[:40]!r} is not a time between 1970 and 2200")
    if when.tzinfo is None:
        raise invalid(("query", name), f"{name}={text[:40]!r} needs a UTC offset, e.g. 2026-03-01T00:00:00+01:00")
    return int(when.timestamp() * 1000)


def time_window(
    start: Annotated[
        str | None, Query(alias="from", description="start: RFC 3339 (2026-03-01T00:00:00+01:00) or Unix ms")
    ] = None,
    to: Annotated[str | None, Query(description="end (exclusive): RFC 3339 or Unix ms; default now")] = None,
    days: Annotated[
        int, Query(ge=1, le=MAX_DAYS, description=f"without 'from': the last N days (at most {MAX_DAYS})")
    ] = 7,
) -> Range:
    end_ms = parse_time(to, "to") if to else int(time.time() * 1000)
    start_ms = parse_time(start, "from") if start else end_ms - days * DAY_MS
    if start_ms >= end_ms:
        raise invalid(("query", "from"), "'from' must be before 'to'")
    return Range(start_ms, end_ms)


TimeWindow = Annotated[Range, Depends(time_window)]
