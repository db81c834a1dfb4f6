"""A line InfluxDB refused, back to the contract message it was written from. Pure: no I/O.

The spool keeps line protocol, not messages; so when InfluxDB refuses a line (a point older than the
retention, a field type conflict), the dead letter keeps the *contract message* rebuilt from that line, and a
requeue re-validates it like any message from the broker (docs/reliability.md). Only meter readings and
station events are rebuilt, and only when the message, written again by :mod:`collector.points`, gives back
the same line (a finished event's outcome fields aside: a requeue derives them again, from the item index).
Anything else (an edge status, a peak-guard decision, a line of unknown shape) gives None: the letter keeps
its line for diagnosis, and cannot be requeued.

What the line does not hold is filled in plainly: a reading's ``profile`` is ``unknown`` and a custom
quantity's unit is ``unknown`` (neither is stored in InfluxDB), an event's ``edge`` and ``seq`` are left out.
"""

from __future__ import annotations

import dataclasses

import orjson

from collector.points import FieldValue, event_time_ns, message_points
from shopfloor.contract import ContractError, Kind, decode
from shopfloor.contract.payloads import QUANTITY_UNITS
from shopfloor.contract.topics import CONTRACT_VERSION, is_valid_id
from shopfloor.kpi.outcomes import OutcomeFields

NS_PER_MS = 1_000_000
UNKNOWN_PROFILE = "unknown"
UNKNOWN_UNIT = "unknown"

# The fields of a finished event that the collector derives (from the item index and the category table).
_DERIVED_EVENT_FIELDS = frozenset({f.name for f in dataclasses.fields(OutcomeFields)} | {"bench_s"})
_EVENT_TEXT_FIELDS = ("event_id", "item_id", "brand", "problem", "source")
_EVENT_NUMBER_FIELDS = ("weight_kg", "product_age", "year_of_manufacture")
_EVENT_TAGS = ("station", "type", "category", "repair_status", "outcome", "barrier", "state")
_READING_META = frozenset({"quality", "seq", "error"})

ParsedLine = tuple[str, dict[str, str], dict[str, FieldValue], int]


class _Unparsable(ValueError):
    pass


def _name(text: str, start: int, stops: str) -> tuple[str, int]:
    """A measurement, tag or field name from ``start`` up to an unescaped character of ``stops``."""
    out: list[str] = []
    i = start
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in ",= ":
            out.append(text[i + 1])
            i += 2
            continue
        if char in stops:
            return "".join(out), i
        out.append(char)
        i += 1
    return "".join(out), i


def _field_value(text: str, start: int) -> tuple[FieldValue, int]:
    if text.startswith('"', start):
        out: list[str] = []
        i = start + 1
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text) and text[i + 1] in '\\"':
                out.append(text[i + 1])
                i += 2
            elif char == '"':
                return "".join(out), i + 1
            else:
                out.append(char)
                i += 1
        raise _Unparsable("unterminated string")
    end = text.find(",", start)
    end = len(text) if end < 0 else end
    raw = text[start:end]
    if raw in ("true", "false"):
        return raw == "true", end
    if raw.endswith("i"):
        return int(raw[:-1]), end
    return float(raw), end


def parse_line(line: str) -> ParsedLine:
    """Measurement, tags, fields and time of one line as :func:`collector.points.point` writes them.

    Raises ValueError for a line it cannot read."""
    measurement, i = _name(line, 0, ", ")
    tags: dict[str, str] = {}
    while i < len(line) and line[i] == ",":
        key, i = _name(line, i + 1, "=")
        value, i = _name(line, i + 1, ", ")
        tags[key] = value
    if i >= len(line) or line[i] != " ":
        raise _Unparsable("no field set")
    head, _, stamp = line.rpartition(" ")
    fields_text = head[i + 1 :]
    fields: dict[str, FieldValue] = {}
    j = 0
    while j < len(fields_text):
        key, j = _name(fields_text, j, "=")
        if j >= len(fields_text):
            raise _Unparsable("a field without a value")
        fields[key], j = _field_value(fields_text, j + 1)
        if j < len(fields_text):
            if fields_text[j] != ",":
                raise _Unparsable("junk after a field value")
            j += 1
    return measurement, tags, fields, int(stamp)


def _reading(tags: dict[str, str], fields: dict[str, FieldValue], time_ns: int) -> tuple[str, dict[str, object]]:
    if time_ns % NS_PER_MS:
        raise _Unparsable("a meter point is on a whole millisecond")
    values: dict[str, object] = {}
    for quantity, value in fields.items():
        if quantity in _READING_META:
            continue
        if quantity in QUANTITY_UNITS:
            values[quantity] = value
        else:
            values[quantity] = {"value": value, "unit": UNKNOWN_UNIT}
    body: dict[str, object] = {
        "ts_ms": time_ns // NS_PER_MS,
        "seq": fields["seq"],
        "edge": tags["edge"],
        "device": tags["device"],
        "profile": UNKNOWN_PROFILE,
        "quality": fields["quality"],
        "values": values,
    }
    if "error" in fields:
        body["error"] = fields["error"]
    return tags["device"], body


def _event(tags: dict[str, str], fields: dict[str, FieldValue], time_ns: int) -> tuple[str, dict[str, object]]:
    event_id = fields["event_id"]
    if not isinstance(event_id, str):
        raise _Unparsable("event_id is text")
    ts_ms = time_ns // NS_PER_MS
    if event_time_ns(ts_ms, event_id) != time_ns:
        raise _Unparsable("the time is not the event's")
    body: dict[str, object] = {"event_id": event_id, "ts_ms": ts_ms}
    for name in _EVENT_TAGS:
        if name in tags:
            body[name] = tags[name]
    for name in (*_EVENT_TEXT_FIELDS[1:], *_EVENT_NUMBER_FIELDS):
        if name in fields:
            body[name] = fields[name]
    return tags["station"], body


def _same_point(original: ParsedLine, rebuilt: ParsedLine, derived: frozenset[str]) -> bool:
    (measurement, tags, fields, time_ns), (measurement2, tags2, fields2, time_ns2) = original, rebuilt
    if (measurement, tags, time_ns) != (measurement2, tags2, time_ns2):
        return False
    own = {key: value for key, value in fields.items() if key not in derived}
    own2 = {key: value for key, value in fields2.items() if key not in derived}
    return own == own2


def contract_message_of(line: str, site: str | None, prefix: str) -> tuple[str, bytes] | None:
    """The topic and payload that give ``line`` again through the contract and the pipeline; None when none can."""
    if site is None or not is_valid_id(site):
        return None
    try:
        original = parse_line(line)
        measurement, tags, fields, time_ns = original
        if tags.get("site") != site:
            return None
        if measurement == "meter":
            source, body = _reading(tags, fields, time_ns)
            kind, derived = Kind.READING, frozenset[str]()
        elif measurement == "repair_event":
            source, body = _event(tags, fields, time_ns)
            kind, derived = Kind.EVENT, _DERIVED_EVENT_FIELDS
        else:
            return None
    except (ValueError, KeyError):
        return None
    topic = f"{prefix}/{CONTRACT_VERSION}/{site}/{source}/{kind.value}"
    payload = orjson.dumps(body)
    try:
        [rebuilt] = message_points(decode(topic, payload, prefix)).lines
        if not _same_point(original, parse_line(rebuilt), derived):
            return None
    except (ContractError, ValueError):
        return None
    return topic, payload
