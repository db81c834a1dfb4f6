"""Contract payloads -> line protocol (docs/storage.md): pure, table-driven."""

from __future__ import annotations

import json
import re
import zlib

import pytest

from collector.points import (
    ItemFacts,
    UnwritableName,
    dead_letter_line,
    escape_field_key,
    escape_measurement,
    escape_tag_value,
    event_time_ns,
    format_field,
    message_lines,
    point,
)
from shopfloor.contract import decode
from shopfloor.kpi import outcome_fields


def lines(topic: str, body: dict[str, object], index: object = None) -> list[str]:
    return message_lines(decode(topic, json.dumps(body)), index)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("End of life", r"End\ of\ life"),
        ("a,b=c", r"a\,b\=c"),
        # A backslash is literal in names; only one before , = or space is an escape (checked on influxd 1.6.7).
        ("back\\slash", "back\\slash"),
    ],
)
def test_tag_escaping(raw: str, escaped: str) -> None:
    assert escape_tag_value(raw) == escaped
    assert escape_field_key(raw) == escaped


@pytest.mark.parametrize("name", ["x_q\\", "two\nlines", "", "time", "a\\,b", "a\\ b"])
def test_names_no_escaping_can_carry_are_refused(name: str) -> None:
    with pytest.raises(UnwritableName):
        escape_field_key(name)


def test_a_measurement_cannot_start_a_comment() -> None:
    with pytest.raises(UnwritableName):
        escape_measurement("#m")
    assert escape_measurement("m x,y") == r"m\ x\,y"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3, "3i"),
        (2.5, "2.5"),
        (1e-05, "1e-05"),
        ('say "hi"', r'"say \"hi\""'),
        ("two\nlines", '"two\nlines"'),  # raw: InfluxDB keeps a newline inside a string
        ("c:\\dir", r'"c:\\dir"'),
    ],
)
def test_field_formatting(value: object, text: str) -> None:
    assert format_field(value) == text  # type: ignore[arg-type]


def test_point_sorts_tags_and_leaves_out_empty_ones() -> None:
    assert point("m", {"z": "1", "a": "2", "none": None}, {"f": 1.0}, 5) == "m,a=2,z=1 f=1.0 5"


def test_reading_becomes_one_meter_point_with_source_time() -> None:
    body = {
        "ts_ms": 1763900000123,
        "seq": 4711,
        "edge": "gent-pi",
        "device": "main",
        "profile": "eastron-sdm630@1",
        "quality": "ok",
        "values": {"power": {"value": 2310.4, "unit": "W"}, "power_factor": {"value": None, "unit": "1"}},
    }
    assert lines("shopfloor/v1/gent-repair/main/reading", body) == [
        'meter,device=main,edge=gent-pi,site=gent-repair power=2310.4,quality="ok",seq=4711i 1763900000123000000'
    ]


def test_stale_reading_has_no_quantities_only_quality_seq_and_error() -> None:
    body = {
        "ts_ms": 1763900001000,
        "seq": 4712,
        "edge": "gent-pi",
        "device": "bench-2",
        "profile": "eastron-sdm120@1",
        "quality": "stale",
        "values": {},
        "error": "no response from unit 12",
    }
    [line] = lines("shopfloor/v1/gent-repair/bench-2/reading", body)
    assert line == (
        'meter,device=bench-2,edge=gent-pi,site=gent-repair quality="stale",seq=4712i,'
        'error="no response from unit 12" 1763900001000000000'
    )


def test_batch_becomes_one_point_per_reading() -> None:
    reading = {"edge": "gent-pi", "profile": "p@1", "quality": "ok", "values": {"power": {"value": 1.0, "unit": "W"}}}
    body = {
        "edge": "gent-pi",
        "readings": [
            {**reading, "ts_ms": 1763900003000, "seq": 1, "device": "main"},
            {**reading, "ts_ms": 1763900003010, "seq": 2, "device": "bench-1"},
        ],
    }
    out = lines("shopfloor/v1/gent-repair/gent-pi/batch", body)
    assert [line.split(" ")[0] for line in out] == [
        "meter,device=main,edge=gent-pi,site=gent-repair",
        "meter,device=bench-1,edge=gent-pi,site=gent-repair",
    ]
    assert [line.rsplit(" ", 1)[1] for line in out] == ["1763900003000000000", "1763900003010000000"]


def test_event_time_is_idempotent_and_separates_events_in_one_millisecond() -> None:
    assert event_time_ns(1763901000000, "e-1") == 1763901000000 * 10**6 + zlib.crc32(b"e-1") % 10**6
    assert event_time_ns(1763901000000, "e-1") == event_time_ns(1763901000000, "e-1")
    assert event_time_ns(1763901000000, "e-1") != event_time_ns(1763901000000, "e-2")


def test_checked_in_event_tags_and_fields() -> None:
    body = {
        "event_id": "ev-1",
        "ts_ms": 1763901000000,
        "station": "bench-1",
        "type": "checked_in",
        "item_id": "GR-42",
        "category": "laptop",
        "weight_kg": 2.1,
        "brand": "Lenovo",
        "product_age": 6,
        "problem": "Does not charge",
        "source": "bench-page",
    }
    [line] = lines("shopfloor/v1/gent-repair/bench-1/event", body)
    assert line == (
        "repair_event,category=Laptop,site=gent-repair,station=bench-1,type=checked_in "
        'event_id="ev-1",item_id="GR-42",weight_kg=2.1,product_age=6.0,brand="Lenovo",problem="Does not charge",'
        f'source="bench-page" {event_time_ns(1763901000000, "ev-1")}'
    )


def test_finished_event_carries_outcome_fields_from_the_kpi_module() -> None:
    body = {
        "event_id": "ev-5",
        "ts_ms": 1763904600000,
        "station": "bench-1",
        "type": "finished",
        "item_id": "GR-42",
        "category": "Laptop",
        "repair_status": "End of life",
        "barrier": "Spare parts not available",
        "outcome": "parts_harvested",
    }
    [line] = lines("shopfloor/v1/gent-repair/bench-1/event", body)
    tags, fields, _ = re.split(r"(?<!\\) ", line)
    assert tags == (
        "repair_event,barrier=Spare\\ parts\\ not\\ available,category=Laptop,outcome=parts_harvested,"
        "repair_status=End\\ of\\ life,site=gent-repair,station=bench-1,type=finished"
    )
    from shopfloor.contract import RepairStatus, ReuseOutcome

    expected = outcome_fields(RepairStatus.END_OF_LIFE, ReuseOutcome.PARTS_HARVESTED, "Laptop", None).as_fields()
    for name, value in expected.items():
        assert f"{name}={format_field(value)}" in fields


def test_finished_event_takes_category_weight_and_bench_time_from_the_item_index() -> None:
    class Index:
        def lookup(self, site: str, item_id: str) -> ItemFacts | None:
            assert (site, item_id) == ("gent-repair", "GR-42")
            return ItemFacts(category="Kettle", weight_kg=1.5, bench_s=1800.0)

    body = {
        "event_id": "ev-6",
        "ts_ms": 1763904600000,
        "station": "bench-1",
        "type": "finished",
        "item_id": "GR-42",
        "repair_status": "Fixed",
    }
    [line] = lines("shopfloor/v1/gent-repair/bench-1/event", body, Index())
    assert ",category=Kettle," in line
    assert "bench_s=1800.0" in line and "kg=1.5" in line and "fixed=1i" in line and "kg_diverted=1.5" in line


def test_edge_status_point() -> None:
    body = {
        "edge": "gent-pi",
        "state": "online",
        "ts_ms": 1763900000000,
        "version": "0.1.0",
        "buffer_depth": 3,
        "dropped": {"full": 1, "age": 2},
        "devices": {"main": "ok", "bench-1": "stale", "bench-2": "error"},
    }
    [line] = lines("shopfloor/v1/gent-repair/gent-pi/status", body)
    assert line == (
        "edge_status,edge=gent-pi,site=gent-repair online=1i,buffer_depth=3i,dropped_full=1i,"
        'dropped_age=2i,version="0.1.0",devices_stale=2i 1763900000000000000'
    )


def test_dead_letter_point() -> None:
    assert dead_letter_line(None, "contract", 'payload: not "json"', 7) == (
        'dead_letter,reason_kind=contract,site=unknown count=1i,reason="payload: not \\"json\\"" 7'
    )


def test_guard_decision_point() -> None:
    body = {
        "decision_id": "gent-pi-1763900000000-3",
        "ts_ms": 1763900000000,
        "edge": "gent-pi",
        "action": "shed",
        "load": "heater",
        "quarter_start_ms": 1763899200000,
        "forecast_kw": 9.12,
        "average_kw": 8.4,
        "target_kw": 8.0,
        "month_peak_kw": 8.0,
        "reason": "forecast 9.12 kW > 8.00 kW",
    }
    [line] = lines("shopfloor/v1/gent-repair/gent-pi/guard", body)
    time_ns = event_time_ns(body["ts_ms"], body["decision_id"])  # type: ignore[arg-type]
    assert line == (
        "peak_guard,action=shed,edge=gent-pi,load=heater,site=gent-repair "
        'target_kw=8.0,reason="forecast 9.12 kW > 8.00 kW",forecast_kw=9.12,average_kw=8.4,month_peak_kw=8.0,'
        f"quarter_start_ms=1763899200000i {time_ns}"
    )
    [end] = lines("shopfloor/v1/gent-repair/gent-pi/guard", {**body, "action": "quarter_end", "load": None})
    assert end.startswith("peak_guard,action=quarter_end,edge=gent-pi,site=gent-repair ")
