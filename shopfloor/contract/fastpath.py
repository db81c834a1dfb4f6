"""A fast way to accept meter readings: the rules of :mod:`payloads`, checked on plain dicts.

A backlog flush brings hundreds of readings per message. Building pydantic models for them costs
about 30 µs a reading, five times the JSON parse. This path parses once and checks the same
rules by hand. It only ever says "valid": when anything is unusual (a wrong type, surrounding
whitespace, an int sent as a float, an unknown key), it returns None and the caller uses the
models, which stay the authority and word the errors. Tests check that this path never accepts
a payload the models reject, and that its readings give the same points.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import pydantic_core

from shopfloor.contract.payloads import (
    _MAX_TS_MS,
    _MIN_TS_MS,
    MAX_INT64,
    MAX_QUANTITY_NAME,
    QUANTITY_UNITS,
    unwritable_because,
)
from shopfloor.contract.topics import ID_PATTERN, Kind, Topic

RawReading = dict[str, Any]

_ID = re.compile(ID_PATTERN)
_READING_KEYS = frozenset({"ts_ms", "seq", "edge", "device", "profile", "quality", "values", "error"})
_REQUIRED_KEYS = frozenset({"ts_ms", "seq", "edge", "device", "profile", "quality"})
_QUALITIES = frozenset({"ok", "stale", "error"})
# A known quantity in its canonical unit: one set lookup checks name, unit and whitespace at once.
_CANONICAL = frozenset(QUANTITY_UNITS.items())
_CANONICAL_NAMES = frozenset(QUANTITY_UNITS)
_FLOATS_ONLY = {float}
_MAX_BATCH = 10_000
# Beyond this, an integer's conversion to float is worth leaving to the models.
_MAX_PLAIN = 2**53


def _is_id(value: object) -> bool:
    return type(value) is str and _known_id(value)


@functools.lru_cache(maxsize=4096)
def _known_id(value: str) -> bool:
    # A batch repeats the same few device ids hundreds of times: match each once.
    # fullmatch: with match, "$" also matches before a final newline, and "gent-pi\n" would pass.
    return _ID.fullmatch(value) is not None


def _is_text(value: object, max_length: int, min_length: int = 0) -> bool:
    return type(value) is str and min_length <= len(value) <= max_length and value == value.strip()


@functools.lru_cache(maxsize=1024)
def _is_profile(value: str) -> bool:
    return _is_text(value, 64, 1)


def bare_floats(values: dict[str, Any]) -> bool:
    """The form edges send: canonical quantities only, each a bare float. Set operations in C, no loop."""
    return values.keys() <= _CANONICAL_NAMES and set(map(type, values.values())) == _FLOATS_ONLY


def _valid_values(values: object, ok: bool) -> bool:
    if type(values) is not dict:
        return False
    if not values:
        return not ok
    if ok and bare_floats(values):
        total = sum(values.values())
        # inf or nan anywhere makes the sum inf or nan; an overflow only sends the reading to the models.
        return bool(total - total == 0.0)
    return _valid_values_one_by_one(values, ok)


def _valid_values_one_by_one(values: dict[str, Any], ok: bool) -> bool:
    for quantity, measured in values.items():
        if type(measured) is dict:
            if len(measured) != 2 or "value" not in measured:
                return False
            unit = measured.get("unit")
            if type(unit) is not str or ((quantity, unit) not in _CANONICAL and not _valid_custom(quantity, unit)):
                return False
            value = measured["value"]
        elif quantity in _CANONICAL_NAMES:
            value = measured
        else:
            return False
        if value is None:
            continue
        if not ok:
            return False
        kind = type(value)
        # x - x is 0.0 for every finite float, and nan for inf and nan.
        if kind is float:
            if value - value != 0.0:
                return False
        elif kind is not int or abs(value) > _MAX_PLAIN:
            return False
    return True


def _valid_custom(quantity: str, unit: object) -> bool:
    return (
        quantity.startswith("x_")
        and len(quantity) <= MAX_QUANTITY_NAME
        and quantity == quantity.strip()
        and unwritable_because(quantity) is None
        and _is_text(unit, 16, 1)
    )


def valid_reading(reading: object, edge: str | None = None) -> bool:
    """True only if :class:`MeterReading` would accept ``reading`` unchanged (no coercion, no stripping)."""
    if type(reading) is not dict:
        return False
    keys = reading.keys()
    if not keys >= _REQUIRED_KEYS or not keys <= _READING_KEYS:
        return False
    ts, seq = reading["ts_ms"], reading["seq"]
    if type(ts) is not int or not _MIN_TS_MS <= ts <= _MAX_TS_MS or type(seq) is not int or not 0 <= seq <= MAX_INT64:
        return False
    if not _is_id(reading["edge"]) or not _is_id(reading["device"]):
        return False
    if edge is not None and reading["edge"] != edge:
        return False
    quality = reading["quality"]
    profile = reading["profile"]
    if type(profile) is not str or not _is_profile(profile) or type(quality) is not str or quality not in _QUALITIES:
        return False
    error = reading.get("error")
    if error is not None and not _is_text(error, 500):
        return False
    return _valid_values(reading.get("values", {}), quality == "ok")


def readings_if_plainly_valid(topic: Topic, payload: bytes | str) -> list[RawReading] | None:
    """The readings of a ``reading`` or ``batch`` message when they are certainly valid, else None."""
    try:
        data = pydantic_core.from_json(payload)
    except ValueError:
        return None
    if topic.kind is Kind.READING:
        if valid_reading(data) and data["device"] == topic.source:
            return [data]
        return None
    if topic.kind is not Kind.BATCH or type(data) is not dict or data.keys() != {"edge", "readings"}:
        return None
    edge, readings = data["edge"], data["readings"]
    if not _is_id(edge) or edge != topic.source or type(readings) is not list:
        return None
    if not 1 <= len(readings) <= _MAX_BATCH:
        return None
    if all(valid_reading(reading, edge) for reading in readings):
        return readings
    return None
