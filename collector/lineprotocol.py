"""Contract payloads -> InfluxDB line protocol, exactly as docs/storage.md lays it out. Pure: no I/O.

Every point carries the source timestamp (ns precision) and a tag set taken from the message alone,
so a redelivered message overwrites its own points and is never counted twice.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import orjson

from shopfloor.contract import (
    EdgeState,
    EdgeStatus,
    EventType,
    GuardDecision,
    Message,
    MeterReading,
    Quality,
    RawReading,
    ReadingBatch,
    StationEvent,
)
from shopfloor.contract.fastpath import bare_floats
from shopfloor.kpi import outcome_fields

NS_PER_MS = 1_000_000

FieldValue = str | int | float


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What the check-in (and the bench timeline) knew about an item, for its ``finished`` event."""

    category: str | None = None
    weight_kg: float | None = None
    bench_s: float | None = None


class ItemIndex(Protocol):
    """Hook for the KPI engine: fills ``category``/``bench_s`` on finished events from the item's history."""

    def lookup(self, site: str, item_id: str) -> ItemFacts | None: ...


_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n"})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n"})


def escape_tag(text: str) -> str:
    """Tag keys, tag values and field keys: commas, equals signs and spaces are escaped."""
    return text.replace("\\", "\\\\").translate(_TAG_ESCAPES)


def escape_measurement(text: str) -> str:
    return text.replace("\\", "\\\\").translate(_MEASUREMENT_ESCAPES)


def format_field(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    # A newline would end the line: it is stored as the two characters backslash, n.
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "")
    return f'"{escaped}"'


def point(measurement: str, tags: Mapping[str, str | None], fields: Mapping[str, FieldValue], time_ns: int) -> str:
    """One line. Tags with no value are left out; tags are sorted by key, as InfluxDB prefers."""
    tag_text = "".join(
        f",{escape_tag(key)}={escape_tag(value)}" for key, value in sorted(tags.items()) if value not in (None, "")
    )
    field_text = ",".join(f"{escape_tag(key)}={format_field(value)}" for key, value in fields.items())
    return f"{escape_measurement(measurement)}{tag_text} {field_text} {time_ns}"


@functools.lru_cache(maxsize=4096)
def _meter_series(site: str, device: str, edge: str) -> str:
    return f"meter,device={escape_tag(device)},edge={escape_tag(edge)},site={escape_tag(site)} "


@functools.lru_cache(maxsize=1024)
def _field_key(name: str) -> str:
    return escape_tag(name) + "="


def meter_value(value: float) -> str:
    """A meter value as line protocol: shortest round-trip text (orjson's, e.g. ``0.00001``, ``1e+16``).

    InfluxDB parses it back to the same float64 as ``repr`` would give; orjson writes it several times faster.
    """
    return orjson.dumps(float(value)).decode()


def reading_line(site: str, reading: MeterReading) -> str:
    """The collector's hot path, so it skips :func:`point`; values are written by :func:`meter_value`."""
    parts: list[str] = []
    if reading.quality is Quality.OK:
        parts = [
            _field_key(quantity) + meter_value(measured.value)
            for quantity, measured in reading.values.items()
            if measured.value is not None
        ]
    parts.append(f'quality="{reading.quality.value}",seq={reading.seq}i')
    if reading.error is not None:
        parts.append("error=" + format_field(reading.error))
    series = _meter_series(site, reading.device, reading.edge)
    return f"{series}{','.join(parts)} {reading.ts_ms * NS_PER_MS}"


def raw_reading_line(site: str, reading: RawReading) -> str:
    """:func:`reading_line` for a reading the contract's fast path accepted as a plain dict: the same line."""
    quality = reading["quality"]
    values = reading.get("values", {})
    series = _meter_series(site, reading["device"], reading["edge"])
    time_ns = reading["ts_ms"] * NS_PER_MS
    if quality == "ok" and "error" not in reading and bare_floats(values):
        # orjson writes {"power":2310.4,...} in C; canonical quantity names need no escaping in either
        # format, so that is the field set once the key quotes go and the colons become equals signs.
        fields = orjson.dumps(values).decode()[2:-1].replace('":', "=").replace(',"', ",")
        return f'{series}{fields},quality="ok",seq={reading["seq"]}i {time_ns}'
    parts: list[str] = []
    if quality == "ok":
        for quantity, measured in values.items():
            value = measured["value"] if type(measured) is dict else measured
            if value is not None:
                parts.append(_field_key(quantity) + meter_value(value))
    parts.append(f'quality="{quality}",seq={reading["seq"]}i')
    error = reading.get("error")
    if error is not None:
        parts.append("error=" + format_field(error))
    return f"{series}{','.join(parts)} {time_ns}"


def event_time_ns(ts_ms: int, event_id: str) -> int:
    """ts_ms plus a sub-millisecond part from the event id: same event, same time; two events, two points."""
    return ts_ms * NS_PER_MS + zlib.crc32(event_id.encode()) % NS_PER_MS


def event_line(
    site: str,
    event: StationEvent,
    item_index: ItemIndex | None = None,
    extra_fields: Mapping[str, FieldValue] | None = None,
) -> str:
    """One ``repair_event`` point. ``extra_fields`` (the ORDS-only columns of an import, docs/ords.md)
    are added to its fields, and replace an event field of the same name."""
    category = event.category
    fields: dict[str, FieldValue] = {"event_id": event.event_id}
    if event.item_id is not None:
        fields["item_id"] = event.item_id
    for name in ("weight_kg", "product_age"):
        number = getattr(event, name)
        if number is not None:
            fields[name] = float(number)
    if event.year_of_manufacture is not None:
        fields["year_of_manufacture"] = event.year_of_manufacture
    for name in ("brand", "problem", "source"):
        text = getattr(event, name)
        if text is not None:
            fields[name] = text
    if event.type is EventType.FINISHED:
        facts = item_index.lookup(site, event.item_id) if item_index and event.item_id else None
        measured_kg = event.weight_kg
        if facts is not None:
            category = category or facts.category
            measured_kg = measured_kg if measured_kg is not None else facts.weight_kg
            if facts.bench_s is not None:
                fields["bench_s"] = float(facts.bench_s)
        fields.update(outcome_fields(event.repair_status, event.outcome, category, measured_kg).as_fields())
    if extra_fields:
        fields.update(extra_fields)
    tags = {
        "site": site,
        "station": event.station,
        "type": event.type.value,
        "category": category,
        "repair_status": event.repair_status.value if event.repair_status else None,
        "outcome": event.outcome.value if event.outcome else None,
        "barrier": event.barrier.value if event.barrier else None,
        "state": event.state.value if event.state else None,
    }
    return point("repair_event", tags, fields, event_time_ns(event.ts_ms, event.event_id))


def status_line(site: str, status: EdgeStatus) -> str:
    fields: dict[str, FieldValue] = {
        "online": int(status.state is EdgeState.ONLINE),
        "buffer_depth": status.buffer_depth,
        "dropped_full": status.dropped.get("full", 0),
        "dropped_age": status.dropped.get("age", 0),
        "version": status.version,
        "devices_stale": sum(1 for quality in status.devices.values() if quality is not Quality.OK),
    }
    if status.oldest_buffered_ts_ms is not None:
        fields["oldest_buffered_ts_ms"] = status.oldest_buffered_ts_ms
    return point("edge_status", {"site": site, "edge": status.edge}, fields, status.ts_ms * NS_PER_MS)


def guard_line(site: str, decision: GuardDecision) -> str:
    """A peak-guard decision (docs/peak-guard.md): measurement ``peak_guard``, one point per decision."""
    fields: dict[str, FieldValue] = {"target_kw": decision.target_kw, "reason": decision.reason}
    for name in ("forecast_kw", "average_kw", "month_peak_kw"):
        value = getattr(decision, name)
        if value is not None:
            fields[name] = float(value)
    fields["quarter_start_ms"] = decision.quarter_start_ms
    tags = {"site": site, "edge": decision.edge, "action": decision.action.value, "load": decision.load}
    return point("peak_guard", tags, fields, event_time_ns(decision.ts_ms, decision.decision_id))


def dead_letter_line(site: str | None, reason_kind: str, reason: str, time_ns: int) -> str:
    tags = {"site": site or "unknown", "reason_kind": reason_kind}
    return point("dead_letter", tags, {"count": 1, "reason": reason[:500]}, time_ns)


def message_lines(message: Message, item_index: ItemIndex | None = None) -> list[str]:
    """All points of one validated message."""
    site = message.topic.site
    payload = message.payload
    if isinstance(payload, MeterReading):
        return [reading_line(site, payload)]
    if isinstance(payload, ReadingBatch):
        return [reading_line(site, reading) for reading in payload.readings]
    if isinstance(payload, StationEvent):
        return [event_line(site, payload, item_index)]
    if isinstance(payload, GuardDecision):
        return [guard_line(site, payload)]
    return [status_line(site, payload)]
