"""Registers <-> values: word order, signedness, floats, scale and 'not available' sentinels.

Pure functions. ``encode_value`` is the inverse of ``decode_value``; the tests and the
simulator use it to load a Modbus server with known readings.

:class:`PlanDecoder` is what the scheduler runs every poll: the same rules as ``decode_value``,
with everything that depends only on the profile (struct formats, word order, decimals) worked
out once per device instead of once per value. Decoding was 70 % of the edge's own time in a
poll cycle before (bench/README.md, "Edge").
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping, Sequence
from math import isfinite
from typing import Any

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


_CODE = {DataType.U16: "H", DataType.I16: "h", DataType.U32: "I", DataType.I32: "i", DataType.U64: "Q"}
_CODE |= {DataType.F32: "f", DataType.F64: "d"}
_RAW_CODE = {1: "H", 2: "I", 4: "Q"}

Convert = Callable[[Any], float | None]


def _f32(raw: float) -> float | None:
    # A float32 holds ~7 significant digits; more would publish noise (230.10000610351562). ``%`` formats
    # exactly as f"{raw:.7g}" does, in two thirds of the time. NaN is how float meters (iEM) say 'not available'.
    return float("%.7g" % raw) if isfinite(raw) else None  # noqa: UP031


def _divisor(spec: ResolvedField) -> int | None:
    """The int a 16/32-bit integer register is divided by (scale 0.1 -> 10, 1 -> 1), or None for other scales."""
    if spec.type in (DataType.F32, DataType.F64, DataType.U64):
        return None
    decimals = _decimals(spec.scale)
    return 10**decimals if spec.scale == 10.0**-decimals else None


def _converter(spec: ResolvedField) -> Convert:
    """The raw number -> the value, ``decode_value``'s rules for this one field, chosen once."""
    scale = spec.scale
    if spec.type is DataType.F32:
        if scale == 1.0:
            return _f32  # rounding to 7 digits twice gives what once does: skip the second format
        return lambda raw: float("%.7g" % (float("%.7g" % raw) * scale)) if isfinite(raw) else None  # noqa: UP031
    if spec.type is DataType.F64:
        return lambda raw: float(raw) * scale if isfinite(raw) else None
    divisor = _divisor(spec)
    if divisor is not None:
        # round(raw * 0.1, 1) is the double nearest raw/10, which is what true division by the int 10 gives
        # (exactly rounded), at a twentieth of the cost. Up to 32 bits: far inside a double's exact integers.
        return lambda raw: raw / divisor
    decimals = _decimals(scale)
    return lambda raw: float(round(raw * scale, decimals))


class _RequestDecoder:
    """One request's answer -> its fields' values, by one ``struct`` call for all of them.

    The answer's words are packed once and unpacked by a format that skips the unread gaps: ``>4xff8xf``.
    When every multi-word field of the request is low word first (Carlo Gavazzi), the words are packed
    little-endian instead, which is that word order's byte order; only a request mixing both orders gets
    its low-first fields' words swapped first. Fields that overlap cannot share such a format; the decoder
    then falls back to ``decode_value`` field by field.
    """

    def __init__(self, request: ReadRequest, specs: list[ResolvedField]) -> None:
        self.count, self.address = request.count, request.address
        wide = {spec.word_order for spec in specs if spec.count > 1}
        endian = "<" if wide == {WordOrder.LOW_FIRST} else ">"
        self.words = struct.Struct(f"{endian}{request.count}H")
        order = list(range(request.count))
        typed, raw, position = [endian], [endian], 0
        self.overlap = False
        for spec in sorted(specs, key=lambda s: s.address):
            offset = spec.address - request.address
            if offset < position:
                self.overlap = True
            gap = f"{(offset - position) * 2}x" if offset > position else ""
            typed.append(gap + _CODE[spec.type])
            raw.append(gap + _RAW_CODE[spec.count])
            position = offset + spec.count
            if endian == ">" and spec.word_order is WordOrder.LOW_FIRST:
                order[offset:position] = reversed(order[offset:position])
        # Values come out in the order of ``specs`` (the plan's quantities), also when the fields overlap.
        self.specs = specs
        self.reorder = None if order == list(range(request.count)) else order
        self.typed = struct.Struct("".join(typed)) if not self.overlap else None
        self.raw = struct.Struct("".join(raw)) if not self.overlap else None
        self.sorted_specs = sorted(specs, key=lambda s: s.address)
        self.converters = [_converter(spec) for spec in self.sorted_specs]
        self.sentinels = [frozenset(spec.sentinels) for spec in self.sorted_specs]
        self.any_sentinels = any(spec.sentinels for spec in specs)
        # Whole requests of one kind skip the call per value: all float32 as they are (Eastron), or all
        # integers divided by a power of ten (Carlo Gavazzi).
        divisors = [_divisor(spec) for spec in self.sorted_specs]
        self.all_f32 = not self.any_sentinels and all(
            spec.type is DataType.F32 and spec.scale == 1.0 for spec in self.sorted_specs
        )
        self.divisors = [d for d in divisors if d is not None]
        self.all_divided = not self.any_sentinels and len(self.divisors) == len(specs)

    @property
    def quantities(self) -> list[str]:
        """The quantities in the order :meth:`decode` gives their values."""
        specs = self.specs if self.overlap else self.sorted_specs
        return [spec.quantity for spec in specs]

    def decode(self, words: Sequence[int]) -> list[float | None]:
        if len(words) != self.count:
            if len(words) < self.count:
                raise DecodeError(f"asked for {self.count} registers at {self.address}, got {len(words)}")
            words = words[: self.count]
        if self.typed is None or self.raw is None:
            offsets = [(spec, spec.address - self.address) for spec in self.specs]
            return [decode_value(words[offset : offset + spec.count], spec) for spec, offset in offsets]
        if self.reorder is not None:
            words = [words[i] for i in self.reorder]
        data = self.words.pack(*words)
        raws = self.typed.unpack(data)
        if self.all_f32 and isfinite(sum(raws)):  # one NaN or inf makes the sum so: then value by value
            return [float("%.7g" % raw) for raw in raws]  # noqa: UP031 (as _f32)
        if self.all_divided:
            return [raw / divisor for raw, divisor in zip(raws, self.divisors, strict=True)]
        if not self.any_sentinels:
            return [convert(raw) for convert, raw in zip(self.converters, raws, strict=True)]
        bits = self.raw.unpack(data)
        return [
            None if bit in sentinels else convert(raw)
            for convert, raw, bit, sentinels in zip(self.converters, raws, bits, self.sentinels, strict=True)
        ]


class PlanDecoder:
    """``decode_fields`` for one device's fields and plan, compiled once; answers come in plan order."""

    def __init__(self, fields: Sequence[ResolvedField], plan: Sequence[ReadRequest]) -> None:
        by_quantity = {f.quantity: f for f in fields}
        self._requests = [_RequestDecoder(r, [by_quantity[q] for q in r.quantities]) for r in plan]
        self._quantities = [q for request in self._requests for q in request.quantities]
        self._units = [by_quantity[q].unit for q in self._quantities]

    def _values(self, answers: Sequence[Sequence[int]]) -> list[float | None]:
        if len(answers) != len(self._requests):
            raise ValueError(f"{len(answers)} answers for {len(self._requests)} requests")
        if len(self._requests) == 1:
            return self._requests[0].decode(answers[0])
        values: list[float | None] = []
        for request, words in zip(self._requests, answers, strict=True):
            values += request.decode(words)
        return values

    def decode(self, answers: Sequence[Sequence[int]]) -> dict[str, float | None]:
        """``answers[i]`` holds the registers of the plan's request ``i``."""
        return dict(zip(self._quantities, self._values(answers), strict=True))

    def readings(self, answers: Sequence[Sequence[int]]) -> dict[str, tuple[float | None, str]]:
        """:meth:`decode` with each value's unit: what a :class:`~edge.scheduler.Poll` holds."""
        return dict(zip(self._quantities, zip(self._values(answers), self._units, strict=True), strict=True))


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
