"""The stations' remembered state (item and event counters, open item, last input levels).

Shared by every event source of a station (its I/O module and its button box), loaded from
and saved to the outbox database. Events and the state that produced them are stored in
one transaction by the sink, so a restart continues the numbering exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from edge.outbox import Outbox
from edge.stations import Action, State, press
from shopfloor.contract import RepairStatus, StationEvent

log = logging.getLogger(__name__)

EventSink = Callable[[list[StationEvent], tuple[str, str]], None]


def state_key(station: str) -> str:
    return f"station:{station}"


class StationBook:
    def __init__(self, outbox: Outbox, sink: EventSink) -> None:
        self.outbox = outbox
        self.sink = sink
        self._states: dict[str, State] = {}

    def state(self, station: str) -> State:
        found = self._states.get(station)
        if found is None:
            found = State.loads(self.outbox.load_state(state_key(station)))
            self._states[station] = found
        return found

    def act(
        self,
        station: str,
        action: Action,
        ts_ms: int,
        *,
        source: str,
        repair_status: RepairStatus,
        emit_state: bool,
        timezone: str,
        item_events: bool = True,
    ) -> list[StationEvent]:
        outcome = press(
            station,
            self.state(station),
            action,
            ts_ms,
            source=source,
            repair_status=repair_status,
            emit_state=emit_state,
            timezone=timezone,
            item_events=item_events,
        )
        if outcome.ignored:
            log.warning("%s; ignored", outcome.ignored)
            return []
        self.sink(outcome.events, (state_key(station), outcome.state.dumps()))
        self._states[station] = outcome.state
        return outcome.events

    def input_level(self, station: str, name: str) -> bool | None:
        return self.state(station).inputs.get(name)

    def set_input_level(self, station: str, name: str, level: bool) -> None:
        state = self.state(station)
        state = replace(state, inputs={**state.inputs, name: level})
        self.outbox.save_state(state_key(station), state.dumps())
        self._states[station] = state
