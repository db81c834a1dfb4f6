"""``KpiQueries.events_of`` builds plain ``StoredEvent`` records, not validated contract models (for speed): each
must read as the contract's ``StationEvent`` of the same row does, the rows it leaves out must be the ones the
contract refuses, and sessions and staffed time must come out the same from either."""

from __future__ import annotations

from typing import Any

import pytest

from collector.influx.client import Series, rows_of
from collector.kpi.queries import KpiQueries
from shopfloor.contract import EventType, StationEvent, StationState
from shopfloor.kpi.sessions import ItemHistory, StoredEvent, item_histories, staffed_intervals

T = 1_767_225_600_000  # 2026-01-01: the contract takes no time before 2000
# What a KPI read keeps of an event (the details, such as the category, come from the item's own points).
READ = ("event_id", "ts_ms", "station", "type", "item_id", "state")


def as_contract(series: list[Series]) -> list[StationEvent]:
    """The same rows as validated contract events; a row the contract refuses is left out."""
    events: list[StationEvent] = []
    for row in rows_of(series):
        try:
            kind = EventType(str(row.get("type")))
            state = StationState(row["state"]) if row.get("state") else None
        except ValueError:
            continue
        events.append(
            StationEvent(
                event_id=str(row.get("event_id") or row["time"]),
                ts_ms=int(row["time"]),
                station=row.get("station") or "bench-0",
                type=kind,
                item_id=row.get("item_id"),
                state=state,
                # Details a valid payload needs, which a KPI read leaves out.
                category="Toaster" if kind is EventType.CHECKED_IN else None,
                repair_status="Fixed" if kind is EventType.FINISHED else None,
            )
        )
    return events


def history_times(history: ItemHistory) -> tuple[Any, ...]:
    return (history.item_id, history.checked_in_ms, history.finished_ms, history.sessions, history.started)


def fields(event: Any) -> tuple[Any, ...]:
    return tuple(getattr(event, name) for name in READ)


def test_events_of_reads_as_the_contract_events_do() -> None:
    columns = ["time", "station", "type", "state", "item_id", "event_id"]
    values: list[list[Any]] = [
        [T + 1000, "bench-1", "checked_in", None, "item-1", "e-1"],
        [T + 2000, "bench-1", "started", None, "item-1", None],  # no event id: the time stands in
        [T + 3000, "bench-2", "state", "working", None, "e-3"],
        [T + 4000, "bench-2", "state", "idle", None, "e-4"],
        [T + 5000, "bench-2", "not-a-type", None, "item-2", "e-5"],  # left out
        [T + 6000, "bench-2", "state", "dancing", None, "e-6"],  # left out
        [T + 7000, "bench-2", None, None, None, "e-7"],  # no type: left out
        [T + 8000, "bench-1", "finished", None, "item-1", "e-8"],
    ]
    series = [Series("repair_event", columns, values[:4]), Series("repair_event", columns, values[4:])]
    stored, contract = KpiQueries.events_of(series), as_contract(series)
    assert [fields(event) for event in stored] == [fields(event) for event in contract]
    assert [event.ts_ms - T for event in stored] == [1000, 2000, 3000, 4000, 8000]
    assert stored[1].event_id == str(T + 2000) and stored[2].state is StationState.WORKING
    assert all(type(event.type) is EventType for event in stored)
    assert [history_times(h) for h in item_histories(stored, T + 9000).values()] == [
        history_times(h) for h in item_histories(contract, T + 9000).values()
    ]
    assert staffed_intervals(stored, T + 9000) == staffed_intervals(contract, T + 9000)
    assert staffed_intervals(stored, T + 9000) != []


def test_a_missing_station_or_state_reads_as_empty() -> None:
    series = [Series("repair_event", ["time", "type", "event_id"], [[T + 1000, "started", "e-1"]])]
    (event,) = KpiQueries.events_of(series)
    assert event.station == "" and event.item_id is None and event.state is None


def test_a_stored_event_is_frozen() -> None:
    event = StoredEvent("e-1", 1_767_225_600_000, "bench-1", EventType.STARTED, "item-1")
    with pytest.raises(AttributeError):
        event.station = "bench-2"  # type: ignore[misc]
