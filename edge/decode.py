"""Registers <-> values: word order, signedness, floats, scale and 'not available' sentinels.

Pure functions. ``encode_value`` is the inverse of ``decode_value``; the tests and the
simulator use it to load a Modbus server with known readings.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence

from edge.plan import ReadRequest
from edge.profiles import DataType, ResolvedField, WordOrder

_STRUCT = {
    DataType.U16: ">H",
    DataType.I16: ">h",
    DataType.U32: ">I",
    DataType.I32: ">i",
    DataType.U64: ">Q",
    DataType.F32: ">f",
    DataType.F64: ">d",
}
_RAW_OF_WIDTH = {1: ">H", 2: ">I", 4: ">Q"}


class DecodeError(ValueError):
    """The registers cannot be turned into the field's value (too few words)."""


def _ordered(words: Sequence[int], order: WordOrder) -> list[int]:
    return list(words) if order is WordOrder.HIGH_FIRST else list(reversed(words))


def decode_value(words: Sequence[int], spec: ResolvedField) -> float | None:
    """The value in ``spec.unit``, or None when the meter says 'not available'."""
    if len(words) != spec.count:
        raise DecodeError(f"{spec.quantity}: need {spec.count} registers, got {len(words)}")
    data = struct.pack(f">{spec.count}H", *_ordered(words, spec.word_order))
    raw_bits: int = struct.unpack(_RAW_OF_WIDTH[spec.count], data)[0]
    if raw_bits in spec.sentinels:
        return None
    raw = struct.unpack(_STRUCT[spec.type], data)[0]
    if isinstance(raw, float) and not math.isfinite(raw):
        return None  # NaN is how float meters (iEM) say 'not available'
    if spec.type is DataType.F32:
        # A float32 holds ~7 significant digits; more would publish noise (230.10000610351562).
        return float(f"{float(f'{raw:.7g}') * spec.scale:.7g}")
    if spec.type is DataType.F64:
        return float(raw) * spec.scale
    # Integer registers scaled by 0.1, 0.01, ...: round away the float dust (123.45000000000002).
    return float(round(raw * spec.scale, _decimals(spec.scale)))


def _decimals(scale: float) -> int:
    return max(0, math.ceil(-math.log10(abs(scale)) - 1e-9)) if abs(scale) < 1 else 0


def encode_value(value: float, spec: ResolvedField) -> list[int]:
    """Registers a meter would hold for ``value`` (in ``spec.unit``)."""
    raw = value / spec.scale
    if spec.type in (DataType.F32, DataType.F64):
        data = struct.pack(_STRUCT[spec.type], raw)
    else:
        data = struct.pack(_STRUCT[spec.type], round(raw))
    words = list(struct.unpack(f">{spec.count}H", data))
    return _ordered(words, spec.word_order)


def encode_sentinel(raw_bits: int, spec: ResolvedField) -> list[int]:
    words = list(struct.unpack(f">{spec.count}H", struct.pack(_RAW_OF_WIDTH[spec.count], raw_bits)))
    return _ordered(words, spec.word_order)


def decode_fields(
    fields: Sequence[ResolvedField],
    plan: Sequence[ReadRequest],
    responses: Mapping[ReadRequest, Sequence[int]],
) -> dict[str, float | None]:
    """Cut each field out of the response of the request that covers it."""
    by_quantity = {f.quantity: f for f in fields}
    values: dict[str, float | None] = {}
    for request in plan:
        words = responses[request]
        if len(words) < request.count:
            raise DecodeError(f"asked for {request.count} registers at {request.address}, got {len(words)}")
        for quantity in request.quantities:
            spec = by_quantity[quantity]
            offset = spec.address - request.address
            values[quantity] = decode_value(words[offset : offset + spec.count], spec)
    return values


def registers_for(fields: Sequence[ResolvedField], values: Mapping[str, float]) -> dict[int, dict[int, int]]:
    """function code -> {address: word}: the register image of a meter showing ``values``."""
    image: dict[int, dict[int, int]] = {}
    for spec in fields:
        if spec.quantity in values:
            words = encode_value(values[spec.quantity], spec)
            table = image.setdefault(spec.function, {})
            for offset, word in enumerate(words):
                table[spec.address + offset] = word
    return image
