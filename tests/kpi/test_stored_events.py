"""``KpiQueries.events_of`` builds events without pydantic's ``model_construct`` (for speed): the events must
be the ones ``model_construct`` gives, field for field, and the rows it leaves out the same."""

from __future__ import annotations

from typing import Any

from collector.influx.client import Series, rows_of
from collector.kpi.queries import KpiQueries, stored_event
from shopfloor.contract import EventType, StationEvent, StationState


def constructed(series: list[Series]) -> list[StationEvent]:
    """The construction ``events_of`` had before: one dict per row and ``model_construct``."""
    events: list[StationEvent] = []
    for row in rows_of(series):
        try:
            kind = EventType(str(row.get("type")))
            state = StationState(row["state"]) if row.get("state") else None
        except ValueError:
            continue
        events.append(
            StationEvent.model_construct(
                event_id=str(row.get("event_id") or row["time"]),
                ts_ms=int(row["time"]),
                station=row.get("station") or "",
                type=kind,
                item_id=row.get("item_id"),
                state=state,
                category=None,
                weight_kg=None,
                repair_status=None,
                outcome=None,
            )
        )
    return events


def as_compared(event: StationEvent) -> tuple[Any, ...]:
    return (event.model_dump(), event.model_fields_set, type(event.type), type(event.state))


def test_events_of_equals_model_construct() -> None:
    columns = ["time", "station", "type", "state", "item_id", "event_id"]
    values: list[list[Any]] = [
        [1000, "bench-1", "checked_in", None, "item-1", "e-1"],
        [2000, "bench-1", "started", None, "item-1", None],  # no event id: the time stands in
        [3000, None, "state", "working", None, "e-3"],  # no station
        [4000, "bench-2", "state", "", None, "e-4"],  # empty state: none
        [5000, "bench-2", "not-a-type", None, "item-2", "e-5"],  # left out
        [6000, "bench-2", "state", "dancing", None, "e-6"],  # left out
        [7000, "bench-2", None, None, None, "e-7"],  # no type: left out
        [8000, "bench-3", "finished", None, "item-3", "e-8"],
    ]
    series = [Series("repair_event", columns, values[:4]), Series("repair_event", columns, values[4:])]
    old, new = constructed(series), KpiQueries.events_of(series)
    assert [as_compared(event) for event in new] == [as_compared(event) for event in old]
    assert new == old
    assert [event.ts_ms for event in new] == [1000, 2000, 3000, 4000, 8000]
    assert new[1].event_id == "2000" and new[2].station == "" and new[2].state is StationState.WORKING


def test_a_stored_event_is_a_frozen_station_event() -> None:
    at = 1_767_225_600_000
    event = stored_event("e-1", at, "bench-1", EventType.STARTED, "item-1", None)
    assert isinstance(event, StationEvent) and event.category is None and event.seq is None
    assert event == StationEvent(event_id="e-1", ts_ms=at, station="bench-1", type="started", item_id="item-1")
    try:
        event.station = "bench-2"  # type: ignore[misc]
    except Exception as exc:  # pydantic's ValidationError: the model is frozen
        assert "frozen" in str(exc)
    else:
        raise AssertionError("a stored event must stay frozen")
