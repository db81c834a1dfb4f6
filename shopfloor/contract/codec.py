"""Bytes on the wire <-> contract models. The only place that knows which kind carries which model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from shopfloor.contract.errors import ContractError
from shopfloor.contract.fastpath import RawReading, readings_if_plainly_valid
from shopfloor.contract.payloads import EdgeStatus, GuardDecision, MeterReading, ReadingBatch, StationEvent
from shopfloor.contract.topics import DEFAULT_PREFIX, Kind, Topic, parse_topic

Payload = MeterReading | ReadingBatch | StationEvent | EdgeStatus | GuardDecision

MODEL_BY_KIND: dict[Kind, type[BaseModel]] = {
    Kind.READING: MeterReading,
    Kind.BATCH: ReadingBatch,
    Kind.EVENT: StationEvent,
    Kind.STATUS: EdgeStatus,
    Kind.GUARD: GuardDecision,
}


@dataclass(frozen=True, slots=True)
class Message:
    topic: Topic
    payload: Payload


def contract_error_from(exc: ValidationError) -> ContractError:
    """The first pydantic error as a ContractError whose field is a dotted path."""
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "payload"
    reason = first["msg"]
    if reason.startswith("Value error, "):
        reason = reason.removeprefix("Value error, ")
    if first["type"] == "json_invalid":
        field = "payload"
        reason = f"not valid JSON ({first.get('ctx', {}).get('error', reason)})"
    elif "input" in first and first["type"] not in ("missing", "model_type"):
        shown = repr(first["input"])
        if len(shown) <= 60:
            reason = f"{reason} (got {shown})"
    extra = len(exc.errors()) - 1
    if extra:
        reason = f"{reason} (+{extra} more error{'s' if extra > 1 else ''})"
    return ContractError(field, reason)


def decode_payload(kind: Kind, payload: bytes | str) -> Payload:
    model = MODEL_BY_KIND[kind]
    try:
        parsed = model.model_validate_json(payload)
    except ValidationError as exc:
        raise contract_error_from(exc) from None
    assert isinstance(parsed, MeterReading | ReadingBatch | StationEvent | EdgeStatus | GuardDecision)
    return parsed


def decode(topic: str, payload: bytes | str, prefix: str = DEFAULT_PREFIX) -> Message:
    """Parse and validate one MQTT message; raises ContractError naming the bad field."""
    return decode_message(parse_topic(topic, prefix), payload)


def decode_message(topic: Topic, payload: bytes | str) -> Message:
    """Validate the payload of a message whose topic is already parsed; raises ContractError."""
    try:
        body = decode_payload(topic.kind, payload)
        _check_topic_matches(topic, body)
    except ContractError as exc:
        exc.site = topic.site
        raise
    return Message(topic, body)


def _check_topic_matches(topic: Topic, body: Payload) -> None:
    source_field = {
        MeterReading: "device",
        ReadingBatch: "edge",
        StationEvent: "station",
        EdgeStatus: "edge",
        GuardDecision: "edge",
    }[type(body)]
    value = getattr(body, source_field)
    if value != topic.source:
        raise ContractError(source_field, f"is {value!r} but the topic names {topic.source!r}")


def readings_fast(
    topic: str, payload: bytes | str, prefix: str = DEFAULT_PREFIX
) -> tuple[Topic, list[RawReading]] | None:
    """Meter readings as plain dicts, when they are certainly valid; None means: use :func:`decode`."""
    try:
        parsed_topic = parse_topic(topic, prefix)
    except ContractError:
        return None
    readings = readings_if_plainly_valid(parsed_topic, payload)
    return None if readings is None else (parsed_topic, readings)


def encode(payload: Payload) -> bytes:
    # exclude_defaults, not exclude_none: a null value ("not available") must stay on the wire.
    return payload.model_dump_json(exclude_defaults=True).encode()


def encode_batch(edge: str, readings: Sequence[str]) -> bytes:
    """A ReadingBatch of readings that :func:`encode` already encoded: spliced as they are, not re-encoded.

    The edge keeps each reading encoded in its outbox; a backlog flush of 500 readings would otherwise
    decode and encode every one of them again.
    """
    return f'{{"edge":{json.dumps(edge)},"readings":[{",".join(readings)}]}}'.encode()
