"""The readings fast path never accepts what the contract's models reject, and gives the same points.

Differential: thousands of mutated payloads (seeded, so a failure replays) go through both the
fast path and the models. Wherever the fast path says "valid", the models must agree, and the
line protocol written from the plain dicts must equal the one written from the models.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from collector.ingest.pipeline import fast_points
from collector.points import raw_reading_line, reading_line
from shopfloor.contract import ContractError, MeterReading, ReadingBatch, decode, parse_topic, readings_fast
from shopfloor.contract.payloads import QUANTITY_UNITS
from tests.contract.test_contract import MALFORMED, doc_examples

SITE = "gent"


def _reading(i: int, quality: str = "ok", bare: bool = False) -> dict[str, Any]:
    """``bare``: what edges send, canonical quantities as bare floats; else the explicit form with units."""
    values: dict[str, Any] = {
        q: round(1.5 * i + n, 3) if bare else {"value": round(1.5 * i + n, 3), "unit": QUANTITY_UNITS[q]}
        for n, q in enumerate(["power", "voltage_l1", "energy_import", "power_factor", "frequency"])
    }
    if not bare:
        values["x_temperature"] = {"value": 21, "unit": "degC"}
    reading: dict[str, Any] = {
        "ts_ms": 1763900000000 + i,
        "seq": i,
        "edge": "pi-1",
        "device": "main",
        "profile": "eastron-sdm630@1",
        "quality": quality,
        "values": values,
    }
    if quality != "ok":
        reading["values"] = {"power": {"value": None, "unit": "W"}}
        reading["error"] = "no answer from unit 3"
    return reading


def _batch(n: int, bare: bool = False) -> dict[str, Any]:
    return {"edge": "pi-1", "readings": [_reading(i, "stale" if i % 7 == 3 else "ok", bare) for i in range(n)]}


_ODD_VALUES: list[Any] = [
    None,
    "",
    " x ",
    True,
    False,
    1.0,
    -1,
    0,
    10**20,
    10**400,
    "123",
    [],
    {},
    float("inf"),
    float("nan"),
    "ok ",
    "OK",
    "stale",
    "W",
    " W",
    "kW",
    1763900000,
    1763900000000.0,
    "pi-1",
    "pi 1",
    "a" * 600,
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for i, child in enumerate(node[:3]):
            out += _paths(child, (*prefix, i))
    return out


def _mutate(doc: Any, rng: random.Random) -> Any:
    doc = copy.deepcopy(doc)
    path = rng.choice(_paths(doc))
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    action = rng.randrange(5)
    if action == 0 and isinstance(parent, dict):
        del parent[last]
    elif action == 1 and isinstance(parent, dict):
        parent[rng.choice(["extra", "sequence", " power", "x_new", "watts", "value"])] = rng.choice(_ODD_VALUES)
    elif action == 2 and isinstance(parent, dict) and isinstance(last, str):
        parent[rng.choice(["power", "x_y", "x_ y ", "Power", "energy_export"])] = parent.pop(last)
    else:
        parent[last] = rng.choice(_ODD_VALUES)
    return doc


def _lines_by_models(topic: str, payload: bytes) -> list[str] | None:
    try:
        message = decode(topic, payload)
    except ContractError:
        return None
    body = message.payload
    readings = body.readings if isinstance(body, ReadingBatch) else [body]
    assert all(isinstance(r, MeterReading) for r in readings)
    return [reading_line(message.topic.site, r) for r in readings if isinstance(r, MeterReading)]


def _lines_by_fast_path(topic: str, payload: bytes) -> list[str] | None:
    fast = readings_fast(topic, payload)
    if fast is None:
        return None
    parsed, readings = fast
    return [raw_reading_line(parsed.site, r) for r in readings]


def _lines_by_collector(topic: str, payload: bytes) -> list[str] | None:
    """The collector's own fast path: parsed by orjson, lines built with the forms the checks found."""
    try:
        parsed = parse_topic(topic, "shopfloor")
    except ContractError:
        return None
    points = fast_points(parsed, payload)
    return None if points is None else points.lines


@pytest.mark.parametrize("seed", range(4))
def test_fast_path_never_accepts_what_the_models_reject(seed: int) -> None:
    rng = random.Random(seed)
    accepted_by_both = rejected_by_both = 0
    for _ in range(1500):
        bare = rng.random() < 0.5
        if rng.random() < 0.5:
            topic, doc = f"shopfloor/v1/{SITE}/main/reading", _mutate(_reading(rng.randrange(100), bare=bare), rng)
        else:
            topic, doc = f"shopfloor/v1/{SITE}/pi-1/batch", _mutate(_batch(4, bare), rng)
        payload = json.dumps(doc).encode()
        fast = _lines_by_fast_path(topic, payload)
        models = _lines_by_models(topic, payload)
        collector = _lines_by_collector(topic, payload)
        if collector is not None:
            assert models is not None, f"the collector's fast path accepted what the models reject: {payload[:300]!r}"
            assert collector == models
        if fast is not None:
            assert models is not None, f"fast path accepted what the models reject: {payload[:300]!r}"
            assert fast == models
            accepted_by_both += 1
        elif models is None:
            rejected_by_both += 1
    # The mutations hit both sides of the line, or the test would prove nothing.
    assert accepted_by_both > 50 and rejected_by_both > 300


@pytest.mark.parametrize("bare", [True, False], ids=["bare-values", "values-with-units"])
def test_valid_batches_and_doc_examples_take_the_fast_path_with_identical_lines(bare: bool) -> None:
    payload = json.dumps(_batch(500, bare)).encode()
    topic = f"shopfloor/v1/{SITE}/pi-1/batch"
    fast = _lines_by_fast_path(topic, payload)
    assert fast is not None and len(fast) == 500
    assert fast == _lines_by_models(topic, payload)
    assert _lines_by_collector(topic, payload) == fast
    for topic, body in doc_examples():
        if topic.endswith(("/reading", "/batch")):
            fast = _lines_by_fast_path(topic, body.encode())
            assert fast is not None, topic
            assert fast == _lines_by_models(topic, body.encode())
            assert _lines_by_collector(topic, body.encode()) == fast, topic


@pytest.mark.parametrize(
    "value",
    ["123456789012345678901234567890", "18446744073709551616", "-9223372036854775809", "1e400", "NaN", "Infinity"],
)
def test_numbers_beyond_a_plain_float_are_left_to_the_models(value: str) -> None:
    """Integers beyond 2**53 (orjson would read those beyond 64 bits as floats; the models keep the int),
    and inf and nan: the collector's fast path does not accept them, the models' answer stands."""
    body = json.dumps(_reading(3, bare=True)).replace('"power": 4.5', f'"power": {value}')
    assert value in body
    topic = f"shopfloor/v1/{SITE}/main/reading"
    assert _lines_by_collector(topic, body.encode()) is None


@pytest.mark.parametrize(("topic", "payload"), [(m[1], m[2]) for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_every_documented_malformed_case_falls_back_to_the_models(topic: str, payload: bytes) -> None:
    assert readings_fast(topic, payload) is None
