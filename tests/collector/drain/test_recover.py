"""A refused line back to its contract message: readings and events are rebuilt exactly, anything else is not."""

from __future__ import annotations

import json

import pytest

from collector.drain.recover import contract_message_of, parse_line
from collector.points import message_points
from shopfloor.contract import decode

PREFIX = "shopfloor"
TS = 1_763_900_000_000


def _line(topic: str, body: dict[str, object]) -> str:
    [line] = message_points(decode(topic, json.dumps(body).encode(), PREFIX)).lines
    return line


READING = {
    "ts_ms": TS,
    "seq": 7,
    "edge": "pi-1",
    "device": "main",
    "profile": "eastron-sdm630@1",
    "quality": "ok",
    "values": {"power": 2310.4, "energy_import": 1e16, "x_flow": {"value": 0.5, "unit": "l/min"}},
}
STALE = {**READING, "quality": "stale", "values": {}, "error": 'timeout, "no answer"\nafter 3 tries'}
EVENT = {
    "event_id": "e-1",
    "ts_ms": TS,
    "station": "bench-1",
    "type": "finished",
    "item_id": "it-7",
    "category": "Toaster",
    "weight_kg": 1.5,
    "repair_status": "Fixed",
    "brand": 'Acme, "the" =best',
    "problem": "does not\nheat",
}


@pytest.mark.parametrize(
    ("topic", "body"),
    [
        ("shopfloor/v1/gent/main/reading", READING),
        ("shopfloor/v1/gent/main/reading", STALE),
        ("shopfloor/v1/gent/bench-1/event", EVENT),
        (
            "shopfloor/v1/gent/bench-1/event",
            {
                "event_id": "e-2",
                "ts_ms": TS,
                "station": "bench-1",
                "type": "checked_in",
                "item_id": "it-8",
                "category": "Toaster",
            },
        ),
    ],
)
def test_a_line_of_ours_gives_a_message_that_writes_the_same_line(topic: str, body: dict[str, object]) -> None:
    line = _line(topic, body)
    recovered = contract_message_of(line, "gent", PREFIX)
    assert recovered is not None
    recovered_topic, payload = recovered
    assert recovered_topic == topic
    assert _line(recovered_topic, json.loads(payload)) == line


def test_lines_it_cannot_vouch_for_give_none() -> None:
    reading = _line("shopfloor/v1/gent/main/reading", READING)
    assert contract_message_of(reading, "brussels", PREFIX) is None  # the line's site is not the row's
    assert contract_message_of(reading, None, PREFIX) is None
    attack = (
        "repair_event,site=other,station=s1,type=finished fixed=1,kg_diverted=1000,co2e_kg=99999 1763900000000000000"
    )
    assert contract_message_of(attack, "other", PREFIX) is None  # no event_id: not an event of ours
    assert contract_message_of('conflict,site=gent v="oops" 1763900000000000007', "gent", PREFIX) is None
    assert contract_message_of("meter,device=main,edge=pi,site=gent power=1.0 5", "gent", PREFIX) is None
    assert contract_message_of("garbage", "gent", PREFIX) is None
    # An ORDS import's extra column is not in the contract: the message would lose it.
    event = _line("shopfloor/v1/gent/bench-1/event", EVENT)
    head, _, stamp = event.rpartition(" ")
    assert contract_message_of(f'{head},ords_extra="x" {stamp}', "gent", PREFIX) is None


def test_parse_line_reads_escapes_as_the_writer_writes_them() -> None:
    measurement, tags, fields, time_ns = parse_line(
        r'repair_event,site=a\ b,station=s\,1 brand="x \"y\" \\z",n=2i,f=1.5 9'
    )
    assert (measurement, time_ns) == ("repair_event", 9)
    assert tags == {"site": "a b", "station": "s,1"}
    assert fields == {"brand": 'x "y" \\z', "n": 2, "f": 1.5}
