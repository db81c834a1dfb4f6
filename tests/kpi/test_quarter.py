"""The running quarter's average and forecast, and the month's peak so far, on hand-computed cases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shopfloor.kpi.energy import MeterSample, monthly_peaks, segments
from shopfloor.kpi.quarter import month_peak_so_far, quarter_forecast, quarter_start_ms

MIN = 60_000


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_a_segment_across_the_quarter_boundary_counts_pro_rata() -> None:
    # 10:10 -> 10:20 used 0.5 kWh; 5 of its 10 minutes are in the quarter that began at 10:15.
    samples = [
        MeterSample(utc("2026-02-10T10:10:00"), 3000.0, 100.0),
        MeterSample(utc("2026-02-10T10:20:00"), 6000.0, 100.5),  # a 3 kW oven just went on
    ]
    forecast = quarter_forecast(samples, utc("2026-02-10T10:20:00"))
    assert forecast.slot_start_ms == utc("2026-02-10T10:15:00")
    assert forecast.energy_kwh == pytest.approx(0.25)
    assert forecast.average_kw == pytest.approx(3.0)  # 0.25 kWh in 5 min
    assert forecast.power_now_kw == pytest.approx(6.0)
    # (0.25 kWh + 6 kW x 10 min) / 0.25 h = (0.25 + 1.0) / 0.25
    assert forecast.forecast_kw == pytest.approx(5.0)
    assert not forecast.gap


def test_at_the_boundary_itself_the_new_quarter_starts_empty() -> None:
    samples = [MeterSample(utc("2026-02-10T10:00:00"), 2000.0), MeterSample(utc("2026-02-10T10:15:00"), 4000.0)]
    forecast = quarter_forecast(samples, utc("2026-02-10T10:15:00"))
    assert forecast.slot_start_ms == utc("2026-02-10T10:15:00")
    assert forecast.elapsed_ms == 0
    assert forecast.energy_kwh == 0.0
    assert forecast.average_kw == pytest.approx(4.0)
    assert forecast.forecast_kw == pytest.approx(4.0)  # nothing used yet: the power now for 15 min


def test_a_power_meter_gap_is_filled_at_the_quarters_measured_mean() -> None:
    # 2 kW 10:00-10:04, silent until 10:08 (longer than max_gap 2 min), 5 kW 10:08-10:10.
    samples = [MeterSample(utc("2026-02-10T10:00:00") + m * MIN, 2000.0) for m in range(5)]
    samples += [MeterSample(utc("2026-02-10T10:08:00") + m * MIN, 5000.0) for m in range(3)]
    forecast = quarter_forecast(samples, utc("2026-02-10T10:10:00"), max_gap_ms=2 * MIN)
    assert forecast.measured_ms == 6 * MIN
    # measured: 2 kW x 4 min + 5 kW x 2 min = 0.3 kWh, mean 3 kW; the 4 unknown minutes at 3 kW = 0.2 kWh
    assert forecast.energy_kwh == pytest.approx(0.5)
    assert forecast.average_kw == pytest.approx(3.0)
    # (0.5 + 5 kW x 5 min) / 0.25 h
    assert forecast.forecast_kw == pytest.approx((0.5 + 5 * 5 / 60) / 0.25)
    assert forecast.gap


def test_a_counter_gap_gives_its_exact_total() -> None:
    samples = [
        MeterSample(utc("2026-02-10T10:00:00"), None, 50.0),
        MeterSample(utc("2026-02-10T10:02:00"), None, 50.1),
        MeterSample(utc("2026-02-10T10:08:00"), None, 50.5),  # 6 min without an answer
        MeterSample(utc("2026-02-10T10:10:00"), 3000.0, 50.6),
    ]
    forecast = quarter_forecast(samples, utc("2026-02-10T10:10:00"), max_gap_ms=2 * MIN)
    assert forecast.energy_kwh == pytest.approx(0.6)
    assert forecast.average_kw == pytest.approx(3.6)  # 0.6 kWh in 10 min
    assert forecast.forecast_kw == pytest.approx((0.6 + 3 * 5 / 60) / 0.25)  # 3.4
    assert forecast.gap  # when inside the gap the energy was used is not known


def test_a_counter_reset_counts_the_energy_since_the_reset() -> None:
    samples = [
        MeterSample(utc("2026-02-10T10:00:00"), None, 1000.0),
        MeterSample(utc("2026-02-10T10:05:00"), None, 1000.3),
        MeterSample(utc("2026-02-10T10:06:00"), None, 0.02),  # the meter was replaced or reset
        MeterSample(utc("2026-02-10T10:10:00"), 3000.0, 0.22),
    ]
    forecast = quarter_forecast(samples, utc("2026-02-10T10:10:00"))
    assert forecast.energy_kwh == pytest.approx(0.3 + 0.02 + 0.2)
    assert forecast.average_kw == pytest.approx(0.52 * 6)
    assert forecast.forecast_kw == pytest.approx((0.52 + 3 * 5 / 60) / 0.25)  # 3.08, not -3996


@pytest.mark.parametrize(
    ("quarter_utc", "now_utc", "label"),
    [
        # 25 Oct 2026, 03:00 CEST -> 02:00 CET: the quarter from 02:45 CEST ends at 02:00 CET.
        ("2026-10-25T00:45:00", "2026-10-25T00:55:00", "autumn"),
        # 29 Mar 2026, 02:00 CET -> 03:00 CEST: the quarter from 01:45 CET ends at 03:00 CEST.
        ("2026-03-29T00:45:00", "2026-03-29T00:55:00", "spring"),
    ],
)
def test_the_dst_change_keeps_quarters_fifteen_minutes_long(quarter_utc: str, now_utc: str, label: str) -> None:
    start = utc(quarter_utc)
    samples = [MeterSample(start - MIN + m * MIN, 4000.0) for m in range(12)]
    forecast = quarter_forecast(samples, utc(now_utc))
    assert forecast.slot_start_ms == start, label
    assert forecast.slot_end_ms - forecast.slot_start_ms == 15 * MIN
    assert forecast.elapsed_ms == 10 * MIN  # a local-clock quarter would say 70 min (autumn) or -50 (spring)
    assert forecast.forecast_kw == pytest.approx(4.0)


def test_the_repeated_local_hour_has_two_distinct_peaks() -> None:
    # 02:45-03:00 local happens twice on 25 Oct 2026: 00:45 UTC (CEST) at 6 kW and 01:45 UTC (CET) at 8 kW.
    first, second = utc("2026-10-25T00:45:00"), utc("2026-10-25T01:45:00")
    samples = [MeterSample(first + m * MIN, 6000.0) for m in range(16)]
    samples += [MeterSample(second + m * MIN, 8000.0) for m in range(16)]
    peak = month_peak_so_far(segments(samples), utc("2026-10-25T02:00:00"))
    assert peak.peak_kw == pytest.approx(8.0)
    assert peak.slot_start_ms == second


def test_the_first_quarter_of_a_month_has_no_peak_yet_and_the_floor_applies() -> None:
    # 1 March 00:00 in Brussels is 28 Feb 23:00 UTC. February peaked at 9 kW an hour earlier.
    feb_peak = utc("2026-02-28T22:00:00")
    march = utc("2026-02-28T23:00:00")
    samples = [MeterSample(feb_peak + m * MIN, 9000.0) for m in range(16)]
    samples += [MeterSample(feb_peak + 15 * MIN + m * MIN, 1000.0) for m in range(46)]  # to 23:00
    samples += [MeterSample(march + m * MIN, 3000.0) for m in range(1, 16)]
    during_first = month_peak_so_far(segments(samples), march + 10 * MIN)
    assert during_first.month == "2026-03"
    assert during_first.peak_kw is None  # February's 9 kW is not March's peak
    assert during_first.billed_kw == 2.5
    after_first = month_peak_so_far(segments(samples), march + 15 * MIN)
    # 23:00 -> 23:01 is the trapezoid of 1 kW and 3 kW (2 kW), then 14 min at 3 kW: (2 + 42) / 60 kWh / 0.25 h
    assert after_first.peak_kw == pytest.approx((2 + 14 * 3) / 60 / 0.25)
    assert after_first.slot_start_ms == march
    assert quarter_start_ms(march + 10 * MIN) == march


def test_the_month_peak_so_far_is_the_kpi_apis_peak_once_the_month_is_over() -> None:
    start = utc("2026-04-01T00:00:00")
    samples = [MeterSample(start + m * MIN, 1000.0 + (m * 37 % 11) * 300.0) for m in range(600)]
    segs = segments(samples)
    [api] = monthly_peaks(segs)
    so_far = month_peak_so_far(segs, start + 600 * MIN)
    assert so_far.peak_kw == pytest.approx(api.peak_kw)
    assert so_far.billed_kw == pytest.approx(api.billed_kw)
