"""Station events from button presses and I/O edges. Pure.

* :class:`Debouncer`: an input's change counts once it has been stable for ``debounce_ms``;
  a bouncing contact (20 ms of chatter) is one press.
* :func:`press`: one debounced action at one station -> contract ``StationEvent`` s. A button
  knows no item, so the edge numbers items per station (``<station>-<yyyymmdd>-<n>``) and
  events per station (``<station>-<n>``). The counters live in :class:`StationState`, which the
  caller persists in the same transaction as the events: a restart never re-emits a press
  under a new id, and never loses one.

Actions: ``start`` opens a session (or resumes a paused one), ``pause`` pauses (or resumes a
paused one: one button can toggle), ``resume`` resumes, ``done`` finishes the open item with
the input's ``repair_status``. A press that makes no sense in the current state (``done``
with no open item) is ignored and reported.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from shopfloor.contract import EventType, RepairStatus, StationEvent, StationState


class Action(StrEnum):
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class State:
    """What the edge remembers of one station between presses (and across restarts)."""

    items: int = 0
    events: int = 0
    item_id: str | None = None
    paused: bool = False
    inputs: dict[str, bool] = field(default_factory=dict)
    station_state: str = StationState.IDLE.value  # in state-only mode, where no item is tracked

    def dumps(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def loads(cls, text: str | None) -> State:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            int(data["items"]),
            int(data["events"]),
            data["item_id"],
            bool(data["paused"]),
            {str(k): bool(v) for k, v in data.get("inputs", {}).items()},
            str(data.get("station_state", StationState.IDLE.value)),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    state: State
    events: list[StationEvent]
    ignored: str | None = None


def press(
    station: str,
    state: State,
    action: Action,
    ts_ms: int,
    *,
    source: str,
    repair_status: RepairStatus = RepairStatus.UNKNOWN,
    emit_state: bool = False,
    timezone: str = "UTC",
    item_events: bool = True,
) -> Outcome:
    """``item_events=False`` (a bench whose items the technician page checks in and finishes):
    presses only say what the station is doing, as ``state`` events working / paused / idle."""
    events: list[StationEvent] = []

    def emit(kind: EventType, **fields: object) -> None:
        nonlocal state
        state = replace(state, events=state.events + 1)
        events.append(
            StationEvent.model_validate(
                {
                    "event_id": f"{station[:50]}-{state.events}",
                    "ts_ms": ts_ms,
                    "station": station,
                    "type": kind,
                    "source": source,
                    **fields,
                }
            )
        )

    def emit_station_state(value: StationState) -> None:
        if emit_state:
            emit(EventType.STATE, state=value)

    if not item_events:
        now = StationState(state.station_state)
        if action is Action.DONE:
            wanted = StationState.IDLE
        elif action is Action.PAUSE and now is StationState.WORKING:
            wanted = StationState.PAUSED
        else:
            wanted = StationState.WORKING
        if wanted is now:
            return Outcome(state, [], f"{action.value} pressed at {station} while it is already {now.value}")
        state = replace(state, station_state=wanted.value)
        emit(EventType.STATE, state=wanted)
        return Outcome(state, events)
    if action is Action.START and state.item_id is None:
        day = datetime.fromtimestamp(ts_ms / 1000, ZoneInfo(timezone)).strftime("%Y%m%d")
        item_id = f"{station[:40]}-{day}-{state.items + 1}"
        state = replace(state, items=state.items + 1, item_id=item_id, paused=False)
        emit(EventType.STARTED, item_id=item_id)
        emit_station_state(StationState.WORKING)
    elif state.item_id is None:
        return Outcome(state, [], f"{action.value} pressed at {station} with no item started")
    elif action is Action.DONE:
        item_id = state.item_id
        state = replace(state, item_id=None, paused=False)
        emit(EventType.FINISHED, item_id=item_id, repair_status=repair_status)
        emit_station_state(StationState.IDLE)
    elif state.paused and action in (Action.START, Action.PAUSE, Action.RESUME):
        state = replace(state, paused=False)
        emit(EventType.RESUMED, item_id=state.item_id)
        emit_station_state(StationState.WORKING)
    elif action is Action.PAUSE:
        state = replace(state, paused=True)
        emit(EventType.PAUSED, item_id=state.item_id)
        emit_station_state(StationState.PAUSED)
    else:
        return Outcome(state, [], f"{action.value} pressed at {station} while {state.item_id} is already running")
    return Outcome(state, events)


@dataclass(slots=True)
class Debouncer:
    """One input. ``update`` is fed every raw sample; it returns True on a debounced rising edge."""

    debounce_ms: int
    stable: bool = False
    candidate: bool = False
    since_ms: int = 0

    def update(self, value: bool, now_ms: int) -> bool:
        if value == self.stable:
            self.candidate = value
            return False
        if value != self.candidate:
            self.candidate, self.since_ms = value, now_ms
        if now_ms - self.since_ms < self.debounce_ms:
            return False
        self.stable = value
        return value
