"""Text with newlines goes through the live path exactly (issue 16): a technician's problem note with real line
breaks and one with a typed backslash-n, as contract events -> line protocol -> the spool (real SQLite, several
lines to a row) -> a real influxd, and back out of InfluxQL unchanged. Before, both came back as backslash-n."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from collector.drain.delivery import deliver
from collector.influx.v1 import InfluxV1Client
from collector.points import event_line, split_lines
from collector.settings import InfluxV1Settings
from collector.storage.spool import Spool
from shopfloor.contract import EventType, StationEvent
from tests.harness.influx import InfluxTestDB

pytestmark = pytest.mark.integration

NOTES = [
    "Hums, then stops.\nFan seized.\r\nOiled it.",
    r"Typed on a keyboard: C:\new and \n are backslash sequences",
    'Quoted "end\nof line" then a backslash at the end\\',
    "one line",
]


def test_newlines_and_typed_backslash_n_come_back_exactly(tmp_path: Path, influx_db: InfluxTestDB) -> None:
    events = [
        StationEvent(
            event_id=str(uuid.uuid4()),
            ts_ms=1_763_900_000_000 + i,
            station="bench-1",
            type=EventType.CHECKED_IN,
            item_id=f"bench-1-note-{i}",
            category="Laptop",
            problem=note,
        )
        for i, note in enumerate(NOTES)
    ]
    lines = [event_line("gent", event) for event in events]
    spool = Spool(tmp_path / "spool.sqlite", 1000, 10_000_000)
    spool.append(lines[:3])
    spool.append(lines[3:])
    batch = spool.peek(100)
    assert batch is not None and batch.lines == lines

    settings = InfluxV1Settings.model_validate({"url": influx_db.url, "database": influx_db.database})
    outcome = deliver(InfluxV1Client(settings), batch.lines)
    assert outcome.rejected == [] and outcome.written == len(NOTES)
    stored = {row["item_id"]: row["problem"] for row in influx_db.query("SELECT item_id, problem FROM repair_event")}
    assert stored == {event.item_id: event.problem for event in events}


@pytest.mark.parametrize(
    "lines",
    [
        ['m,t=a f="x\ny" 1', 'm,t=b f="plain" 2'],
        ['m,t=a\\ b f="a\\"\n\\\\",g=1i 1', "m g=2 2", 'm f="\n\n" 3'],
        ['m,t="a f="b\n" 1'],  # a quote in a tag value does not open a string
    ],
)
def test_split_lines_undoes_join_even_with_newlines_in_strings(lines: list[str]) -> None:
    assert split_lines("\n".join(lines), len(lines)) == lines
