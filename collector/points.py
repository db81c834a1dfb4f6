"""Contract payloads -> InfluxDB line protocol, exactly as docs/storage.md lays it out. Pure: no I/O.

Every point carries the source timestamp (ns precision) and a tag set taken from the message alone,
so a redelivered message overwrites its own points and is never counted twice.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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
from shopfloor.contract.fastpath import BARE, bare_floats
from shopfloor.contract.payloads import unwritable_because
from shopfloor.kpi import outcome_fields

NS_PER_MS = 1_000_000
NS_PER_MINUTE = 60 * 1_000_000_000
MS_PER_MINUTE = 60_000

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


# Line protocol (InfluxDB 1.x and 2.x): in names, a backslash escapes only the characters below and is
# otherwise literal, so "a\\b" stays as it is and "a\\,b" is written "a\\\\,b". Doubling backslashes
# (as string field values need) would store two of them, or swallow a separator.
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})


class UnwritableName(ValueError):
    """A name that no escaping can carry in line protocol (see :func:`unwritable_because`)."""


def _checked(element: str, name: str) -> str:
    why = unwritable_because(name)
    if why is not None:
        raise UnwritableName(f"{element} {name[:80]!r} cannot be stored: {why}")
    return name


def escape_measurement(name: str) -> str:
    if name.startswith("#"):
        raise UnwritableName(f"measurement {name[:80]!r} cannot be stored: a line starting with '#' is a comment")
    return _checked("measurement", name).translate(_MEASUREMENT_ESCAPES)


def escape_tag_key(name: str) -> str:
    return _checked("tag key", name).translate(_KEY_ESCAPES)


def escape_tag_value(value: str) -> str:
    return _checked("tag value", value).translate(_KEY_ESCAPES)


def escape_field_key(name: str) -> str:
    return _checked("field key", name).translate(_KEY_ESCAPES)


def format_field(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    # Inside a quoted string InfluxDB takes a newline as part of the value, and it unescapes only \\ and \":
    # so newlines and carriage returns go in raw, and text comes back exactly as it was sent.
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def split_lines(text: str, count: int) -> list[str]:
    """``count`` lines joined by ``"\\n"`` back into a list, though a string field may hold a newline.

    The fast path is a plain split; when that gives too many pieces, the text is scanned as InfluxDB's
    parser scans it (models/points.go ``scanLine``): a newline inside a quoted field value does not end a line.
    """
    pieces = text.split("\n")
    if len(pieces) == count:
        return pieces
    lines: list[str] = []
    start = i = 0
    quoted = in_fields = False
    equals = commas = 0
    end = len(text)
    while i < end:
        char = text[i]
        if char == "\\" and i + 2 < end:
            i += 2
            continue
        if char == " ":
            in_fields = True
        if in_fields and not quoted and char == "=":
            equals += 1
        elif in_fields and not quoted and char == ",":
            commas += 1
        elif in_fields and char == '"' and equals > commas:
            quoted = not quoted
        elif char == "\n" and not quoted:
            lines.append(text[start:i])
            start = i + 1
            quoted = in_fields = False
            equals = commas = 0
        i += 1
    lines.append(text[start:])
    return lines


def point(measurement: str, tags: Mapping[str, str | None], fields: Mapping[str, FieldValue], time_ns: int) -> str:
    """One line. Tags with no value are left out; tags are sorted by key, as InfluxDB prefers."""
    tag_text = "".join(
        f",{escape_tag_key(key)}={escape_tag_value(value)}"
        for key, value in sorted(tags.items())
        if value not in (None, "")
    )
    field_text = ",".join(f"{escape_field_key(key)}={format_field(value)}" for key, value in fields.items())
    return f"{escape_measurement(measurement)}{tag_text} {field_text} {time_ns}"


@functools.lru_cache(maxsize=4096)
def _meter_series(site: str, device: str, edge: str) -> str:
    return f"meter,device={escape_tag_value(device)},edge={escape_tag_value(edge)},site={escape_tag_value(site)} "


@functools.lru_cache(maxsize=1024)
def _field_key(name: str) -> str:
    return escape_field_key(name) + "="


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


def raw_reading_line(site: str, reading: RawReading, bare: bool | None = None) -> str:
    """:func:`reading_line` for a reading the contract's fast path accepted as a plain dict: the same line.

    ``bare``: what the fast path found already (its form BARE), so the values are not looked at twice.
    """
    quality = reading["quality"]
    values = reading.get("values", {})
    series = _meter_series(site, reading["device"], reading["edge"])
    time_ns = reading["ts_ms"] * NS_PER_MS
    if bare is None:
        bare = quality == "ok" and "error" not in reading and bare_floats(values)
    if bare:
        return _bare_line(series, _bare_fields([reading])[0], reading)
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


@dataclass(slots=True)
class Points:
    """Lines of line protocol, and the minutes that their meter points fall in.

    The spool keeps the minutes beside the lines, so the drainer knows which rollup minutes a late write
    touched without reading the lines back.
    """

    lines: list[str] = field(default_factory=list)
    meter_minutes: set[int] = field(default_factory=set)  # ts_ns // NS_PER_MINUTE of each meter point
    latest_ms: int | None = None  # the newest source time among the points

    def extend(self, other: Points) -> None:
        self.lines.extend(other.lines)
        self.meter_minutes |= other.meter_minutes
        if other.latest_ms is not None:
            self.latest_ms = other.latest_ms if self.latest_ms is None else max(self.latest_ms, other.latest_ms)


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Half-open ranges, sorted, with those that overlap or touch merged into one."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def minute_ranges(minutes: Iterable[int]) -> list[tuple[int, int]]:
    """Minute numbers as merged ``[start_ns, end_ns)`` ranges: ``{5, 6, 9}`` -> two ranges."""
    return merge_ranges((minute * NS_PER_MINUTE, (minute + 1) * NS_PER_MINUTE) for minute in minutes)


def reading_points(site: str, readings: Iterable[MeterReading]) -> Points:
    points = Points()
    latest = 0
    for reading in readings:
        points.lines.append(reading_line(site, reading))
        points.meter_minutes.add(reading.ts_ms * NS_PER_MS // NS_PER_MINUTE)
        latest = reading.ts_ms if reading.ts_ms > latest else latest
    points.latest_ms = latest or None
    return points


def raw_reading_points(site: str, readings: list[RawReading], forms: list[int]) -> Points:
    """:func:`reading_points` for readings the contract's fast path accepted as plain dicts; ``forms``:
    their :func:`~shopfloor.contract.fastpath.reading_form`, as the fast path gave them."""
    points = Points()
    lines, minutes = points.lines, points.meter_minutes
    latest = 0
    bare_fields = iter(_bare_fields([reading for reading, form in zip(readings, forms, strict=True) if form == BARE]))
    for reading, form in zip(readings, forms, strict=True):
        if form == BARE:
            series = _meter_series(site, reading["device"], reading["edge"])
            lines.append(_bare_line(series, next(bare_fields), reading))
        else:
            lines.append(raw_reading_line(site, reading, False))
        ts_ms = reading["ts_ms"]
        minutes.add(ts_ms // MS_PER_MINUTE)  # the minute of ts_ms * NS_PER_MS // NS_PER_MINUTE, in small ints
        latest = ts_ms if ts_ms > latest else latest
    points.latest_ms = latest or None
    return points


def _bare_fields(readings: list[RawReading]) -> list[str]:
    """The field sets of BARE readings (bare floats of canonical quantities), from one ``orjson.dumps`` of
    all their values: a batch pays one call, not one a reading.

    orjson writes ``[{"power":1.5,"energy_import":2.0},{...}]`` in C. Canonical quantity names need no
    escaping in either format, so once the brackets and key quotes go and the colons become equals signs,
    it splits into field sets where one object ends and the next begins: a float's text holds no brace or
    quote. (On the bytes, then decoded: a third of the cost of the same replaces on the str.)
    """
    if not readings:
        return []
    blob = orjson.dumps([reading["values"] for reading in readings])[3:-2]
    return blob.replace(b'":', b"=").replace(b',"', b",").decode().split('},{"')


def _bare_line(series: str, fields: str, reading: RawReading) -> str:
    return f'{series}{fields},quality="ok",seq={reading["seq"]}i {reading["ts_ms"] * NS_PER_MS}'


def message_points(message: Message, item_index: ItemIndex | None = None) -> Points:
    """All points of one validated message."""
    site = message.topic.site
    payload = message.payload
    if isinstance(payload, MeterReading):
        return reading_points(site, [payload])
    if isinstance(payload, ReadingBatch):
        return reading_points(site, payload.readings)
    if isinstance(payload, StationEvent):
        return Points([event_line(site, payload, item_index)], latest_ms=payload.ts_ms)
    if isinstance(payload, GuardDecision):
        return Points([guard_line(site, payload)], latest_ms=payload.ts_ms)
    return Points([status_line(site, payload)], latest_ms=payload.ts_ms)


def ahead_of_clock(latest_ms: int | None, now_ms: int, max_skew_s: float) -> str | None:
    """Why points dated up to ``latest_ms`` are refused (a wrong clock at the edge); None when they are fine."""
    if latest_ms is None or latest_ms <= now_ms + max_skew_s * 1000:
        return None
    ahead_s = (latest_ms - now_ms) / 1000
    return (
        f"ts_ms {latest_ms} is {ahead_s:.0f} s ahead of the collector's clock "
        f"(at most subscription.max_future_skew_s = {max_skew_s:g}); check the sender's clock (NTP)"
    )


def message_lines(message: Message, item_index: ItemIndex | None = None) -> list[str]:
    """The lines of :func:`message_points`."""
    return message_points(message, item_index).lines
