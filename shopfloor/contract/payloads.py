"""Payload models of contract v1. Documented, with examples, in docs/contract.md.

All payloads are UTF-8 JSON objects. Unknown keys are rejected, so a typo in a device
mapping fails loudly instead of silently losing a value.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    field_serializer,
    field_validator,
    model_validator,
)

from shopfloor.contract.categories import find_category
from shopfloor.contract.topics import ID_PATTERN

# 2000-01-01 .. 2100-01-01 in ms: catches seconds or ns sent where ms are expected.
_MIN_TS_MS = 946_684_800_000
_MAX_TS_MS = 4_102_444_800_000

DeviceId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
# Numbers are numbers: "12" or true is refused, never coerced (a float field takes an integer, as JSON has one
# number type). Integers stay within int64, what InfluxDB stores.
MAX_INT64 = 2**63 - 1
Int = Annotated[int, Strict(), Field(le=MAX_INT64)]  # each field says its own lower bound
Float = Annotated[float, Strict()]
TimestampMs = Annotated[
    int,
    Strict(),
    Field(
        ge=_MIN_TS_MS,
        le=_MAX_TS_MS,
        description="Unix time in milliseconds (UTC) when the value was taken",
    ),
]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]

# Canonical quantity -> unit. The edge converts to these units (profiles carry the scale),
# so every site is compared on the same terms. Custom quantities start with "x_" and may
# carry any unit.
QUANTITY_UNITS: dict[str, str] = {
    "voltage_l1": "V",
    "voltage_l2": "V",
    "voltage_l3": "V",
    "current_l1": "A",
    "current_l2": "A",
    "current_l3": "A",
    "current_total": "A",
    "power": "W",
    "power_l1": "W",
    "power_l2": "W",
    "power_l3": "W",
    "apparent_power": "VA",
    "reactive_power": "var",
    "power_factor": "1",
    "frequency": "Hz",
    "energy_import": "kWh",
    "energy_export": "kWh",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, str_strip_whitespace=True)


class Quality(StrEnum):
    OK = "ok"  # all values read and decoded
    STALE = "stale"  # the device did not answer: no values, never zeros
    ERROR = "error"  # the device answered with an error or undecodable data


class Value(_Strict):
    """One quantity. ``value`` is null when the meter reports its 'not available' sentinel."""

    # Strict: a number or null, never a numeric string or a boolean coerced into one.
    value: Annotated[float, Strict()] | None
    unit: str = Field(min_length=1, max_length=16)


MAX_QUANTITY_NAME = 64
_BACKSLASH_BEFORE_SEPARATOR = re.compile(r'\\[,= "\\]')


def unwritable_because(name: str) -> str | None:
    """Why a name cannot be stored as an InfluxDB measurement, tag or field name; None when it can.

    Line protocol has no escape for a line break. A backslash is literal, except before a comma, an
    equals sign, a space, a double quote or another backslash, which InfluxDB 1.x reads as escapes in some
    elements: so one just before those (or at the end, before the separator) would change what InfluxDB
    reads. ``time`` is InfluxDB's own column.
    """
    if not name:
        return "it is empty"
    if "\n" in name or "\r" in name:
        return "it holds a line break"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return "it holds a control character, which InfluxDB drops"
    if name.endswith("\\"):
        return "it ends with a backslash"
    if _BACKSLASH_BEFORE_SEPARATOR.search(name):
        return "a backslash stands before a comma, an equals sign, a space, a quote or a backslash"
    if name == "time":
        return "'time' is InfluxDB's own column"
    return None


def _unknown_quantity(quantity: str) -> ValueError:
    known = ", ".join(QUANTITY_UNITS)
    return ValueError(f"unknown quantity {quantity!r}: use one of {known}, or prefix a custom one with 'x_'")


class MeterReading(_Strict):
    """One poll of one device: topic kind ``reading``, or an element of a ``batch``.

    A canonical quantity's entry in ``values`` may be a bare number (or null): its unit is the
    canonical one, so saying it again on every reading only costs bytes and parsing. Edges send
    that form; the ``{"value", "unit"}`` form stays valid, and custom ``x_`` quantities need it.
    """

    ts_ms: TimestampMs
    seq: Int = Field(ge=0, description="per-edge sequence number, +1 per reading, survives restarts")
    edge: DeviceId
    device: DeviceId
    profile: str = Field(min_length=1, max_length=64, description="meter profile, name@version")
    quality: Quality
    values: dict[str, Value] = Field(default_factory=dict)
    error: str | None = Field(default=None, max_length=500, description="why the reading is stale or in error")

    @field_validator("values", mode="before")
    @classmethod
    def _bare_numbers_carry_the_canonical_unit(cls, values: object) -> object:
        if not isinstance(values, dict):
            return values
        expanded: dict[object, object] = {}
        for quantity, measured in values.items():
            if isinstance(measured, dict | Value):
                expanded[quantity] = measured
                continue
            unit = QUANTITY_UNITS.get(quantity.strip()) if isinstance(quantity, str) else None
            if unit is None:
                if isinstance(quantity, str) and quantity.strip().startswith("x_"):
                    raise ValueError(f'custom quantity {quantity!r} needs the form {{"value": ..., "unit": ...}}')
                raise _unknown_quantity(str(quantity))
            expanded[quantity] = {"value": measured, "unit": unit}
        return expanded

    @field_validator("values")
    @classmethod
    def _known_quantities_in_canonical_units(cls, values: dict[str, Value]) -> dict[str, Value]:
        for quantity, measured in values.items():
            expected = QUANTITY_UNITS.get(quantity)
            if expected is None:
                if not quantity.startswith("x_"):
                    raise _unknown_quantity(quantity)
                if len(quantity) > MAX_QUANTITY_NAME:
                    raise ValueError(
                        f"custom quantity {quantity[:40]!r}... is {len(quantity)} characters long, "
                        f"at most {MAX_QUANTITY_NAME}"
                    )
                why = unwritable_because(quantity)
                if why is not None:
                    raise ValueError(f"custom quantity {quantity[:80]!r} cannot be stored: {why}")
            elif measured.unit != expected:
                raise ValueError(f"{quantity}.unit must be {expected!r}, got {measured.unit!r}")
        return values

    @model_validator(mode="after")
    def _quality_matches_values(self) -> Self:
        if self.quality is Quality.OK and not self.values:
            raise ValueError("quality 'ok' needs at least one entry in values")
        if self.quality is not Quality.OK and any(v.value is not None for v in self.values.values()):
            raise ValueError(f"a {self.quality.value!r} reading carries no values (a dead meter is never zero)")
        return self

    @field_serializer("values", when_used="json")
    def _canonical_quantities_as_bare_numbers(self, values: dict[str, Value]) -> dict[str, object]:
        return {
            quantity: measured.value
            if QUANTITY_UNITS.get(quantity) == measured.unit
            else {"value": measured.value, "unit": measured.unit}
            for quantity, measured in values.items()
        }


class ReadingBatch(_Strict):
    """Many readings in one message (topic kind ``batch``), used to flush a backlog fast."""

    edge: DeviceId
    readings: list[MeterReading] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _one_edge(self) -> Self:
        for i, reading in enumerate(self.readings):
            if reading.edge != self.edge:
                raise ValueError(f"readings[{i}].edge is {reading.edge!r} but the batch is from {self.edge!r}")
        return self


class EventType(StrEnum):
    CHECKED_IN = "checked_in"
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    FINISHED = "finished"
    STATE = "state"


class RepairStatus(StrEnum):
    """ORDS ``repair_status``."""

    FIXED = "Fixed"
    REPAIRABLE = "Repairable"
    END_OF_LIFE = "End of life"
    UNKNOWN = "Unknown"


class Barrier(StrEnum):
    """ORDS ``repair_barrier_if_end_of_life``, spelled as in the published data."""

    PARTS_NOT_AVAILABLE = "Spare parts not available"
    PARTS_TOO_EXPENSIVE = "Spare parts too expensive"
    NO_WAY_TO_OPEN = "No way to open the product"
    NO_REPAIR_INFO = "Repair information not available"
    LACK_OF_EQUIPMENT = "Lack of equipment"
    TOO_WORN_OUT = "Item too worn out"


class ReuseOutcome(StrEnum):
    """What a reuse centre did with the item, beside or instead of a repair."""

    REUSED_AS_IS = "reused_as_is"
    PARTS_HARVESTED = "parts_harvested"
    RECYCLED = "recycled"


class StationState(StrEnum):
    IDLE = "idle"
    WORKING = "working"
    PAUSED = "paused"
    CLOSED = "closed"


_ITEM_EVENTS = frozenset(EventType) - {EventType.STATE}


class StationEvent(_Strict):
    """Something that happened at a repair bench (topic kind ``event``).

    Ingestion is idempotent by ``event_id``: a retry with the same id is the same event.
    """

    event_id: ShortText
    ts_ms: TimestampMs
    station: DeviceId
    type: EventType
    item_id: ShortText | None = None
    category: str | None = Field(default=None, description="ORDS product_category or an unpowered category")
    weight_kg: Float | None = Field(default=None, gt=0, le=5000)
    repair_status: RepairStatus | None = None
    barrier: Barrier | None = None
    outcome: ReuseOutcome | None = None
    brand: str | None = Field(default=None, max_length=100)
    product_age: Float | None = Field(default=None, ge=0, le=200, description="years")
    year_of_manufacture: Int | None = Field(default=None, ge=1800, le=2100)
    problem: str | None = Field(default=None, max_length=2000)
    state: StationState | None = None
    source: str | None = Field(default=None, max_length=32, description="bench-page, button, io, ords-import, ...")
    edge: DeviceId | None = Field(default=None, description="the edge agent that published it, if one did")
    seq: Int | None = Field(
        default=None, ge=0, description="that edge's sequence number, shared with its readings: a gap is a lost message"
    )

    @field_validator("category")
    @classmethod
    def _known_category(cls, category: str | None) -> str | None:
        if category is None:
            return None
        found = find_category(category)
        if found is None:
            raise ValueError(f"unknown category {category!r}: use an ORDS product_category or an unpowered one")
        return found.name

    @field_validator("weight_kg", "product_age")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @model_validator(mode="after")
    def _fields_fit_the_type(self) -> Self:
        if self.type in _ITEM_EVENTS and self.item_id is None:
            raise ValueError(f"item_id is required for a {self.type.value!r} event")
        if self.type is EventType.STATE and self.state is None:
            raise ValueError("state is required for a 'state' event")
        if self.type is not EventType.STATE and self.state is not None:
            raise ValueError("state is only allowed on a 'state' event")
        if self.type is EventType.CHECKED_IN and self.category is None:
            raise ValueError("category is required when an item is checked in")
        final = (self.repair_status, self.outcome)
        if self.type is EventType.FINISHED and final == (None, None):
            raise ValueError("a 'finished' event needs repair_status or outcome")
        if self.type is not EventType.FINISHED and final != (None, None):
            raise ValueError("repair_status and outcome belong on the 'finished' event only")
        if self.barrier is not None and self.repair_status is not RepairStatus.END_OF_LIFE:
            raise ValueError("barrier is only allowed when repair_status is 'End of life'")
        return self


class EdgeState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class EdgeStatus(_Strict):
    """Retained liveness of an edge agent (topic kind ``status``); the offline form is its last will."""

    edge: DeviceId
    state: EdgeState
    ts_ms: TimestampMs
    version: str = Field(min_length=1, max_length=32)
    buffer_depth: Int = Field(default=0, ge=0, description="readings in the outbox not yet acknowledged")
    oldest_buffered_ts_ms: Int | None = Field(default=None, ge=0)
    dropped: dict[str, Int] = Field(default_factory=dict, description="readings dropped, by reason: full, age")
    devices: dict[str, Quality] = Field(default_factory=dict, description="last quality per device")

    @field_validator("dropped")
    @classmethod
    def _non_negative(cls, dropped: dict[str, int]) -> dict[str, int]:
        for reason, count in dropped.items():
            if count < 0:
                raise ValueError(f"dropped.{reason} must be >= 0")
        return dropped


class GuardAction(StrEnum):
    SHED = "shed"  # the load was switched off to keep the quarter under the target
    RESTORE = "restore"  # switched back on: room under the target, its max_off_s, or its never-window
    QUARTER_END = "quarter_end"  # a quarter ended: forecast_kw and average_kw are its measured average
    OVERRIDE = "override"  # a technician forced the load on or off until a time
    OVERRIDE_END = "override_end"  # that override expired; the guard decides again


class GuardDecision(_Strict):
    """One decision of an edge's peak guard (topic kind ``guard``, source the edge id); docs/peak-guard.md."""

    decision_id: ShortText = Field(description="edge id, ts_ms and a counter: idempotent on retries")
    ts_ms: TimestampMs
    edge: DeviceId
    action: GuardAction
    load: DeviceId | None = Field(default=None, description="the load switched; null for quarter_end")
    quarter_start_ms: TimestampMs = Field(description="start of the quarter hour the decision is about")
    forecast_kw: float | None = Field(default=None, description="forecast of the quarter's average; null: no data")
    average_kw: float | None = Field(default=None, description="the quarter's average so far")
    target_kw: float = Field(ge=0, description="the quarter-hour average the guard keeps under")
    month_peak_kw: float | None = Field(default=None, ge=0, description="the month's peak so far; null: none yet")
    reason: str = Field(min_length=1, max_length=200)
    seq: int | None = Field(default=None, ge=0, description="the edge's sequence number, shared with its readings")

    @model_validator(mode="after")
    def _load_fits_the_action(self) -> Self:
        if self.action is GuardAction.QUARTER_END and self.load is not None:
            raise ValueError("a 'quarter_end' decision names no load")
        if self.action is not GuardAction.QUARTER_END and self.load is None:
            raise ValueError(f"a {self.action.value!r} decision needs 'load'")
        return self
