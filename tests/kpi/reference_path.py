"""The KPI API's answers as they were computed before the read model (issue 15): every meter sample of the range
through ``shopfloor.kpi`` on each call. Kept only as the reference of tests/kpi/test_read_model.py, which checks
that ``collector.kpi.report`` (summaries plus raw edges) gives the same answers. Not importable from the API.

Original docstring: stored data (``kpi_queries``) through the pure definitions of ``shopfloor.kpi``.

Every number is computed by ``shopfloor.kpi`` (docs/kpis.md); this module only picks the inputs and
shapes the JSON. A rate with a zero denominator is ``None`` (JSON null).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from collector.kpi.queries import KpiQueries, Range
from collector.settings import SiteSettings
from shopfloor.contract import EventType
from shopfloor.kpi.compare import SiteTotals, cluster_totals, compare_sites, rank_sites
from shopfloor.kpi.energy import (
    Coverage,
    Segment,
    bench_energy_by_item,
    capacity_cost_eur,
    item_energy_summary,
    kwh_per_day,
    meter_coverage,
    monthly_peaks,
    open_load,
    segments,
    weekly_demand_profile,
)
from shopfloor.kpi.energy import base_load as compute_base_load
from shopfloor.kpi.rates import (
    Bucket,
    FinishedItem,
    end_of_life_barriers,
    fix_rate_by_category,
    item_kpis,
    median_repair_time,
    throughput,
)
from shopfloor.kpi.sessions import Interval, clip, item_histories, open_items, staffed_intervals

# Sessions that began before the range still count inside it: events are read this far back.
SESSION_LOOKBACK_MS = 86_400_000

Sessions = dict[str, dict[str, list[Interval]]]  # station -> item id -> sessions


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def now_ms() -> int:
    return int(time.time() * 1000)


def coverage_answer(device: str, coverage: Coverage) -> dict[str, Any]:
    return {
        "device": device,
        "uptime": coverage.uptime,
        "measured_hours": coverage.measured_hours,
        "range_hours": coverage.range_hours,
        "gaps": len(coverage.gaps),
        "gap_hours": sum(gap.hours for gap in coverage.gaps),
        "longest_gaps": [
            {"from": iso(gap.start_ms), "to": iso(gap.end_ms), "hours": gap.hours}
            for gap in sorted(coverage.gaps, key=lambda gap: gap.start_ms - gap.end_ms)[:5]
        ],
    }


def site_energy(segs: Sequence[Segment], items_final: int) -> tuple[float | None, float | None]:
    """The main meter's kWh over the range (None without data), and kWh per item finished."""
    kwh = sum(seg.kwh for seg in segs if seg.kwh is not None) if segs else None
    return kwh, kwh / items_final if kwh is not None and items_final else None


class ReferenceKpiReport:
    def __init__(self, queries: KpiQueries, reuse_segments: bool = False) -> None:
        """``reuse_segments``: keep each meter's segments for the life of this object, so a report asking
        several answers of one range reads and segments each meter once (the API makes one per request)."""
        self.q = queries
        self._reuse = reuse_segments
        self._kept: dict[tuple[str, str, int, int], list[Segment]] = {}
        self._lock = threading.Lock()

    def _segments(self, site: str, device: str, window: Range) -> list[Segment]:
        key = (site, device, window.start_ms, window.end_ms)
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None:
            return kept
        found = segments(self.q.meter_samples(site, device, window))
        if self._reuse:
            with self._lock:
                self._kept[key] = found
        return found

    def _bench(self, site: str, window: Range, station: str | None) -> tuple[float, Sessions]:
        """Staffed bench-hours in the window, and the item sessions of each station (by item id)."""
        hours, sessions, _ = self._bench_and_intake(site, window, station)
        return hours, sessions

    def _bench_and_intake(self, site: str, window: Range, station: str | None) -> tuple[float, Sessions, int]:
        """``_bench``, and the items checked in during the window (the report's "items in")."""
        events = self.q.station_events(site, Range(window.start_ms - SESSION_LOOKBACK_MS, window.end_ms), station)
        checked_in = {
            event.item_id
            for event in events
            if event.type is EventType.CHECKED_IN and event.ts_ms >= window.start_ms and event.item_id is not None
        }
        until = min(window.end_ms, now_ms())
        by_station: dict[str, list[Any]] = {}
        for event in events:
            by_station.setdefault(event.station, []).append(event)
        hours = 0.0
        sessions: Sessions = {}
        for name, station_events in by_station.items():
            staffed = clip(staffed_intervals(station_events, until), Interval(window.start_ms, window.end_ms))
            hours += sum(span.seconds for span in staffed) / 3600
            for item_id, history in item_histories(station_events, until).items():
                if history.sessions:
                    sessions.setdefault(name, {})[item_id] = list(history.sessions)
        return hours, sessions, len(checked_in)

    def _items(self, items: Sequence[FinishedItem], bench_hours: float) -> dict[str, Any]:
        kpis = item_kpis(items, bench_hours)
        known = [item.bench_s for item in items if item.bench_s is not None]
        return {
            "finished": kpis.items_final,
            "fixed": kpis.fix.fixed,
            "repairable": kpis.fix.repairable,
            "end_of_life": kpis.fix.end_of_life,
            "unknown": kpis.fix.unknown,
            "fix_rate": kpis.fix.fix_rate,
            "unknown_share": kpis.fix.unknown_share,
            "returned_to_use": kpis.reuse.items_returned,
            "reuse_rate_items": kpis.reuse.rate_items,
            "kg": kpis.reuse.kg_final,
            "kg_returned": kpis.reuse.kg_returned,
            "reuse_rate_kg": kpis.reuse.rate_kg,
            "kg_diverted": kpis.diverted.kg_diverted,
            "co2e_kg": kpis.diverted.co2e_kg,
            "median_bench_minutes": statistics.median(known) / 60 if known else None,
            "bench_hours": kpis.bench_hours,
            "items_per_bench_hour": kpis.items_per_bench_hour,
            "repair_time": [asdict(row) for row in kpis.repair_time],
        }

    def _energy(
        self,
        site: str,
        meter: str,
        facts: SiteSettings,
        window: Range,
        fixed_by_station: dict[str, list[str]],
        sessions: Sessions,
        items_final: int,
        grid_connection: bool,
    ) -> dict[str, Any]:
        benches = {
            station: facts.bench_meter(station)
            for station, item_ids in fixed_by_station.items()
            if any(item in sessions.get(station, {}) for item in item_ids)
        }
        devices = sorted({meter, *benches.values()})
        # One query per meter, side by side: InfluxDB answers them on its own cores.
        with ThreadPoolExecutor(max_workers=min(4, len(devices))) as pool:
            by_device = dict(zip(devices, pool.map(lambda d: self._segments(site, d, window), devices), strict=True))
        segs = by_device[meter]
        kwh_total, kwh_per_item = site_energy(segs, items_final)
        hours = facts.hours()
        per_item: list[float | None] = []
        for station, item_ids in fixed_by_station.items():
            energy: dict[str, float | None] = {}
            if station in benches:
                bench_segs = by_device[benches[station]]
                energy = bench_energy_by_item(bench_segs, sessions[station])
            per_item.extend(energy.get(item) for item in item_ids)
        return {
            "meter": meter,
            "kwh": kwh_total,
            "days": [asdict(day) for day in kwh_per_day(segs, facts.timezone)],
            "base_load": asdict(compute_base_load(segs, hours)) if hours is not None else None,
            "open_load": asdict(open_load(segs, hours)) if hours is not None else None,
            **self._peaks(segs, facts, grid_connection),
            "demand_profile": weekly_demand_profile(segs, facts.timezone),
            "per_item": asdict(item_energy_summary(per_item)),
            "kwh_per_item": kwh_per_item,
        }

    @staticmethod
    def _peaks(segs: Sequence[Segment], facts: SiteSettings, grid_connection: bool) -> dict[str, Any]:
        """Monthly 15-minute peaks. The capacity tariff (``billed_kw``) and the contracted limit belong to the
        grid connection, the main meter: a bench sub-meter reports its own peak only (docs/kpis.md)."""
        peaks = [asdict(peak) for peak in monthly_peaks(segs, facts.timezone)]
        if not grid_connection:
            return {"peaks": [{k: v for k, v in peak.items() if k != "billed_kw"} for peak in peaks]}
        tariff = facts.capacity_tariff_eur_per_kw_year
        return {
            "peaks": [{**peak, "cost_eur": capacity_cost_eur(peak["billed_kw"], tariff)} for peak in peaks],
            "capacity_limit_kw": facts.capacity_limit_kw,
            "capacity_tariff_eur_per_kw_year": tariff,
        }

    def kpis(
        self, site: str, facts: SiteSettings, window: Range, bucket: Bucket, station: str | None = None
    ) -> dict[str, Any]:
        """``GET /api/sites/{site}/kpis`` and, with ``station``, the station's."""
        rows = self.q.finished_with_ids(site, window, station)
        items = [item for item, _ in rows]
        bench_hours, sessions, checked_in = self._bench_and_intake(site, window, station)
        fixed_by_station: dict[str, list[str]] = {}
        for item, item_id in rows:
            if item.terms.fixed and item_id is not None:
                fixed_by_station.setdefault(item.station, []).append(item_id)
        meter = facts.main_meter if station is None else facts.bench_meter(station)
        summary = {"checked_in": checked_in, **self._items(items, bench_hours)}
        body: dict[str, Any] = {"site": site}
        if station is not None:
            body["station"] = station
        body.update(
            {
                "from": iso(window.start_ms),
                "to": iso(window.end_ms),
                "timezone": facts.timezone,
                "bucket": bucket.value,
                "items": summary,
                "throughput": [asdict(row) for row in throughput(items, bucket, facts.timezone)],
                "energy": self._energy(
                    site, meter, facts, window, fixed_by_station, sessions, int(summary["finished"]), station is None
                ),
            }
        )
        return body

    def headline(self, site: str, facts: SiteSettings, window: Range) -> dict[str, Any]:
        """The part of ``kpis`` a report compares periods on: the same ``items``, and ``energy.kwh`` and
        ``energy.kwh_per_item``, without the per-day, peak, load and per-item energy work."""
        items = self.q.finished_items(site, window)
        bench_hours, _, checked_in = self._bench_and_intake(site, window, None)
        summary = {"checked_in": checked_in, **self._items(items, bench_hours)}
        kwh, kwh_per_item = site_energy(self._segments(site, facts.main_meter, window), int(summary["finished"]))
        return {
            "site": site,
            "from": iso(window.start_ms),
            "to": iso(window.end_ms),
            "timezone": facts.timezone,
            "items": summary,
            "energy": {"meter": facts.main_meter, "kwh": kwh, "kwh_per_item": kwh_per_item},
        }

    def categories(self, site: str, facts: SiteSettings, window: Range) -> dict[str, Any]:
        items = self.q.finished_items(site, window)
        return {
            "site": site,
            "from": iso(window.start_ms),
            "to": iso(window.end_ms),
            "categories": {name: asdict(rate) for name, rate in fix_rate_by_category(items).items()},
            "repair_time": [asdict(row) for row in median_repair_time(items)],
            "barriers": end_of_life_barriers(items),
        }

    def data_quality(self, site: str, facts: SiteSettings, window: Range) -> dict[str, Any]:
        """Each meter's uptime and gaps, and the items without an outcome (docs/kpis.md)."""
        until = max(window.start_ms, min(window.end_ms, now_ms()))
        devices = sorted({facts.main_meter, *self.q.devices(site)})
        with ThreadPoolExecutor(max_workers=min(4, len(devices))) as pool:
            found = list(pool.map(lambda d: self._segments(site, d, window), devices))
        meters = [
            coverage_answer(device, meter_coverage(segs, Interval(window.start_ms, until)))
            for device, segs in zip(devices, found, strict=True)
        ]
        items = self.q.finished_items(site, window)
        events = self.q.station_events(site, window)
        pending = [item for item in open_items(events, until) if item.checked_in_ms is not None or item.started]
        unknown = sum(item.terms.unknown for item in items)
        return {
            "site": site,
            "from": iso(window.start_ms),
            "to": iso(window.end_ms),
            "meters": meters,
            "items_finished": sum(item.terms.final for item in items),
            "items_unknown_outcome": unknown,
            "items_open": len(pending),
        }

    def compare(self, sites: dict[str, SiteSettings], window: Range) -> dict[str, Any]:
        totals: list[SiteTotals] = []
        for site, facts in sites.items():
            items = self.q.finished_items(site, window)
            kpis = item_kpis(items, 0.0)
            bench_hours, _ = self._bench(site, window, None)
            kwh, _ = site_energy(self._segments(site, facts.main_meter, window), kpis.items_final)
            totals.append(
                SiteTotals(
                    site=site,
                    items_final=kpis.items_final,
                    items_returned=kpis.reuse.items_returned,
                    kg_final=kpis.reuse.kg_final,
                    kg_returned=kpis.reuse.kg_returned,
                    kg_diverted=kpis.diverted.kg_diverted,
                    co2e_kg=kpis.diverted.co2e_kg,
                    bench_hours=bench_hours,
                    kwh=kwh,
                    last_data_ms=self.q.last_data_ms(site, window.end_ms),
                )
            )
        rows = compare_sites(totals, now_ms())
        return {
            "from": iso(window.start_ms),
            "to": iso(window.end_ms),
            "sites": [asdict(row) for row in rows],
            "totals": asdict(cluster_totals(totals)),
            "ranking": [asdict(rank) for rank in rank_sites(rows, {total.site: total.bench_hours for total in totals})],
        }
