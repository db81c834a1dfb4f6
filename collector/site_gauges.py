"""The gauges the alert rules need (deploy/prometheus/, docs/alerts.md), computed at scrape time.

Labels stay low-cardinality: ``site``, ``device``, ``edge`` and a handful of fixed ``reason``s.

* per site: the main meter's power now, the running quarter's average and forecast
  (:mod:`shopfloor.kpi.quarter`, the definitions of ``peak_15min``), the month's peak so far and
  the target (from the site's peak guard when it reports one), and whether the site is open;
* per device: the age of its last *good* reading (a ``stale`` reading is a message, not data) and
  the interval its readings come at, so a rule can say "silent for N intervals";
* per edge: online, outbox depth and drops, from its retained status.

The month's peak is kept from the quarters this collector saw complete (or the guard's figure,
whichever is higher): after a collector restart it starts again from the guard's, else the floor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shopfloor.contract import EdgeState, EdgeStatus, GuardDecision, MeterReading, Quality, ReadingBatch
from shopfloor.kpi.energy import MIN_BILLED_PEAK_KW, QUARTER_HOUR_MS, MeterSample, quarter_hour_demand_kw, segments
from shopfloor.kpi.opening_hours import OpeningHours
from shopfloor.kpi.quarter import local_month, quarter_forecast, quarter_start_ms
from shopfloor.kpi.sessions import DEFAULT_TIMEZONE

OK = Quality.OK.value

# A main meter silent this long gives no quarter figures: a forecast from old data would mislead.
QUARTER_STALE_MS = 5 * 60_000


@dataclass
class _Site:
    samples: list[MeterSample] = field(default_factory=list)
    quarter_ms: int = 0
    month: str = ""
    peak_kw: float | None = None
    guard_peak_kw: float | None = None
    guard_target_kw: float | None = None
    guard_month: str = ""


@dataclass
class _Device:
    last_good_s: float = 0.0
    last_ts_ms: int = 0
    interval_s: float | None = None


@dataclass
class _Edge:
    online: bool = False
    depth: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    seen_s: float = 0.0


class SiteGauges(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sites: dict[str, _Site] = {}
        self._devices: dict[tuple[str, str], _Device] = {}
        self._edges: dict[tuple[str, str], _Edge] = {}
        self.main_meters: dict[str, str] = {}
        self.timezones: dict[str, str] = {}
        self.hours: dict[str, OpeningHours] = {}

    def configure(self, sites: Mapping[str, Any]) -> None:
        """From collector.yaml's ``sites``: each site's main meter, time zone and opening hours."""
        for site, settings in sites.items():
            self.main_meters[site] = settings.main_meter
            self.timezones[site] = settings.timezone
            hours = settings.hours()
            if hours is not None:
                self.hours[site] = hours

    # ---- fed by the ingest, from the MQTT thread
    def reading(
        self, site: str, device: str, ts_ms: int, quality: str, power_w: float | None, energy_kwh: float | None
    ) -> None:
        with self._lock:
            self._observe(site, device, ts_ms, quality == OK, power_w, energy_kwh, time.time())

    def _observe(
        self, site: str, device: str, ts_ms: int, ok: bool, power_w: float | None, energy_kwh: float | None, now: float
    ) -> None:
        """Under the lock: one reading's part in the device's age and interval, and in the site's quarter."""
        dev = self._devices.get((site, device))
        if dev is None:
            dev = self._devices[(site, device)] = _Device()
        if ok:
            if dev.last_ts_ms and ts_ms > dev.last_ts_ms:
                gap = (ts_ms - dev.last_ts_ms) / 1000
                # A smoothed interval; a long silence is not the interval, so it counts little.
                dev.interval_s = gap if dev.interval_s is None else min(gap, 0.8 * dev.interval_s + 0.2 * gap)
            if ts_ms > dev.last_ts_ms:
                dev.last_ts_ms = ts_ms
            dev.last_good_s = now
        if not ok or device != self.main_meters.get(site, "main"):
            return
        if power_w is None and energy_kwh is None:
            return
        state = self._sites.setdefault(site, _Site())
        if state.samples and ts_ms <= state.samples[-1].ts_ms:
            return  # a backlog's older reading: the running quarter is about now
        state.samples.append(MeterSample(ts_ms, power_w, energy_kwh))
        self._roll(site, state, ts_ms)

    def raw_readings(self, site: str, readings: list[dict[str, Any]]) -> None:
        """The fast path's readings: one lock for the whole message (a backlog batch holds hundreds)."""
        self.raw_readings_of([(site, readings)])

    def raw_readings_of(self, messages: list[tuple[str, list[dict[str, Any]]]]) -> None:
        """The fast path's readings of a committed group of messages, (site, readings) each: one lock for all."""
        now = time.time()
        with self._lock:
            for site, readings in messages:
                main = self.main_meters.get(site, "main")
                for raw in readings:
                    device = raw["device"]
                    if device == main:
                        values = raw.get("values") or {}
                        power, energy = _number(values.get("power")), _number(values.get("energy_import"))
                    else:
                        power = energy = None  # only the main meter's values feed the site's quarter
                    self._observe(site, device, raw["ts_ms"], raw["quality"] == OK, power, energy, now)

    def message(self, site: str, payload: object) -> None:
        if isinstance(payload, ReadingBatch):
            for reading in payload.readings:
                self.message(site, reading)
        elif isinstance(payload, MeterReading):
            power = payload.values.get("power")
            energy = payload.values.get("energy_import")
            self.reading(
                site,
                payload.device,
                payload.ts_ms,
                payload.quality.value,
                power.value if power else None,
                energy.value if energy else None,
            )
        elif isinstance(payload, EdgeStatus):
            with self._lock:
                edge = self._edges.setdefault((site, payload.edge), _Edge())
                edge.online = payload.state is EdgeState.ONLINE
                edge.depth = payload.buffer_depth
                edge.dropped = dict(payload.dropped)
                edge.seen_s = time.time()
        elif isinstance(payload, GuardDecision):
            with self._lock:
                state = self._sites.setdefault(site, _Site())
                state.guard_target_kw = payload.target_kw
                state.guard_peak_kw = payload.month_peak_kw
                state.guard_month = local_month(payload.quarter_start_ms, self.timezones.get(site, DEFAULT_TIMEZONE))

    def _roll(self, site: str, state: _Site, ts_ms: int) -> None:
        zone = self.timezones.get(site, DEFAULT_TIMEZONE)
        current = quarter_start_ms(ts_ms)
        if state.quarter_ms and current > state.quarter_ms:
            demand = quarter_hour_demand_kw(segments(state.samples, QUARTER_STALE_MS)).get(state.quarter_ms)
            if demand is not None and local_month(state.quarter_ms, zone) == state.month:
                state.peak_kw = demand if state.peak_kw is None else max(state.peak_kw, demand)
        if current != state.quarter_ms:
            month = local_month(current, zone)
            if month != state.month:
                state.month, state.peak_kw = month, None
            state.quarter_ms = current
            before = [s for s in state.samples if s.ts_ms < current]
            state.samples = before[-1:] + [s for s in state.samples if s.ts_ms >= current]

    # ---- scrape
    def collect(self) -> Iterator[Metric]:
        now = time.time()
        now_ms = int(now * 1000)
        families = {
            name: GaugeMetricFamily(f"shopfloor_site_{name}", text, labels=["site"])
            for name, text in (
                ("power_watts", "Power of the site's main meter, last good reading"),
                ("quarter_average_kw", "The running quarter hour's average demand so far"),
                (
                    "quarter_forecast_kw",
                    "Forecast of the running quarter's average: energy so far + power now x time left",
                ),
                ("quarter_seconds_left", "Seconds until the running quarter hour ends"),
                ("month_peak_kw", "The month's highest quarter-hour demand so far, at least the 2.5 kW billed floor"),
                (
                    "peak_target_kw",
                    "What the site keeps its quarters under: its peak guard's target, else the month's peak",
                ),
                ("open", "1 while the site is open by its opening hours, 0 when closed; absent without hours"),
            )
        }
        age = GaugeMetricFamily(
            "shopfloor_device_last_good_reading_age_seconds",
            "Seconds since the device's last good (quality ok) reading reached the collector",
            labels=["site", "device"],
        )
        interval = GaugeMetricFamily(
            "shopfloor_device_reading_interval_seconds",
            "The interval the device's good readings come at (smoothed)",
            labels=["site", "device"],
        )
        online = GaugeMetricFamily(
            "shopfloor_edge_online", "1 while the edge says it is online", labels=["site", "edge"]
        )
        depth = GaugeMetricFamily(
            "shopfloor_edge_outbox_depth", "Messages in the edge's outbox not yet acknowledged", labels=["site", "edge"]
        )
        dropped = GaugeMetricFamily(
            "shopfloor_edge_dropped",
            "Readings the edge dropped since it began, by reason",
            labels=["site", "edge", "reason"],
        )
        status_age = GaugeMetricFamily(
            "shopfloor_edge_status_age_seconds", "Seconds since the edge's last status message", labels=["site", "edge"]
        )
        with self._lock:
            for site, state in self._sites.items():
                self._collect_site(site, state, now_ms, families)
            for site in self.hours.keys() | self._sites.keys():
                hours = self.hours.get(site)
                if hours is not None:
                    families["open"].add_metric([site], float(bool(hours.open_intervals(now_ms, now_ms + 1))))
            for (site, device), dev in self._devices.items():
                if dev.last_good_s:
                    age.add_metric([site, device], now - dev.last_good_s)
                if dev.interval_s is not None:
                    interval.add_metric([site, device], dev.interval_s)
            for (site, edge_id), edge in self._edges.items():
                online.add_metric([site, edge_id], float(edge.online))
                depth.add_metric([site, edge_id], edge.depth)
                status_age.add_metric([site, edge_id], now - edge.seen_s)
                for reason, count in edge.dropped.items():
                    dropped.add_metric([site, edge_id, reason], count)
        yield from families.values()
        yield from (age, interval, online, depth, dropped, status_age)

    def _collect_site(self, site: str, state: _Site, now_ms: int, families: dict[str, GaugeMetricFamily]) -> None:
        zone = self.timezones.get(site, DEFAULT_TIMEZONE)
        month = local_month(quarter_start_ms(now_ms), zone)
        peaks = [state.peak_kw if state.month == month else None]
        peaks.append(state.guard_peak_kw if state.guard_month == month else None)
        peak = max([p for p in peaks if p is not None], default=0.0)
        families["month_peak_kw"].add_metric([site], max(peak, MIN_BILLED_PEAK_KW))
        target = state.guard_target_kw if state.guard_month == month and state.guard_target_kw else None
        families["peak_target_kw"].add_metric([site], target or max(peak, MIN_BILLED_PEAK_KW))
        if not state.samples or now_ms - state.samples[-1].ts_ms > QUARTER_STALE_MS:
            return
        last = state.samples[-1]
        if last.power_w is not None:
            families["power_watts"].add_metric([site], last.power_w)
        forecast = quarter_forecast(state.samples, now_ms, QUARTER_STALE_MS)
        if forecast.average_kw is not None:
            families["quarter_average_kw"].add_metric([site], forecast.average_kw)
        if forecast.forecast_kw is not None:
            families["quarter_forecast_kw"].add_metric([site], forecast.forecast_kw)
        families["quarter_seconds_left"].add_metric([site], (forecast.slot_start_ms + QUARTER_HOUR_MS - now_ms) / 1000)


def _number(value: object) -> float | None:
    if isinstance(value, dict):
        value = value.get("value")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
