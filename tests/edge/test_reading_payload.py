"""The agent's reading payload: the plain-dict fast path says exactly what the MeterReading model says."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from edge.agent import reading_payload, reading_payload_checked
from edge.scheduler import Poll
from shopfloor.contract import QUANTITY_UNITS, MeterReading, Quality

_CANONICAL = st.sampled_from(sorted(QUANTITY_UNITS.items()))
_CUSTOM = st.tuples(st.from_regex(r"x_[a-z0-9_]{1,20}", fullmatch=True), st.sampled_from(["°C", "m3", "l/h", "%"]))
_NUMBER = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64))


@st.composite
def _poll(draw: st.DrawFn) -> Poll:
    quality = draw(st.sampled_from(list(Quality)))
    values: dict[str, tuple[float | None, str]] = {}
    if quality is Quality.OK:
        for quantity, unit in draw(st.lists(st.one_of(_CANONICAL, _CUSTOM), min_size=1, max_size=20)):
            values[quantity] = (draw(_NUMBER), unit)
    error = None if quality is Quality.OK else draw(st.text(min_size=1, max_size=80).map(str.strip).filter(bool))
    return Poll(
        device=draw(st.from_regex(r"[a-z][a-z0-9_-]{0,30}", fullmatch=True)),
        profile=draw(st.sampled_from(["eastron-sdm630@1", "carlogavazzi-em24@2"])),
        ts_ms=draw(st.integers(1_600_000_000_000, 2_000_000_000_000)),
        quality=quality,
        values=values,
        error=error,
    )


@settings(max_examples=300, deadline=None)
@given(_poll(), st.integers(0, 2**40))
def test_fast_payload_is_what_the_model_writes(poll: Poll, seq: int) -> None:
    fast = reading_payload("gent-pi", poll, seq)
    checked = reading_payload_checked("gent-pi", poll, seq)
    assert json.loads(fast) == json.loads(checked)
    assert MeterReading.model_validate_json(fast) == MeterReading.model_validate_json(checked)


@pytest.mark.parametrize(
    "poll",
    [
        # a float in inf, a canonical quantity in a wrong unit, a stale reading with a value: the model refuses
        Poll("m1", "eastron-sdm630@1", 1_764_633_600_000, Quality.OK, {"power": (float("inf"), "W")}),
        Poll("m1", "eastron-sdm630@1", 1_764_633_600_000, Quality.OK, {"power": (2.0, "kW")}),
        Poll("m1", "eastron-sdm630@1", 1_764_633_600_000, Quality.STALE, {"power": (2.0, "W")}, "no answer"),
    ],
)
def test_what_the_contract_refuses_is_refused_by_the_model(poll: Poll) -> None:
    with pytest.raises(ValidationError):
        reading_payload("gent-pi", poll, 1)
