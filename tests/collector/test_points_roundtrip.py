"""Hypothesis against a real influxd: names and values written through collector.points read back
identical, or are refused before they are sent (UnwritableName) — never silently changed or merged."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from collector.points import UnwritableName, point
from simulator.services import Influxd
from tests.harness.influx import InfluxTestDB

pytestmark = pytest.mark.integration

SEPARATORS = st.sampled_from([",", "=", " ", "\\", '"', "\n", "'", "#", "é", "\u2028", "x", "_"])
NAME = st.lists(
    st.one_of(SEPARATORS, st.characters(codec="utf-8", exclude_categories=["Cs"])), min_size=1, max_size=8
).map("".join)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)


def _values(db: InfluxTestDB, statement: str) -> list[list[object]]:
    return [list(row.values()) for row in db.query(statement)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(measurement=NAME, tag=NAME, field=NAME, text=TEXT)
def test_names_and_strings_read_back_identical_or_are_refused(
    influxd: Influxd, measurement: str, tag: str, field: str, text: str
) -> None:
    assume(field != "s")
    try:
        line = point(measurement, {"t": tag}, {field: 1.5, "s": text}, 1_763_900_000_000_000_000)
    except UnwritableName:
        return
    db = InfluxTestDB(influxd.url, f"lp_{uuid.uuid4().hex[:8]}")  # a fresh database: no names left over
    db.create()
    try:
        db.write(line, precision="ns")
        assert _values(db, "SHOW MEASUREMENTS") == [[measurement]]
        assert sorted(_values(db, "SHOW FIELD KEYS")) == sorted([[field, "float"], ["s", "string"]])
        assert _values(db, 'SHOW TAG VALUES WITH KEY = "t"') == [["t", tag]]
        assert _values(db, "SELECT s FROM /.*/")[0][1] == text
    finally:
        db.drop()
