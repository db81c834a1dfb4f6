"""Sessions and item KPIs on hand-computed cases (docs/kpis.md)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from shopfloor.contract import RepairStatus, ReuseOutcome, StationEvent, StationState
from shopfloor.kpi.outcomes import OUTCOME_TERMS, OutcomeFields
from shopfloor.kpi.rates import (
    Bucket,
    FinishedItem,
    by_station,
    finished_item,
    fix_rate,
    fix_rate_by_category,
    item_kpis,
    median_repair_time,
    reuse_rate,
    stored_item,
    throughput,
)
from shopfloor.kpi.sessions import Interval, clip, item_histories, open_items, seconds_by_day, staffed_intervals


def ms(text: str) -> int:
    """UTC time 'YYYY-MM-DD HH:MM' in ms."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


_counter = iter(range(1_000_000))


def ev(kind: str, at: str, item: str = "i1", station: str = "b1", **extra: object) -> StationEvent:
    fields: dict[str, object] = {"event_id": f"e{next(_counter)}", "ts_ms": ms(at), "station": station, "type": kind}
    if kind != "state":
        fields["item_id"] = item
    if kind == "checked_in":
        fields.setdefault("category", "Laptop")
    fields.update(extra)
    return StationEvent.model_validate(fields)


def finished(histories: dict[str, object], site: str = "s") -> list[FinishedItem]:
    items = [finished_item(site, h) for h in histories.values()]  # type: ignore[arg-type]
    return [i for i in items if i is not None]


def test_pause_and_resume_excludes_the_pause() -> None:
    events = [
        ev("checked_in", "2026-03-02 08:00"),
        ev("started", "2026-03-02 09:00"),
        ev("paused", "2026-03-02 09:20"),
        ev("resumed", "2026-03-02 10:00"),
        ev("finished", "2026-03-02 10:10", repair_status="Fixed"),
    ]
    history = item_histories(events)["i1"]
    assert history.sessions == (
        Interval(ms("2026-03-02 09:00"), ms("2026-03-02 09:20")),
        Interval(ms("2026-03-02 10:00"), ms("2026-03-02 10:10")),
    )
    assert history.bench_s == 30 * 60


def test_duplicates_and_out_of_order_arrival_give_the_same_history() -> None:
    events = [
        ev("checked_in", "2026-03-02 08:00"),
        ev("started", "2026-03-02 09:00"),
        ev("paused", "2026-03-02 09:20"),
        ev("resumed", "2026-03-02 10:00"),
        ev("finished", "2026-03-02 10:10", repair_status="Fixed"),
    ]
    shuffled = [events[4], events[2], events[2], events[0], events[3], events[1], events[4]]
    assert item_histories(shuffled) == item_histories(events)


def test_missing_start_gives_no_bench_time() -> None:
    events = [ev("checked_in", "2026-03-02 08:00"), ev("finished", "2026-03-02 09:00", repair_status="Fixed")]
    history = item_histories(events)["i1"]
    assert history.is_final and history.bench_s is None
    assert median_repair_time(finished(item_histories(events))) == []


def test_repair_across_midnight_is_split_by_local_day() -> None:
    # 22:30 UTC = 23:30 Brussels (CET, winter); 00:15 UTC next day = 01:15 Brussels.
    events = [ev("started", "2026-01-14 22:30"), ev("finished", "2026-01-15 00:15", repair_status="Repairable")]
    history = item_histories(events)["i1"]
    assert history.bench_s == 105 * 60
    by_day = seconds_by_day(history.sessions)
    assert {d.isoformat(): s for d, s in by_day.items()} == {"2026-01-14": 30 * 60, "2026-01-15": 75 * 60}


def test_open_items_and_running_session_until_now() -> None:
    events = [
        ev("checked_in", "2026-03-02 08:00", item="a"),
        ev("checked_in", "2026-03-02 08:05", item="b"),
        ev("started", "2026-03-02 08:10", item="b"),
        ev("checked_in", "2026-03-02 08:20", item="c"),
        ev("finished", "2026-03-02 08:30", item="c", outcome="recycled"),
    ]
    pending = open_items(events, until_ms=ms("2026-03-02 09:10"))
    assert [h.item_id for h in pending] == ["a", "b"]
    assert pending[1].working and pending[1].bench_s == 3600


def test_no_items() -> None:
    kpis = item_kpis([], bench_hours=0.0)
    assert kpis.items_final == 0 and kpis.items_per_bench_hour is None
    assert kpis.fix.fix_rate is None and kpis.fix.unknown_share is None
    assert kpis.reuse.rate_items is None and kpis.reuse.rate_kg is None
    assert kpis.diverted.kg_diverted == 0.0 and kpis.repair_time == []
    assert throughput([], Bucket.DAY) == []


def test_all_unknown() -> None:
    events = []
    for n in range(3):
        events += [
            ev("started", "2026-03-02 09:00", item=f"u{n}"),
            ev("finished", "2026-03-02 09:30", item=f"u{n}", repair_status=RepairStatus.UNKNOWN),
        ]
    rate = fix_rate(finished(item_histories(events)))
    assert (rate.fixed, rate.unknown, rate.fix_rate, rate.unknown_share) == (0, 3, None, 1.0)


def test_rates_hand_computed() -> None:
    events = [
        ev("checked_in", "2026-03-02 08:00", item="lap", category="Laptop", weight_kg=2.0),
        ev("finished", "2026-03-02 09:00", item="lap", repair_status="Fixed"),
        ev("checked_in", "2026-03-02 08:00", item="ket", category="Kettle"),
        ev("finished", "2026-03-02 09:00", item="ket", repair_status="End of life", barrier="Lack of equipment"),
        ev("checked_in", "2026-03-02 08:00", item="sofa", category="Furniture"),
        ev("finished", "2026-03-02 09:00", item="sofa", outcome="reused_as_is"),
        ev("checked_in", "2026-03-02 08:00", item="toy", category="Toy"),
        ev("finished", "2026-03-02 09:00", item="toy", repair_status="Unknown"),
    ]
    items = finished(item_histories(events))
    rate = fix_rate(items)
    assert rate.fix_rate == pytest.approx(1 / 2)  # Fixed / (Fixed + EoL); sofa is no repair, toy Unknown
    assert rate.unknown_share == pytest.approx(1 / 3)
    reuse = reuse_rate(items)
    assert (reuse.items_final, reuse.items_returned, reuse.rate_items) == (4, 2, 0.5)
    kg_final = 2.0 + 1.25 + 29.81 + 0.93
    assert reuse.kg_final == pytest.approx(kg_final)
    assert reuse.rate_kg == pytest.approx((2.0 + 29.81) / kg_final)
    kpis = item_kpis(items, bench_hours=2.0)
    assert kpis.items_per_bench_hour == 2.0
    assert kpis.diverted.kg_diverted == 2.0 and kpis.diverted.co2e_kg == pytest.approx(265.32 / 2)


def test_throughput_buckets_in_brussels_time_across_dst() -> None:
    # 2026-03-29: Brussels goes from CET (+1) to CEST (+2) at 01:00 UTC. Two items on that day, one the next.
    def done(item: str, at: str) -> list[StationEvent]:
        return [ev("finished", at, item=item, repair_status="Fixed", category="Fan")]

    events = done("a", "2026-03-28 23:30") + done("b", "2026-03-29 21:30") + done("c", "2026-03-29 22:30")
    items = finished(item_histories(events))
    days = throughput(items, Bucket.DAY)
    assert [(b.start, b.items) for b in days] == [("2026-03-29T00:00:00+01:00", 2), ("2026-03-30T00:00:00+02:00", 1)]
    weeks = throughput(items, Bucket.WEEK)
    assert [(b.start, b.items) for b in weeks] == [("2026-03-23T00:00:00+01:00", 2), ("2026-03-30T00:00:00+02:00", 1)]
    hours = throughput(items, Bucket.HOUR, timezone="UTC")
    assert [b.items for b in hours] == [1, 1, 1]


def test_staffed_time_is_open_state_union_item_sessions() -> None:
    events = [
        ev("state", "2026-03-02 08:00", state=StationState.IDLE),
        ev("started", "2026-03-02 09:00", item="a"),
        ev("state", "2026-03-02 12:00", state=StationState.CLOSED),
        ev("finished", "2026-03-02 13:00", item="a", outcome=ReuseOutcome.RECYCLED),
        ev("started", "2026-03-02 12:30", item="b"),
        ev("finished", "2026-03-02 12:45", item="b", repair_status="Fixed"),
    ]
    staffed = staffed_intervals(events, until_ms=ms("2026-03-02 18:00"))
    assert staffed == [Interval(ms("2026-03-02 08:00"), ms("2026-03-02 13:00"))]


def test_staffed_time_holds_without_a_closed_state() -> None:
    # A button box: state events working/idle only, never "closed" (docs/edge-stations.md).
    events = [
        ev("state", "2026-03-02 09:00", state=StationState.IDLE),
        ev("started", "2026-03-02 09:30", item="a"),
        ev("finished", "2026-03-02 10:30", item="a", repair_status="Fixed"),
        ev("state", "2026-03-02 10:30", state=StationState.IDLE),
        ev("started", "2026-03-02 14:00", item="b"),
        ev("finished", "2026-03-02 16:00", item="b", repair_status="Fixed"),
        ev("state", "2026-03-02 16:00", state=StationState.IDLE),
        # Silent overnight (17 h): not staffed, although the last state says idle.
        ev("state", "2026-03-03 09:00", state=StationState.WORKING),
    ]
    staffed = staffed_intervals(events, until_ms=ms("2026-03-06 00:00"))
    assert staffed == [Interval(ms("2026-03-02 09:00"), ms("2026-03-02 16:00"))]
    # A longer silence than the limit inside opening hours is not staffed either; a session is, however long.
    assert staffed_intervals(events, until_ms=ms("2026-03-06 00:00"), max_silence_ms=3 * 3_600_000) == [
        Interval(ms("2026-03-02 09:00"), ms("2026-03-02 10:30")),
        Interval(ms("2026-03-02 14:00"), ms("2026-03-02 16:00")),
    ]


def test_bench_hours_inside_a_range_and_per_station_groups() -> None:
    events = [
        ev("started", "2026-03-02 23:00", item="a", station="b1"),
        ev("finished", "2026-03-03 01:00", item="a", station="b1", repair_status="Fixed", category="Fan"),
        ev("started", "2026-03-03 09:00", item="b", station="b2"),
        ev("finished", "2026-03-03 09:30", item="b", station="b2", repair_status="Fixed", category="Fan"),
    ]
    day = Interval(ms("2026-03-03 00:00"), ms("2026-03-04 00:00"))
    staffed = clip(staffed_intervals(events, until_ms=day.end_ms), day)
    assert sum(i.seconds for i in staffed) == 90 * 60
    groups = by_station(finished(item_histories(events)))
    assert {station: len(items) for station, items in groups.items()} == {"b1": 1, "b2": 1}


def test_fix_rate_by_category() -> None:
    events = [
        ev("finished", "2026-03-02 09:00", item="a", repair_status="Fixed", category="Fan"),
        ev("finished", "2026-03-02 09:00", item="b", repair_status="End of life", category="Fan"),
        ev("finished", "2026-03-02 09:00", item="c", repair_status="Unknown", category="Lamp"),
    ]
    rates = fix_rate_by_category(finished(item_histories(events)))
    assert list(rates) == ["Fan", "Lamp"]
    assert rates["Fan"].fix_rate == 0.5 and rates["Lamp"].fix_rate is None and rates["Lamp"].unknown_share == 1.0


def test_stored_point_fields_give_the_same_item() -> None:
    events = [
        ev("started", "2026-03-02 09:00", category="Kettle", weight_kg=1.4),
        ev("finished", "2026-03-02 09:40", repair_status="Fixed"),
    ]
    (item,) = finished(item_histories(events))
    fields: dict[str, object] = {**item.terms.as_fields(), "bench_s": item.bench_s, "brand": "Philips"}
    assert stored_item("s", "b1", item.finished_ms, "Kettle", fields) == item


def test_a_stored_point_s_every_term_lands_in_its_own_field() -> None:
    """Each derived field a different number (ints as floats too, as MessagePack answers carry them): none is
    taken for another, and a missing or non-numeric one reads as 0."""
    names = [field.name for field in dataclasses.fields(OutcomeFields)]
    assert tuple(names) == OUTCOME_TERMS  # stored_item relies on their order
    fields: dict[str, object] = {name: float(i + 1) for i, name in enumerate(names)}
    item = stored_item("s", "b1", 5, None, {**fields, "co2e_kg": "n/a", "bench_s": 60})
    assert [getattr(item.terms, name) for name in names[:-1]] == [i + 1 for i in range(len(names) - 1)]
    assert item.terms.co2e_kg == 0.0 and item.bench_s == 60.0 and item.barrier is None
    assert stored_item("s", "b1", 5, None, {}).terms == OutcomeFields(0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0)
