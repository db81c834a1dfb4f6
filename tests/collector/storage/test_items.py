"""The item index on its own (SQLite, no servers): lookups for finished events, open items, repeats, late events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collector.points import event_line
from collector.storage.items import ItemStore, item_index_path
from shopfloor.contract import StationEvent

T0 = 1_767_261_600_000


def ev(event_id: str, kind: str, item: str, ts_ms: int, station: str = "bench-1", **fields: Any) -> StationEvent:
    return StationEvent.model_validate(
        {"event_id": event_id, "ts_ms": ts_ms, "station": station, "type": kind, "item_id": item, **fields}
    )


def test_the_index_sits_next_to_the_spool() -> None:
    assert item_index_path(Path("var/c1-spool.sqlite")) == Path("var/c1-spool.items.sqlite")


def test_finished_without_category_gets_check_in_facts_and_bench_time(tmp_path: Path) -> None:
    store = ItemStore(tmp_path / "items.sqlite")
    for event in (
        ev("a", "checked_in", "it-1", T0, category="Toaster", weight_kg=1.5),
        ev("b", "started", "it-1", T0 + 60_000),
        ev("c", "paused", "it-1", T0 + 120_000),
        ev("d", "resumed", "it-1", T0 + 300_000),
    ):
        assert store.record("gent", event)
    assert not store.record("gent", ev("b", "started", "it-1", T0 + 60_000))  # a repeat
    [open_item] = store.open_items("gent", "bench-1", now_ms=T0 + 360_000)
    assert open_item.item_id == "it-1" and open_item.working and open_item.bench_s == 120.0
    assert store.open_items("gent", "bench-2", now_ms=T0 + 360_000) == []
    assert store.open_items("other-site", "bench-1", now_ms=T0 + 360_000) == []

    finished = ev("e", "finished", "it-1", T0 + 420_000, repair_status="Fixed")
    store.record("gent", finished)
    facts = store.lookup("gent", "it-1")
    assert facts is not None and (facts.category, facts.weight_kg, facts.bench_s) == ("Toaster", 1.5, 180.0)
    line = event_line("gent", finished, store)
    assert ",category=Toaster," in line and "bench_s=180.0" in line and "kg_diverted=1.5" in line
    assert store.open_items("gent", "bench-1", now_ms=T0 + 480_000) == []
    store.close()


def test_a_start_that_arrives_after_the_finish_leaves_bench_time_unknown(tmp_path: Path) -> None:
    store = ItemStore(tmp_path / "items.sqlite")
    store.record("gent", ev("a", "checked_in", "it-2", T0, category="Lamp"))
    finished = ev("c", "finished", "it-2", T0 + 600_000, repair_status="Repairable")
    store.record("gent", finished)
    assert "bench_s" not in event_line("gent", finished, store)  # computed at finish time: no start known
    store.record("gent", ev("b", "started", "it-2", T0 + 60_000))
    facts = store.lookup("gent", "it-2")
    assert facts is not None and facts.bench_s == 540.0  # a later lookup (a redelivery) would know it
    store.close()


def test_the_index_survives_a_restart(tmp_path: Path) -> None:
    store = ItemStore(tmp_path / "items.sqlite")
    store.record("gent", ev("a", "checked_in", "it-3", T0, category="Laptop"))
    store.close()
    again = ItemStore(tmp_path / "items.sqlite")
    assert again.known("gent", "a") and not again.record("gent", ev("a", "checked_in", "it-3", T0, category="Laptop"))
    assert [h.item_id for h in again.open_items("gent", "bench-1", now_ms=T0 + 1000)] == ["it-3"]
    again.close()
