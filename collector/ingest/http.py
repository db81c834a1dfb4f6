"""Station events over HTTP (tablets, scanners, the bench page): the same durable path as MQTT messages.

Each event is validated with the contract, recorded in the item index, turned into line protocol and
committed to the spool, and only then acknowledged. A repeated ``event_id`` is acknowledged too: its
point has the same time and tags, so spooling it again overwrites the stored point (never a second count).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from collector.metrics import CollectorMetrics
from collector.points import Points, ahead_of_clock, event_line
from collector.storage.items import ItemStore
from collector.storage.spool import Spool
from shopfloor.contract import ContractError, StationEvent
from shopfloor.contract.codec import contract_error_from

MAX_EVENTS_PER_POST = 100


@dataclass
class IngestAnswer:
    accepted: list[str] = field(default_factory=list)
    rejected: list[dict[str, str | None]] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # accepted, but already known by event_id


def _event_id(raw: object) -> str | None:
    if isinstance(raw, dict) and isinstance(raw.get("event_id"), str):
        return str(raw["event_id"])
    return None


def ingest_events(
    site: str,
    bodies: list[Any],
    *,
    items: ItemStore,
    spool: Spool,
    metrics: CollectorMetrics,
    max_future_skew_s: float = 86_400,
    admit_station: Callable[[str, str], str | None] | None = None,
) -> IngestAnswer:
    """Validate, index and spool; raises ``collector.storage.spool.SpoolFull`` (nothing acknowledged then).

    ``admit_station``: the cardinality guard's check (collector/ingest/cardinality.py); an event of a site or
    station beyond ``ingest.limits`` is rejected with its reason."""
    answer = IngestAnswer()
    lines: list[str] = []
    for raw in bodies:
        try:
            event = StationEvent.model_validate(raw)
        except ValidationError as exc:
            error: ContractError = contract_error_from(exc)
            answer.rejected.append({"event_id": _event_id(raw), "field": error.field, "reason": error.reason})
            continue
        ahead = ahead_of_clock(event.ts_ms, int(time.time() * 1000), max_future_skew_s)
        if ahead is not None:
            answer.rejected.append({"event_id": event.event_id, "field": "ts_ms", "reason": ahead})
            continue
        refused = admit_station(site, event.station) if admit_station is not None else None
        if refused is not None:
            answer.rejected.append({"event_id": event.event_id, "field": "station", "reason": refused})
            continue
        if not items.record(site, event):
            answer.duplicates.append(event.event_id)
        lines.append(event_line(site, event, items))
        answer.accepted.append(event.event_id)
        metrics.last_seen.mark(site, event.station, time.time())
    spool.append(Points(lines), site=site)
    metrics.received.labels("event").inc(len(answer.accepted) - len(answer.duplicates))
    metrics.received.labels("invalid").inc(len(answer.rejected))
    metrics.spooled.inc(len(lines))
    metrics.spool_depth.set(spool.depth_lines)
    metrics.spool_bytes.set(spool.depth_bytes)
    return answer
