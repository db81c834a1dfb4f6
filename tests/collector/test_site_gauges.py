"""The alert rules' gauges on /metrics: fed with contract payloads, read back as Prometheus text."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from collector.metrics import CollectorMetrics
from collector.settings import SiteSettings
from shopfloor.contract import EdgeState, EdgeStatus, GuardDecision, MeterReading, Quality, Value


def scrape(metrics: CollectorMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def reading(device: str, ts_ms: int, power_w: float | None, quality: Quality = Quality.OK) -> MeterReading:
    values = {} if power_w is None else {"power": Value(value=power_w, unit="W")}
    return MeterReading(ts_ms=ts_ms, seq=1, edge="pi", device=device, profile="p@1", quality=quality, values=values)


def test_site_quarter_forecast_and_peak_from_main_meter_readings() -> None:
    metrics = CollectorMetrics()
    metrics.sites.configure({"shop": SiteSettings(main_meter="grid", opening_hours="mon-sun 00:00-24:00")})
    now_ms = int(time.time() * 1000)
    start = now_ms - now_ms % 900_000
    # 4 kW through the quarter so far, now 8 kW: forecast = average so far + 8 kW for the time left.
    elapsed = now_ms - start
    for ts in range(start - 60_000, now_ms - 1000, 10_000):
        metrics.sites.message("shop", reading("grid", ts, 4000.0))
    metrics.sites.message("shop", reading("grid", now_ms - 1000, 8000.0))
    metrics.sites.message("shop", reading("bench-1", now_ms - 1000, 9999.0))  # not the main meter
    got = scrape(metrics)
    site = (("site", "shop"),)
    assert got[("shopfloor_site_power_watts", site)] == 8000.0
    assert got[("shopfloor_site_month_peak_kw", site)] == 2.5  # no quarter complete yet: the floor
    assert got[("shopfloor_site_open", site)] == 1.0
    left = got[("shopfloor_site_quarter_seconds_left", site)]
    assert 0 <= left <= 900
    if elapsed > 30_000:  # the very start of a quarter has too little to check the sums on
        forecast = got[("shopfloor_site_quarter_forecast_kw", site)]
        assert 4.0 < forecast <= 8.0 + 1e-9


def test_device_age_of_the_last_good_reading_ignores_stale_ones() -> None:
    metrics = CollectorMetrics()
    now_ms = int(time.time() * 1000)
    metrics.sites.message("shop", reading("main", now_ms - 20_000, 100.0))
    metrics.sites.message("shop", reading("main", now_ms - 15_000, 100.0))
    before = scrape(metrics)
    time.sleep(0.3)
    metrics.sites.message("shop", reading("main", now_ms, None, Quality.STALE))
    after = scrape(metrics)
    key = ("shopfloor_device_last_good_reading_age_seconds", (("device", "main"), ("site", "shop")))
    assert after[key] >= before[key] + 0.25  # the stale reading did not reset it
    assert after[("shopfloor_device_reading_interval_seconds", (("device", "main"), ("site", "shop")))] == 5.0


def test_edge_status_and_guard_target() -> None:
    metrics = CollectorMetrics()
    now_ms = int(time.time() * 1000)
    status = EdgeStatus(
        edge="pi", state=EdgeState.OFFLINE, ts_ms=now_ms, version="1", buffer_depth=42, dropped={"full": 3}
    )
    metrics.sites.message("shop", status)
    quarter = now_ms - now_ms % 900_000
    decision = GuardDecision(
        decision_id="d1",
        ts_ms=now_ms,
        edge="pi",
        action="shed",
        load="heater",
        quarter_start_ms=quarter,
        target_kw=7.5,
        month_peak_kw=7.5,
        reason="forecast 8 kW > 7.5 kW",
    )
    metrics.sites.message("shop", decision)
    got = scrape(metrics)
    edge = (("edge", "pi"), ("site", "shop"))
    assert got[("shopfloor_edge_online", edge)] == 0.0
    assert got[("shopfloor_edge_outbox_depth", edge)] == 42
    assert got[("shopfloor_edge_dropped", (("edge", "pi"), ("reason", "full"), ("site", "shop")))] == 3
    assert got[("shopfloor_site_peak_target_kw", (("site", "shop"),))] == pytest.approx(7.5)
    assert got[("shopfloor_site_month_peak_kw", (("site", "shop"),))] == pytest.approx(7.5)
