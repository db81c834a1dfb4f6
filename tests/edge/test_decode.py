"""Decoding: every shipped profile round-trips known values; word order, signs, scale, sentinels."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.decode import (
    DecodeError,
    PlanDecoder,
    decode_fields,
    decode_value,
    encode_sentinel,
    encode_value,
    registers_for,
)
from edge.plan import FieldSpan, ReadRequest, plan_reads
from edge.profiles import DataType, ResolvedField, WordOrder
from shopfloor.contract import QUANTITY_UNITS
from tests.edge.helpers import KNOWN_VALUES, library


def spec(type_: str, order: str = "high_first", scale: float = 1.0, sentinels: tuple[int, ...] = ()) -> ResolvedField:
    return ResolvedField(
        quantity="power",
        function=4,
        address=0,
        type=DataType(type_),
        word_order=WordOrder(order),
        scale=scale,
        unit="W",
        sentinels=sentinels,
    )


@pytest.mark.parametrize(
    ("words", "field", "expected"),
    [
        ([0x4366, 0x199A], spec("f32"), 230.1),  # SDM: 230.1 V as float32, high word first
        ([0x08FE, 0x0000], spec("i32", "low_first", 0.1), 230.2),  # Carlo Gavazzi: low word first
        ([0xFFFF, 0xFFFF], spec("i32", "low_first", 0.1), -0.1),
        ([0xFF9C], spec("i16", scale=0.001), -0.1),
        ([0xFF9C], spec("u16", scale=0.001), 65.436),
        ([0x0000, 0x0001, 0x0000, 0x0000], spec("u64", scale=0.01), 42949672.96),
        ([0x4059, 0x0000, 0x0000, 0x0000], spec("f64"), 100.0),
        ([0x0000, 0x1000], spec("u32", scale=1000), 4_096_000.0),  # iEM kW -> W
        ([0xFFFF, 0xFFFF], spec("u32", sentinels=(0xFFFFFFFF,)), None),  # ABB 'not available'
        ([0x7FFF], spec("i16", sentinels=(0x7FFF,)), None),
        ([0xFFC0, 0x0000], spec("f32"), None),  # float NaN = 'not available'
    ],
)
def test_decode_value(words: list[int], field: ResolvedField, expected: float | None) -> None:
    assert decode_value(words, field) == expected


def test_sentinel_round_trip() -> None:
    field = spec("u64", sentinels=(0x8000000000000000,))
    assert decode_value(encode_sentinel(0x8000000000000000, field), field) is None


@pytest.mark.parametrize("name", library().names())
def test_profile_round_trip(name: str) -> None:
    """Every shipped profile: encode the known values, plan, cut and decode them back."""
    profile = library().get(name)
    assert profile is not None
    fields = profile.resolved()
    image = registers_for(fields, KNOWN_VALUES)
    plan = plan_reads(FieldSpan(f.quantity, f.function, f.address, f.count) for f in fields)
    responses = {r: [image[r.function].get(a, 0) for a in range(r.address, r.end)] for r in plan}
    values = decode_fields(fields, plan, responses)
    assert set(values) == set(profile.fields)
    for quantity, value in values.items():
        assert value == pytest.approx(KNOWN_VALUES[quantity], rel=1e-6), quantity
        assert profile.fields[quantity].unit == QUANTITY_UNITS[quantity]


@pytest.mark.parametrize("type_", [t.value for t in DataType])
@pytest.mark.parametrize("order", ["high_first", "low_first"])
def test_encode_is_inverse(type_: str, order: str) -> None:
    field = spec(type_, order, scale=0.1 if not type_.startswith("f") else 1.0)
    value = 1234.5 if type_ not in ("u16", "i16") else 123.4
    decoded = decode_value(encode_value(value, field), field)
    assert decoded is not None and math.isclose(decoded, value, rel_tol=1e-6)


_TYPES = st.sampled_from(list(DataType))
_ORDERS = st.sampled_from(list(WordOrder))
_SCALES = st.sampled_from([1.0, 0.1, 0.01, 0.001, 10.0, 1000.0, 0.5])


Device = tuple[list[ResolvedField], list[ReadRequest], list[list[int]]]


@st.composite
def _device(draw: st.DrawFn) -> Device:
    """Random fields at random gaps (some overlap), planned, and random answers (NaN and sentinels too)."""
    fields: list[ResolvedField] = []
    address = draw(st.integers(0, 100))
    for i in range(draw(st.integers(1, 12))):
        type_ = draw(_TYPES)
        field = ResolvedField(
            quantity=f"x_q{i}",
            function=draw(st.sampled_from([3, 4])),
            address=address,
            type=type_,
            word_order=draw(_ORDERS),
            scale=draw(_SCALES),
            unit="W",
            sentinels=draw(st.sampled_from([(), (0xFFFF,), (0xFFFFFFFF,), (0x8000,)])),
        )
        fields.append(field)
        address += max(1, field.count + draw(st.integers(-2, 3)))  # overlapping fields now and then
    plan = plan_reads(
        (FieldSpan(f.quantity, f.function, f.address, f.count) for f in fields), max_registers=draw(st.integers(4, 40))
    )
    word = st.one_of(st.integers(0, 0xFFFF), st.sampled_from([0xFFFF, 0x7FC0, 0x7F80, 0x8000, 0]))
    answers = [draw(st.lists(word, min_size=r.count, max_size=r.count + 2)) for r in plan]
    return fields, plan, answers


@settings(max_examples=400, deadline=None)
@given(_device())
def test_plan_decoder_matches_decode_fields(device: Device) -> None:
    """The scheduler's compiled decoder gives exactly what the field-by-field reference gives."""
    fields, plan, answers = device
    expected = decode_fields(fields, plan, dict(zip(plan, answers, strict=True)))
    assert PlanDecoder(fields, plan).decode(answers) == expected


def test_plan_decoder_refuses_a_short_answer() -> None:
    field = spec("u32")
    plan = plan_reads([FieldSpan(field.quantity, field.function, field.address, field.count)])
    with pytest.raises(DecodeError, match="asked for 2 registers at 0, got 1"):
        PlanDecoder([field], plan).decode([[7]])


@pytest.mark.parametrize("scale", [0.1, 0.01, 0.001, 0.0001])
@pytest.mark.parametrize(("type_", "order"), [("i16", "high_first"), ("u16", "high_first"), ("i32", "low_first")])
def test_plan_decoder_divides_as_the_reference_rounds(type_: str, order: str, scale: float) -> None:
    """Integer registers scaled by a power of ten are divided, not rounded: the same double for every word."""
    field = spec(type_, order, scale)
    plan = plan_reads([FieldSpan(field.quantity, field.function, field.address, field.count)])
    decoder = PlanDecoder([field], plan)
    words = [[w] for w in range(0x10000)] if field.count == 1 else [[w, w ^ 0x5A5A] for w in range(0, 0x10000, 7)]
    expected = [decode_value(answer, field) for answer in words]
    assert [decoder.decode([answer])["power"] for answer in words] == expected
    assert decoder.decode([words[-1]])["power"] != 0.0  # the comparison saw values, not zeros


def test_plan_decoder_packs_low_word_first_requests_little_endian() -> None:
    """Carlo Gavazzi's low-first words, alone and mixed with high-first ones, decode as field by field."""
    low = [spec("i32", "low_first", 0.1), spec("u32", "low_first"), spec("i16", scale=0.1)]
    mixed = [*low, spec("f32", "high_first")]
    for fields in (low, mixed):
        placed = [f.model_copy(update={"quantity": f"q{i}", "address": 2 * i}) for i, f in enumerate(fields)]
        plan = plan_reads([FieldSpan(f.quantity, f.function, f.address, f.count) for f in placed])
        answers = [[0x08FE, 0x0000, 0x0001, 0x0002, 0xFF9C, 0, 0x4366, 0x199A][: r.count] for r in plan]
        expected = decode_fields(placed, plan, dict(zip(plan, answers, strict=True)))
        assert PlanDecoder(placed, plan).decode(answers) == expected
        assert expected["q0"] == 230.2 and expected["q1"] == 0x00020001
