"""Station events from presses (pure): sessions, item and event numbering, debounce."""

from __future__ import annotations

from edge.stations import Action, Debouncer, State, press
from shopfloor.contract import RepairStatus

T0 = 1_795_424_400_000  # 2026-11-23 06:20 UTC


def run(actions: list[tuple[Action, RepairStatus]], emit_state: bool = False) -> tuple[State, list[dict[str, object]]]:
    state, events = State(), []
    for i, (action, status) in enumerate(actions):
        outcome = press(
            "bench-1", state, action, T0 + i * 1000, source="io", repair_status=status, emit_state=emit_state
        )
        state = outcome.state
        events += [e.model_dump(exclude_none=True) for e in outcome.events]
    return state, events


def test_start_pause_done_make_one_session() -> None:
    unknown = RepairStatus.UNKNOWN
    state, events = run(
        [(Action.START, unknown), (Action.PAUSE, unknown), (Action.PAUSE, unknown), (Action.DONE, RepairStatus.FIXED)]
    )
    assert [(e["event_id"], e["type"], e.get("item_id")) for e in events] == [
        ("bench-1-1", "started", "bench-1-20261123-1"),
        ("bench-1-2", "paused", "bench-1-20261123-1"),
        ("bench-1-3", "resumed", "bench-1-20261123-1"),
        ("bench-1-4", "finished", "bench-1-20261123-1"),
    ]
    assert events[-1]["repair_status"] == "Fixed"
    assert (state.items, state.events, state.item_id) == (1, 4, None)


def test_nonsense_presses_are_ignored_and_ids_continue() -> None:
    unknown = RepairStatus.UNKNOWN
    state, events = run([(Action.DONE, unknown), (Action.START, unknown), (Action.START, unknown)])
    assert [e["type"] for e in events] == ["started"]
    restored = State.loads(state.dumps())
    outcome = press("bench-1", restored, Action.DONE, T0 + 9000, source="io", repair_status=RepairStatus.END_OF_LIFE)
    assert [(e.event_id, e.type.value, e.repair_status) for e in outcome.events] == [
        ("bench-1-2", "finished", RepairStatus.END_OF_LIFE)
    ]
    second = press("bench-1", outcome.state, Action.START, T0 + 10_000, source="io")
    assert second.events[0].item_id == "bench-1-20261123-2"


def test_state_events_when_configured() -> None:
    unknown = RepairStatus.UNKNOWN
    _, events = run([(Action.START, unknown), (Action.PAUSE, unknown), (Action.DONE, unknown)], emit_state=True)
    assert [(e["type"], e.get("state")) for e in events] == [
        ("started", None),
        ("state", "working"),
        ("paused", None),
        ("state", "paused"),
        ("finished", None),
        ("state", "idle"),
    ]


def test_a_20_ms_bounce_is_one_press() -> None:
    debouncer = Debouncer(debounce_ms=50)
    # Contact chatter for 20 ms sampled every 2 ms, then held for 200 ms, then released with chatter.
    samples = [(t, (t // 4) % 2 == 0) for t in range(0, 20, 2)] + [(t, True) for t in range(20, 220, 2)]
    samples += [(t, (t // 4) % 2 == 1) for t in range(220, 240, 2)] + [(t, False) for t in range(240, 400, 2)]
    rising = [t for t, level in samples if debouncer.update(level, t)]
    assert rising == [66]  # stable since t=16 (last chatter edge) + 50 ms
    assert debouncer.stable is False


def test_a_blip_shorter_than_debounce_is_no_press() -> None:
    debouncer = Debouncer(debounce_ms=50)
    assert not any(debouncer.update(level, t) for t, level in [(0, True), (10, True), (30, True), (40, False)])
    assert not any(debouncer.update(False, t) for t in range(50, 200, 10))


def test_state_only_mode_leaves_items_to_the_page() -> None:
    state, events = State(), []
    for i, action in enumerate([Action.START, Action.PAUSE, Action.PAUSE, Action.START, Action.DONE]):
        outcome = press("bench-1", state, action, T0 + i, source="button", item_events=False)
        state = outcome.state
        events += outcome.events
    assert [(e.type.value, e.state.value if e.state else None, e.item_id) for e in events] == [
        ("state", "working", None),
        ("state", "paused", None),
        ("state", "working", None),
        ("state", "idle", None),
    ]
    assert State.loads(state.dumps()) == state
