"""Wire contract v1 between the edge agents and the collector (docs/contract.md)."""

from shopfloor.contract.categories import CATEGORIES, Category, find_category
from shopfloor.contract.codec import Message, Payload, decode, decode_message, decode_payload, encode, readings_fast
from shopfloor.contract.errors import ContractError
from shopfloor.contract.fastpath import RawReading, readings_if_plainly_valid
from shopfloor.contract.payloads import (
    QUANTITY_UNITS,
    Barrier,
    EdgeState,
    EdgeStatus,
    EventType,
    MeterReading,
    Quality,
    ReadingBatch,
    RepairStatus,
    ReuseOutcome,
    StationEvent,
    StationState,
    Value,
)
from shopfloor.contract.topics import (
    CONTRACT_VERSION,
    DEFAULT_PREFIX,
    Kind,
    Topic,
    build_topic,
    is_valid_id,
    parse_topic,
    subscription,
)

__all__ = [
    "CATEGORIES",
    "CONTRACT_VERSION",
    "DEFAULT_PREFIX",
    "QUANTITY_UNITS",
    "Barrier",
    "Category",
    "ContractError",
    "EdgeState",
    "EdgeStatus",
    "EventType",
    "Kind",
    "Message",
    "MeterReading",
    "Payload",
    "Quality",
    "RawReading",
    "ReadingBatch",
    "RepairStatus",
    "ReuseOutcome",
    "StationEvent",
    "StationState",
    "Topic",
    "Value",
    "build_topic",
    "decode",
    "decode_message",
    "decode_payload",
    "encode",
    "find_category",
    "is_valid_id",
    "parse_topic",
    "readings_fast",
    "readings_if_plainly_valid",
    "subscription",
]
