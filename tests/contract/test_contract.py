"""Contract v1: every documented example parses; malformed payloads are rejected naming the field."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from shopfloor.contract import (
    ContractError,
    EdgeStatus,
    Kind,
    MeterReading,
    Quality,
    ReadingBatch,
    StationEvent,
    build_topic,
    decode,
    encode,
    find_category,
    parse_topic,
    subscription,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "contract.md"
_EXAMPLE = re.compile(r"```json topic=(\S+)\n(.*?)```", re.DOTALL)


def doc_examples() -> list[tuple[str, str]]:
    return _EXAMPLE.findall(DOC.read_text())


def test_docs_have_an_example_of_every_kind() -> None:
    kinds = {parse_topic(topic).kind for topic, _ in doc_examples()}
    assert kinds == set(Kind)


@pytest.mark.parametrize(("topic", "body"), doc_examples())
def test_every_doc_example_parses(topic: str, body: str) -> None:
    message = decode(topic, body.encode())
    assert str(message.topic) == topic
    # encode -> decode is lossless
    assert decode(topic, encode(message.payload)).payload == message.payload


READING: dict[str, Any] = {
    "ts_ms": 1763900000123,
    "seq": 1,
    "edge": "pi",
    "device": "main",
    "profile": "eastron-sdm630@1",
    "quality": "ok",
    "values": {"power": {"value": 100.0, "unit": "W"}},
}
EVENT: dict[str, Any] = {
    "event_id": "e1",
    "ts_ms": 1763900000000,
    "station": "bench-1",
    "type": "finished",
    "item_id": "I1",
    "repair_status": "Fixed",
}
STATUS: dict[str, Any] = {"edge": "pi", "state": "online", "ts_ms": 1763900000000, "version": "0.1.0"}
R_TOPIC = "shopfloor/v1/site-a/main/reading"
E_TOPIC = "shopfloor/v1/site-a/bench-1/event"
S_TOPIC = "shopfloor/v1/site-a/pi/status"


def _with(base: dict[str, Any], **changes: Any) -> bytes:
    body = {**base, **changes}
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


MALFORMED: list[tuple[str, str, bytes, str, str]] = [
    # (case id, topic, payload, field the error must name, words the reason must contain)
    ("not-json", R_TOPIC, b"{power: 1", "payload", "JSON"),
    ("ts-in-seconds", R_TOPIC, _with(READING, ts_ms=1763900000), "ts_ms", "greater than or equal"),
    ("negative-seq", R_TOPIC, _with(READING, seq=-1), "seq", "greater than or equal"),
    ("missing-device", R_TOPIC, _with(READING, device=...), "device", "Field required"),
    ("bad-quality", R_TOPIC, _with(READING, quality="good"), "quality", "'ok', 'stale' or 'error'"),
    (
        "wrong-unit",
        R_TOPIC,
        _with(READING, values={"power": {"value": 2.3, "unit": "kW"}}),
        "values",
        "power.unit must be 'W'",
    ),
    ("unknown-quantity", R_TOPIC, _with(READING, values={"watts": {"value": 1, "unit": "W"}}), "values", "watts"),
    (
        "nan-value",
        R_TOPIC,
        b'{"ts_ms":1763900000123,"seq":1,"edge":"pi","device":"main","profile":"p",'
        b'"quality":"ok","values":{"power":{"value":NaN,"unit":"W"}}}',
        "values.power.value",
        "finite",
    ),
    (
        "stale-with-zero",
        R_TOPIC,
        _with(READING, quality="stale", values={"power": {"value": 0, "unit": "W"}}),
        "payload",
        "never zero",
    ),
    ("ok-without-values", R_TOPIC, _with(READING, values={}), "payload", "at least one"),
    ("typo-key", R_TOPIC, _with(READING, sequence=5), "sequence", "Extra inputs"),
    ("device-not-topic", R_TOPIC, _with(READING, device="bench-9"), "device", "topic names 'main'"),
    ("bad-device-id", "shopfloor/v1/site-a/ma in/reading", _with(READING, device="ma in"), "topic.source", "valid id"),
    ("unknown-kind", "shopfloor/v1/site-a/main/telemetry", _with(READING), "topic.kind", "unknown kind"),
    ("wrong-version", "shopfloor/v2/site-a/main/reading", _with(READING), "topic.version", "v2"),
    ("event-bad-status", E_TOPIC, _with(EVENT, repair_status="Repaired"), "repair_status", "Fixed"),
    ("event-barrier-when-fixed", E_TOPIC, _with(EVENT, barrier="Lack of equipment"), "payload", "barrier"),
    ("event-unknown-category", E_TOPIC, _with(EVENT, category="Spaceship"), "category", "unknown category"),
    ("event-no-item", E_TOPIC, _with(EVENT, item_id=None), "payload", "item_id is required"),
    ("event-finished-no-outcome", E_TOPIC, _with(EVENT, repair_status=None), "payload", "repair_status or outcome"),
    ("event-checkin-no-category", E_TOPIC, _with(EVENT, type="checked_in", repair_status=None), "payload", "category"),
    ("event-negative-weight", E_TOPIC, _with(EVENT, weight_kg=-2), "weight_kg", "greater than 0"),
    ("status-bad-state", S_TOPIC, _with(STATUS, state="sleeping"), "state", "'online' or 'offline'"),
    ("status-negative-drops", S_TOPIC, _with(STATUS, dropped={"full": -1}), "dropped", "dropped.full"),
    (
        "batch-mixed-edges",
        "shopfloor/v1/site-a/pi/batch",
        json.dumps({"edge": "pi", "readings": [{**READING, "edge": "other"}]}).encode(),
        "payload",
        "readings[0].edge",
    ),
    ("batch-empty", "shopfloor/v1/site-a/pi/batch", b'{"edge": "pi", "readings": []}', "readings", "at least 1"),
]


@pytest.mark.parametrize(
    ("topic", "payload", "field", "reason"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_payload_is_rejected_naming_the_field(topic: str, payload: bytes, field: str, reason: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode(topic, payload)
    assert caught.value.field == field
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{field}: ")


def test_at_least_ten_malformed_cases() -> None:
    assert len(MALFORMED) >= 10


def test_topic_round_trip_and_subscription() -> None:
    topic = build_topic("gent", "bench-1", Kind.EVENT)
    assert topic == "shopfloor/v1/gent/bench-1/event"
    parsed = parse_topic(topic)
    assert (parsed.site, parsed.source, parsed.kind) == ("gent", "bench-1", Kind.EVENT)
    assert subscription() == "shopfloor/v1/+/+/+"
    assert subscription("acme/shops", "gent") == "acme/shops/v1/gent/+/+"
    assert parse_topic("acme/shops/v1/gent/main/reading", prefix="acme/shops").site == "gent"
    with pytest.raises(ContractError):
        build_topic("gent", "bench/1", Kind.EVENT)


def test_models_round_trip_through_their_own_types() -> None:
    reading = MeterReading.model_validate(READING)
    assert reading.quality is Quality.OK
    batch = ReadingBatch(edge="pi", readings=[reading])
    assert ReadingBatch.model_validate_json(encode(batch)) == batch
    assert StationEvent.model_validate(EVENT).repair_status == "Fixed"
    assert EdgeStatus.model_validate(STATUS).buffer_depth == 0


def test_category_lookup_by_name_alias_and_ords_id() -> None:
    laptop = find_category("laptop")
    assert laptop is not None and laptop.ords_id == 16 and laptop.footprint_kgco2e == 265.32
    assert find_category(16) == laptop
    assert find_category("16") == laptop
    furniture = find_category("Unpowered - Furniture")
    assert furniture is not None and furniture.name == "Furniture" and not furniture.powered
    misc = find_category("Misc")
    assert misc is not None and misc.weight_kg is None
    assert find_category("Spaceship") is None


def test_event_category_is_normalised_to_the_canonical_name() -> None:
    event = StationEvent.model_validate(
        {**EVENT, "type": "checked_in", "repair_status": None, "category": "hi-fi separates"}
    )
    assert event.category == "Hi-Fi separates"


def test_a_batch_spliced_from_encoded_readings_is_the_batch_the_models_encode() -> None:
    """The edge splices readings from its outbox into a batch; the collector must read the very same batch."""
    from shopfloor.contract import MeterReading, ReadingBatch, encode, encode_batch

    readings = [
        MeterReading.model_validate(
            {
                "ts_ms": 1_763_900_000_000 + i,
                "seq": i,
                "edge": "pi-1",
                "device": "main",
                "profile": "p@1",
                "quality": "ok",
                "values": {"power": 100.0 + i},
            }
        )
        for i in range(3)
    ]
    spliced = encode_batch("pi-1", [encode(reading).decode() for reading in readings])
    assert ReadingBatch.model_validate_json(spliced) == ReadingBatch(edge="pi-1", readings=readings)
    assert decode("shopfloor/v1/gent/pi-1/batch", spliced).payload == ReadingBatch(edge="pi-1", readings=readings)
