"""The KPI figures added for the reports, on hand-computed cases: open load, the week x hour demand profile,
a meter's coverage, the capacity cost, end-of-life barriers, cluster totals and the ranking (docs/kpis.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shopfloor.kpi.compare import MIN_RANKED_ITEMS, SiteTotals, cluster_totals, compare_sites, rank_sites
from shopfloor.kpi.energy import (
    MeterSample,
    base_load,
    capacity_cost_eur,
    meter_coverage,
    open_load,
    segments,
    weekly_demand_profile,
)
from shopfloor.kpi.opening_hours import OpeningHours
from shopfloor.kpi.rates import end_of_life_barriers, stored_item
from shopfloor.kpi.sessions import Interval

MIN = 60_000


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def hourly(start: str, kwh_per_hour: list[float]) -> list[MeterSample]:
    values = [0.0]
    for kwh in kwh_per_hour:
        values.append(values[-1] + kwh)
    return [MeterSample(ms(start) + i * 60 * MIN, energy_kwh=v) for i, v in enumerate(values)]


def test_open_load_is_the_counterpart_of_base_load() -> None:
    hours = OpeningHours(hours="mon-fri 09:00-17:00", timezone="UTC")
    # Monday 2026-01-12: 0.5 kWh/h closed (16 h), 3.5 kWh/h open (8 h).
    segs = segments(hourly("2026-01-12 00:00", [3.5 if 9 <= h < 17 else 0.5 for h in range(24)]), 60 * MIN)
    opened = open_load(segs, hours)
    assert opened.watts == pytest.approx(3500.0) and opened.open_hours_measured == pytest.approx(8.0)
    assert base_load(segs, hours).watts == pytest.approx(500.0)
    assert open_load([], hours).watts is None


def test_weekly_demand_profile_averages_quarter_hours_per_weekday_and_hour() -> None:
    # Two Mondays (UTC), 10:00-11:00: 1 kWh in the first, 3 kWh in the second -> 1 kW and 3 kW, mean 2 kW.
    samples = [
        *(MeterSample(ms("2026-01-12 10:00") + q * 15 * MIN, energy_kwh=q * 0.25) for q in range(5)),
        *(MeterSample(ms("2026-01-19 10:00") + q * 15 * MIN, energy_kwh=10 + q * 0.75) for q in range(5)),
    ]
    profile = weekly_demand_profile(segments(samples), "UTC")
    assert len(profile) == 7 and all(len(day) == 24 for day in profile)
    assert profile[0][10] == pytest.approx(2.0)
    # The week between is one long gap: no quarter hour of it counts.
    assert sum(value is not None for day in profile for value in day) == 1
    # In Brussels (UTC+1 in January) the same data is Monday 11:00.
    assert weekly_demand_profile(segments(samples), "Europe/Brussels")[0][11] == pytest.approx(2.0)


def test_meter_coverage_counts_gaps_inside_and_at_both_ends() -> None:
    # Range 00:00-06:00; samples each minute 01:00-02:00 and 03:00-05:00 (a 60-min gap between).
    samples = [MeterSample(ms("2026-01-12 01:00") + m * MIN, energy_kwh=m / 60) for m in range(61)]
    samples += [MeterSample(ms("2026-01-12 03:00") + m * MIN, energy_kwh=2 + m / 60) for m in range(121)]
    coverage = meter_coverage(segments(samples), Interval(ms("2026-01-12 00:00"), ms("2026-01-12 06:00")))
    assert coverage.measured_hours == pytest.approx(3.0) and coverage.range_hours == pytest.approx(6.0)
    assert coverage.uptime == pytest.approx(0.5)
    assert [(gap.start_ms, gap.end_ms) for gap in coverage.gaps] == [
        (ms("2026-01-12 00:00"), ms("2026-01-12 01:00")),
        (ms("2026-01-12 02:00"), ms("2026-01-12 03:00")),
        (ms("2026-01-12 05:00"), ms("2026-01-12 06:00")),
    ]
    empty = meter_coverage([], Interval(ms("2026-01-12 00:00"), ms("2026-01-12 06:00")))
    assert empty.uptime == 0.0 and [gap.hours for gap in empty.gaps] == [6.0]


def test_capacity_cost_is_a_month_of_the_yearly_rate() -> None:
    assert capacity_cost_eur(2.5, 41.25) == pytest.approx(2.5 * 41.25 / 12)
    assert capacity_cost_eur(9.0, None) is None


def test_end_of_life_barriers_count_only_end_of_life_items() -> None:
    def item(status: str, barrier: str | None) -> object:
        fields = {"final": 1, status: 1, "barrier": barrier}
        return stored_item("s", "b", 0, "Kettle", fields)

    items = [
        item("end_of_life", "Spare parts not available"),
        item("end_of_life", "Spare parts not available"),
        item("end_of_life", None),
        item("fixed", None),
        item("repairable", "Lack of equipment"),
    ]
    assert end_of_life_barriers(items) == {"Spare parts not available": 2, "Unknown": 1}  # type: ignore[arg-type]


def totals(site: str, items: int, bench_hours: float, kwh: float | None, returned: int = 0) -> SiteTotals:
    return SiteTotals(
        site, items, returned, items * 2.0, returned * 2.0, items * 1.0, items * 10.0, bench_hours, kwh, 0
    )


def test_cluster_totals_take_ratios_of_the_sums() -> None:
    sites = [totals("a", 10, 10.0, 100.0, 5), totals("b", 30, 10.0, None, 30)]
    cluster = cluster_totals(sites)
    assert (cluster.sites, cluster.items_final, cluster.bench_hours, cluster.kwh) == (2, 40, 20.0, 100.0)
    assert cluster.items_per_bench_hour == pytest.approx(2.0)  # not the mean of 1.0 and 3.0... which is also 2
    assert cluster.reuse_rate_items == pytest.approx(35 / 40)  # the mean of the sites' rates would be 0.75
    assert cluster.kwh_per_item == pytest.approx(100 / 40)


def test_ranking_places_sites_with_enough_data_and_marks_the_others() -> None:
    sites = [
        totals("fast", 40, 10.0, 40.0, 20),  # 4 items/h, 1 kWh/item
        totals("slow", 20, 10.0, 60.0, 20),  # 2 items/h, 3 kWh/item
        totals("tied", 20, 10.0, 60.0, 10),  # same as slow except its reuse rate
        totals("tiny", MIN_RANKED_ITEMS - 1, 5.0, 10.0),
        totals("dark", 50, 10.0, None),
        totals("empty", 0, 0.0, None),
    ]
    rows = compare_sites(sites, 0)
    ranking = rank_sites(rows, {s.site: s.bench_hours for s in sites})
    assert [(rank.site, rank.ranked) for rank in ranking] == [
        ("fast", True),
        ("slow", True),
        ("tied", True),
        ("dark", False),
        ("empty", False),
        ("tiny", False),
    ]
    by_site = {rank.site: rank for rank in ranking}
    assert by_site["fast"].ranks == {
        "items_per_bench_hour": 1,
        "kwh_per_item": 1,
        "reuse_rate_items": 2,
        "co2e_kg_per_item": 1,
    }
    assert by_site["slow"].ranks["items_per_bench_hour"] == by_site["tied"].ranks["items_per_bench_hour"] == 2
    # Reuse: slow 1.0; fast and tied 0.5 share rank 2.
    assert by_site["slow"].ranks["reuse_rate_items"] == 1 and by_site["tied"].ranks["reuse_rate_items"] == 2
    assert "no meter data" in (by_site["dark"].reason or "") and by_site["dark"].reason_code == "no_meter_data"
    assert by_site["tiny"].reason_code == "few_items" and by_site["empty"].reason_code == "few_items"
    assert "9 items" in (by_site["tiny"].reason or "") and by_site["tiny"].ranks == {}
    assert by_site["empty"].reason is not None
