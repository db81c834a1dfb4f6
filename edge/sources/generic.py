"""Any other device: a topic plus JSON paths to the power, the energy total and the timestamp.

Covers ESPHome (``<node>/sensor/<name>/state`` with a plain number: path ``""``) and custom
firmware. A path is dot-separated keys and list indexes: ``ENERGY.Power``, ``sensors.0.value``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from edge.sources.sample import PayloadError, Sample, number

_EARLIEST_MS, _LATEST_MS = 946_684_800_000, 4_102_444_800_000  # the contract's range: 2000..2100
POWER_SCALE = {"W": 1.0, "kW": 1000.0}
ENERGY_SCALE = {"Wh": 0.001, "kWh": 1.0, "Wmin": 1 / 60_000}


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT filter matching: ``+`` is one level, a trailing ``#`` any number of levels."""
    want, got = pattern.split("/"), topic.split("/")
    for i, level in enumerate(want):
        if level == "#":
            return True
        if i >= len(got) or (level != "+" and level != got[i]):
            return False
    return len(want) == len(got)


def lookup(body: Any, path: str, what: str) -> Any:
    node = body
    for key in [k for k in path.split(".") if k]:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise PayloadError(f"{what}: no {path!r} in the payload")
    return node


def timestamp_ms(value: Any, fmt: str, what: str) -> int:
    if fmt == "iso":
        if not isinstance(value, str):
            raise PayloadError(f"{what}: timestamp {value!r} is not an ISO string")
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            raise PayloadError(f"{what}: timestamp {value!r} is not ISO 8601") from None
        if stamp.tzinfo is None:
            raise PayloadError(f"{what}: timestamp {value!r} has no time zone")
        return int(stamp.timestamp() * 1000)
    raw = number(value, f"{what} timestamp")
    ts_ms = int(raw * 1000) if fmt == "epoch_s" else int(raw)
    if not _EARLIEST_MS <= ts_ms <= _LATEST_MS:
        raise PayloadError(f"{what}: timestamp {value!r} is not a date between 2000 and 2100 as {fmt}")
    return ts_ms


def sample(
    topic: str,
    payload: bytes,
    *,
    power: tuple[str, str, float] | None,
    energy: tuple[str, str, float] | None,
    timestamp: tuple[str, str] | None = None,
) -> Sample:
    """``power``/``energy``: (topic pattern, path, scale to W/kWh); ``timestamp``: (path, format).

    Only the quantities whose topic pattern matches ``topic`` are read from this message.
    """
    body: Any = None

    def parsed() -> Any:
        nonlocal body
        if body is None:
            body = json_object_or_list(payload, topic)
        return body

    def read(spec: tuple[str, str, float] | None, what: str) -> float | None:
        if spec is None or not topic_matches(spec[0], topic):
            return None
        _pattern, path, scale = spec
        if not path:
            return number(payload.decode("utf-8", "replace").strip(), f"{topic} {what}") * scale
        return number(lookup(parsed(), path, topic), f"{topic} {path}") * scale

    power_w = read(power, "power")
    energy_kwh = read(energy, "energy")
    if power_w is None and energy_kwh is None:
        raise PayloadError(f"{topic}: matches no configured value topic")
    ts_ms = None
    if timestamp is not None and timestamp[0]:
        ts_ms = timestamp_ms(lookup(parsed(), timestamp[0], topic), timestamp[1], topic)
    return Sample(power_w=power_w, energy_kwh=energy_kwh, ts_ms=ts_ms)


def json_object_or_list(payload: bytes, what: str) -> Any:
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"{what}: not JSON ({exc})") from None
