"""Hypothesis: the fast path and the models agree on readings built from awkward parts: ids with a final
newline, unicode separators, custom quantity names no line protocol can carry, integers beyond int64."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.contract.test_fastpath import SITE, _lines_by_fast_path, _lines_by_models

AWKWARD_TEXT = st.sampled_from(["main", "main\n", " main", "ma in", "m\u2028n", "m\u00a0", "main\\", "x", "é"])
QUANTITY = st.sampled_from(["power", "x_q", "x_q\\", "x_\nq", "x_q\u2028", "x_ q", "x_é", "time", "x_a,b=c"])
NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63 - 1, 2**63, -(2**63) - 1, 2**53 + 1]),
    st.text(max_size=3),
    st.booleans(),
)
SEQ = st.one_of(st.integers(min_value=-2, max_value=2**64), st.sampled_from([2**63 - 1, 2**63]), st.text(max_size=2))


def reading(device: str, seq: object, values: dict[str, Any], units: bool) -> dict[str, Any]:
    shaped = {
        q: {"value": v, "unit": "W" if q == "power" else "u"} if units or q != "power" else v for q, v in values.items()
    }
    return {
        "ts_ms": 1_763_900_000_000,
        "seq": seq,
        "edge": "pi-1",
        "device": device,
        "profile": "p@1",
        "quality": "ok",
        "values": shaped,
    }


@settings(max_examples=600, deadline=None)
@given(
    device=AWKWARD_TEXT,
    seq=SEQ,
    values=st.dictionaries(QUANTITY, NUMBER, min_size=1, max_size=3),
    units=st.booleans(),
    topic_device=AWKWARD_TEXT,
)
def test_fast_path_and_models_agree_on_awkward_parts(
    device: str, seq: object, values: dict[str, Any], units: bool, topic_device: str
) -> None:
    topic = f"shopfloor/v1/{SITE}/{topic_device}/reading"
    payload = json.dumps(reading(device, seq, values, units)).encode()
    fast = _lines_by_fast_path(topic, payload)
    models = _lines_by_models(topic, payload)
    if fast is not None:
        assert models is not None, payload
        assert fast == models
    for lines in (fast, models):
        for line in lines or []:
            assert "\n" not in line and "\r" not in line


def test_an_id_with_a_final_newline_is_never_a_tag_with_one() -> None:
    payload = json.dumps(reading("main\n", 1, {"power": 1.0}, False)).encode()
    assert _lines_by_fast_path(f"shopfloor/v1/{SITE}/main/reading", payload) is None
    assert _lines_by_models(f"shopfloor/v1/{SITE}/main\n/reading", payload) is None


def test_seq_beyond_int64_is_refused_by_both() -> None:
    payload = json.dumps(reading("main", 2**63, {"power": 1.0}, False)).encode()
    topic = f"shopfloor/v1/{SITE}/main/reading"
    assert _lines_by_fast_path(topic, payload) is None and _lines_by_models(topic, payload) is None
    ok = json.dumps(reading("main", 2**63 - 1, {"power": 1.0}, False)).encode()
    assert _lines_by_models(topic, ok) is not None


def test_numbers_sent_as_strings_are_refused_not_coerced() -> None:
    body = reading("main", "7", {"power": 1.0}, False)
    assert _lines_by_models(f"shopfloor/v1/{SITE}/main/reading", json.dumps(body).encode()) is None
    body = {**reading("main", 7, {"power": 1.0}, False), "ts_ms": "1763900000000"}
    assert _lines_by_models(f"shopfloor/v1/{SITE}/main/reading", json.dumps(body).encode()) is None
