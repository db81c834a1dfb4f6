"""The simulated workshop is deterministic, realistic in shape, and its outcome shares come from ORDS."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import pytest

from shopfloor.contract import EventType, RepairStatus, StationState
from shopfloor.kpi.sessions import staffed_intervals
from simulator.ords_shares import derive_shares, load_shares
from simulator.sites import ELECTRICAL, FURNITURE, default_sites
from simulator.workshop import CARRY_MARGIN_MS, EnergyIntegrator, Workshop
from tests.harness.data import ords_dir

WEEK_START = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp() * 1000)  # a Monday
WEEK_MS = 7 * 86_400_000


def test_same_seed_same_events_other_seed_other_events() -> None:
    a = Workshop(ELECTRICAL, seed=7).events_between(WEEK_START, WEEK_START + WEEK_MS)
    b = Workshop(ELECTRICAL, seed=7).events_between(WEEK_START, WEEK_START + WEEK_MS)
    c = Workshop(ELECTRICAL, seed=8).events_between(WEEK_START, WEEK_START + WEEK_MS)
    assert a == b
    assert [e.event_id for e in a] != [e.event_id for e in c] or a != c


def test_events_are_unique_ordered_and_valid_lifecycles() -> None:
    events = Workshop(FURNITURE, seed=3).events_between(WEEK_START, WEEK_START + WEEK_MS)
    ids = [e.event_id for e in events]
    assert len(ids) == len(set(ids))
    assert [e.ts_ms for e in events] == sorted(e.ts_ms for e in events)
    by_item: dict[str, list[EventType]] = {}
    for event in events:
        by_item.setdefault(event.item_id or "", []).append(event.type)
    complete = [types for types in by_item.values() if types[0] is EventType.CHECKED_IN]
    assert complete, "no item checked in during a whole week"
    for types in complete:
        if types[-1] is EventType.FINISHED:
            assert types[1] is EventType.STARTED
            assert types.count(EventType.PAUSED) == types.count(EventType.RESUMED)


def test_some_repairs_cross_midnight_paused_at_close_resumed_next_opening() -> None:
    shop = Workshop(FURNITURE, seed=3)
    carried = [
        j
        for j in shop.jobs_between(WEEK_START, WEEK_START + WEEK_MS)
        if any(r - p > 8 * 3_600_000 for p, r in j.pauses)
    ]
    assert carried
    for job in carried:
        paused, resumed = next((p, r) for p, r in job.pauses if r - p > 8 * 3_600_000)
        # Paused just before closing and resumed just after opening: the bench's closed and open states bracket it.
        assert shop.is_open(paused) and not shop.is_open(paused + CARRY_MARGIN_MS)
        assert shop.is_open(resumed) and not shop.is_open(resumed - CARRY_MARGIN_MS - 1)
        assert (
            datetime.fromtimestamp(job.finish_ms / 1000, shop.tz).date()
            > datetime.fromtimestamp(job.start_ms / 1000, shop.tz).date()
        )


def test_benches_open_and_close_with_the_site_so_staffed_time_is_the_opening_hours() -> None:
    shop = Workshop(ELECTRICAL, seed=7)
    events = shop.events_between(WEEK_START, WEEK_START + WEEK_MS)
    for bench in ELECTRICAL.benches:
        states = [e for e in events if e.station == bench.id and e.type is EventType.STATE]
        opened = [e.ts_ms for e in states if e.state is StationState.IDLE and shop.is_open(e.ts_ms)]
        closed = [e.ts_ms for e in states if e.state is StationState.CLOSED]
        week = [date(2026, 11, 2 + n) for n in range(7)]
        windows = sorted(w for w in (shop.opening(day) for day in week) if w is not None)
        assert [w[1] for w in windows] == closed  # closed exactly at every closing time
        assert {w[0] for w in windows} <= set(opened)
        staffed = staffed_intervals([e for e in events if e.station == bench.id], WEEK_START + WEEK_MS)
        # Mon-Fri 09:00-17:00: 40 staffed hours, not the week's 168.
        assert sum(span.seconds for span in staffed) / 3600 == pytest.approx(5 * 8)


def test_load_is_base_at_night_and_higher_while_open() -> None:
    shop = Workshop(ELECTRICAL, seed=1)
    night = int(datetime(2026, 11, 3, 2, 0, tzinfo=shop.tz).timestamp() * 1000)
    noon = int(datetime(2026, 11, 3, 12, 0, tzinfo=shop.tz).timestamp() * 1000)
    assert shop.main_power_w(night) < ELECTRICAL.base_load_w * 1.2 + 10
    assert shop.main_power_w(noon) > ELECTRICAL.base_load_w + 0.8 * ELECTRICAL.open_load_w


def test_energy_counters_only_grow_and_match_mean_power() -> None:
    shop = Workshop(ELECTRICAL, seed=1)
    integrator = EnergyIntegrator(shop, WEEK_START)
    before = dict(integrator.kwh)
    integrator.advance(WEEK_START + 86_400_000, step_ms=60_000)
    day_kwh = integrator.kwh["main"] - before["main"]
    mean_w = sum(shop.main_power_w(WEEK_START + i * 60_000) for i in range(1440)) / 1440
    assert day_kwh == pytest.approx(mean_w * 24 / 1000, rel=1e-9)
    assert all(integrator.kwh[d] > before[d] for d in before)


def test_outcome_mix_follows_ords_shares() -> None:
    shop = Workshop(ELECTRICAL, seed=11)
    month = [
        e
        for e in shop.events_between(WEEK_START, WEEK_START + 5 * WEEK_MS)
        if e.type is EventType.FINISHED and e.category == "Laptop"
    ]
    assert len(month) > 30
    fixed = sum(e.repair_status is RepairStatus.FIXED for e in month) / len(month)
    assert fixed == pytest.approx(load_shares()["status"]["Laptop"]["Fixed"], abs=0.2)


def test_shipped_shares_match_the_ords_csvs() -> None:
    ords = ords_dir()
    derived = derive_shares(
        ords / "OpenRepairData_v0.3_RestartProject_202204.csv", ords / "OpenRepairData_v0.3_unpowered_202507.csv"
    )
    assert derived == load_shares()


def test_default_sites_cycle_kinds_with_unique_ids() -> None:
    sites = default_sites(5)
    assert [s.kind for s in sites] == ["electrical", "textile", "furniture", "electrical", "textile"]
    assert len({s.id for s in sites}) == 5
    counts = Counter(s.id for s in default_sites(3))
    assert set(counts) == {"gent-repair", "brussels-textile", "mechelen-furniture"}
    assert date(2026, 11, 2).weekday() == 0
