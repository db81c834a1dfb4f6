"""The KPI API's answers: stored data (``kpi_queries``) through the pure definitions of ``shopfloor.kpi``.

Every number is computed by ``shopfloor.kpi`` (docs/kpis.md); this module only picks the inputs and
shapes the JSON. A rate with a zero denominator is ``None`` (JSON null).

The read model: a range is cut at local midnight into pieces (``shopfloor.kpi.pieces``). The whole days
inside it come from the stored day summaries (``collector.kpi.summaries``), the partial days at its edges
(and any day without a current summary) are computed from raw data, and the pieces are added up. So a
call costs about the days and sites asked for, not the samples stored. Items (throughput, categories,
median repair time) are still read per item: one point each.
"""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from collector.kpi.quarters import QuarterSummaries, unsettled_start
from collector.kpi.queries import RAW_METER_RANGE_MS, KpiQueries, Range
from collector.kpi.summaries import (
    SETTLE_MS,
    DaySummaries,
    PieceBuilder,
    Steps,
    StoredSums,
    day_bounds,
    local_midnights,
    totals_of_piece,
)
from collector.settings import SiteSettings
from shopfloor.kpi.compare import SiteTotals, cluster_totals, compare_sites, rank_sites
from shopfloor.kpi.energy import (
    BaseLoad,
    Coverage,
    MonthlyPeak,
    OpenLoad,
    Segment,
    capacity_cost_eur,
    item_energy_summary,
    meter_coverage,
    segments,
)
from shopfloor.kpi.pieces import (
    ItemSums,
    MeterPiece,
    Served,
    SitePiece,
    energy_totals,
    item_kwh_totals,
    mean_watts,
    served,
)
from shopfloor.kpi.rates import (
    Bucket,
    FinishedItem,
    end_of_life_barriers,
    fix_rate_by_category,
    item_kpis,
    median_repair_time,
    throughput,
)
from shopfloor.kpi.runs import Span
from shopfloor.kpi.sessions import Interval, open_items

# In a compare's layout of pieces: a stored day whose terms InfluxDB summed with the others (``StoredSums``).
SUMMED: Any = object()


@dataclass(frozen=True, slots=True)
class Plan:
    """How a range is cut: read per minute or raw, its local midnights, and the days a summary may serve."""

    per_minute: bool
    cuts: list[int]
    usable: list[int]


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


class KpiReport:
    def __init__(self, queries: KpiQueries, reuse_segments: bool = False) -> None:
        """``reuse_segments``: keep each meter's segments for the life of this object, so a report asking
        several answers of one range reads and segments each meter once (the API makes one per request)."""
        self.q = queries
        self._live = PieceBuilder(queries)
        self._stored = DaySummaries(queries.client)
        self._quarters = QuarterSummaries(queries.client)
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

    def _pieces(
        self,
        site: str,
        facts: SiteSettings,
        window: Range,
        devices: Sequence[str],
        station: str | None = None,
    ) -> list[Any]:
        """The window's pieces, oldest first: stored day summaries where current, raw data elsewhere. The raw
        pieces are read together (``PieceBuilder.build_many``): a few requests, whatever their number."""
        plan = self._plan(window, facts)
        stored: dict[int, Any] = {}
        if plan.usable:
            stored = dict(self._stored.details(site, facts, plan.usable, devices))
        steps, pieces = self._steps(site, facts, window, devices, plan, stored, station, True)
        built = iter(self._live.build_many(steps))
        return [next(built) if piece is None else piece for piece in pieces]

    def _plan(self, window: Range, facts: SiteSettings) -> Plan:
        per_minute = window.end_ms - window.start_ms > RAW_METER_RANGE_MS
        cuts = local_midnights(window.start_ms, window.end_ms, facts.timezone)
        days = cuts[:-1]
        # A stored day is used only where the range reaches past the time that day settles.
        usable = [day for day in days if day_bounds(day, facts.timezone)[1] + SETTLE_MS <= window.end_ms]
        return Plan(per_minute, cuts, usable if per_minute else [])

    def _steps(
        self,
        site: str,
        facts: SiteSettings,
        window: Range,
        devices: Sequence[str],
        plan: Plan,
        stored: dict[int, Any],
        station: str | None,
        item_energy: bool,
        kwh_only: bool = False,
        quarters: Mapping[int, MeterPiece] | None = None,
    ) -> tuple[list[Steps], list[Any]]:
        """The raw pieces' reads, and the pieces in order (None where a raw piece goes, a stored one else).
        ``item_energy``: each item's bench kWh too; ``kwh_only``: of the meters, only the kWh terms.
        Consecutive raw pieces (the edges, and the days without a current summary next to them) are one
        run, read together: a run costs the same few statements for one day or for years of them.
        ``quarters``: with ``kwh_only``, stored quarter hours of the main meter (by start): a raw piece's meter
        is read raw only after those that follow each other from its start (``served``)."""
        until = min(window.end_ms, now_ms())
        end = window.end_ms
        bounds = [window.start_ms, *plan.cuts, end]
        last = len(bounds) - 2
        steps: list[Steps] = []
        pieces: list[Any] = []
        run: list[Span] = []
        stored_energy: dict[int, Served] = {}

        def close_run() -> None:
            if run:
                steps.append(
                    self._live.run_steps(
                        site,
                        facts,
                        list(run),
                        devices,
                        plan.per_minute,
                        until,
                        station,
                        item_energy,
                        kwh_only=kwh_only,
                        stored_energy=dict(stored_energy),
                    )
                )
                run.clear()
                stored_energy.clear()

        for i, (start, stop) in enumerate(itertools.pairwise(bounds)):
            if 0 < i < last and start in stored:
                close_run()
                pieces.append(stored[start])
                continue
            run.append(PieceBuilder.span(start, stop, i == 0, i == last, None if i == last else end))
            pieces.append(None)
            got = served(quarters, start, min(stop, until)) if quarters else None
            if got is not None:
                stored_energy[start] = got
        close_run()
        return steps, pieces

    @staticmethod
    def _bench_hours(station: str | None, pieces: Sequence[SitePiece]) -> float:
        """Staffed bench-hours in the window, from the pieces."""
        seconds = sum(
            value for piece in pieces for name, value in piece.staffed_s.items() if station is None or name == station
        )
        return seconds / 3600

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
        meter: str,
        facts: SiteSettings,
        pieces: Sequence[SitePiece],
        fixed_by_station: dict[str, list[str]],
        items_final: int,
        grid_connection: bool,
    ) -> dict[str, Any]:
        energy = energy_totals([piece.meters.get(meter, MeterPiece()) for piece in pieces], facts.timezone)
        hours = facts.hours()
        per_item: list[float | None] = []
        for station, item_ids in fixed_by_station.items():
            by_item = item_kwh_totals(piece.item_kwh.get(station, {}) for piece in pieces)
            per_item.extend(by_item.get(item) for item in item_ids)
        closed_watts, closed_hours = mean_watts(energy.closed)
        open_watts, open_hours = mean_watts(energy.open)
        return {
            "meter": meter,
            "kwh": energy.kwh,
            "days": [asdict(day) for day in energy.days],
            "base_load": asdict(BaseLoad(closed_watts, closed_hours)) if hours is not None else None,
            "open_load": asdict(OpenLoad(open_watts, open_hours)) if hours is not None else None,
            **self._peaks(energy.peaks, facts, grid_connection),
            "demand_profile": energy.profile,
            "per_item": asdict(item_energy_summary(per_item)),
            "kwh_per_item": energy.kwh / items_final if energy.kwh is not None and items_final else None,
        }

    @staticmethod
    def _peaks(monthly: Sequence[MonthlyPeak], facts: SiteSettings, grid_connection: bool) -> dict[str, Any]:
        """Monthly 15-minute peaks. The capacity tariff (``billed_kw``) and the contracted limit belong to the
        grid connection, the main meter: a bench sub-meter reports its own peak only (docs/kpis.md)."""
        peaks = [asdict(peak) for peak in monthly]
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
        meter = facts.main_meter if station is None else facts.bench_meter(station)
        # The items beside the pieces: influxd answers one while this thread reads the other (a year of day
        # details, or the raw edges' minutes).
        with ThreadPoolExecutor(max_workers=1) as pool:
            asked = pool.submit(self.q.items_and_intake, site, window, station)
            pieces = self._pieces(site, facts, window, [meter], station)
            rows, checked_in = asked.result()
        items = [item for item, _ in rows]
        fixed_by_station: dict[str, list[str]] = {}
        for item, item_id in rows:
            if item.terms.fixed and item_id is not None:
                fixed_by_station.setdefault(item.station, []).append(item_id)
        summary = {"checked_in": len(checked_in), **self._items(items, self._bench_hours(station, pieces))}
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
                    meter, facts, pieces, fixed_by_station, int(summary["finished"]), station is None
                ),
            }
        )
        return body

    def headline(self, site: str, facts: SiteSettings, window: Range) -> dict[str, Any]:
        """The part of ``kpis`` a report compares periods on: the same ``items``, and ``energy.kwh`` and
        ``energy.kwh_per_item``, without the per-day, peak, load and per-item energy work."""
        with ThreadPoolExecutor(max_workers=1) as pool:  # as in ``kpis``
            asked = pool.submit(self.q.items_and_intake, site, window)
            pieces = self._pieces(site, facts, window, [facts.main_meter])
            rows, checked_in = asked.result()
        items = [item for item, _ in rows]
        summary = {"checked_in": len(checked_in), **self._items(items, self._bench_hours(None, pieces))}
        kwh = energy_totals([piece.meters.get(facts.main_meter, MeterPiece()) for piece in pieces], facts.timezone).kwh
        finished = int(summary["finished"])
        return {
            "site": site,
            "from": iso(window.start_ms),
            "to": iso(window.end_ms),
            "timezone": facts.timezone,
            "items": summary,
            "energy": {
                "meter": facts.main_meter,
                "kwh": kwh,
                "kwh_per_item": kwh / finished if kwh is not None and finished else None,
            },
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

    def _site_totals(
        self,
        site: str,
        facts: SiteSettings,
        pieces: Sequence[Any],
        last_data_ms: int | None,
        summed: StoredSums | None = None,
    ) -> SiteTotals:
        """``pieces``: raw pieces, stored days' ``totals``, and ``SUMMED`` for a day that ``summed`` holds."""
        sums = ItemSums()
        staffed_s = 0.0
        kwh: float | None = None
        if summed is not None:
            sums.add(summed.items)
            staffed_s, kwh = summed.staffed_s, summed.kwh
        for piece in pieces:
            if piece is SUMMED:
                continue
            if isinstance(piece, SitePiece):
                items, seconds, piece_kwh = totals_of_piece(piece, facts.main_meter)
            else:
                items = ItemSums(**piece["items"])
                seconds = float(piece["staffed_s"])
                piece_kwh = piece["kwh"].get(facts.main_meter)
            sums.add(items)
            staffed_s += seconds
            if piece_kwh is not None:
                kwh = piece_kwh if kwh is None else kwh + piece_kwh
        return SiteTotals(
            site=site,
            items_final=sums.items_final,
            items_returned=sums.items_returned,
            kg_final=sums.kg_final,
            kg_returned=sums.kg_returned,
            kg_diverted=sums.kg_diverted,
            co2e_kg=sums.co2e_kg,
            bench_hours=staffed_s / 3600,
            kwh=kwh,
            last_data_ms=last_data_ms,
        )

    def _all_totals(self, sites: dict[str, SiteSettings], window: Range) -> list[SiteTotals]:
        """Every site's totals from one request for the stored days (InfluxDB sums them: ``sums_many``), a few
        for all raw pieces of all sites together (each round of their reads is one request), and one for the
        newest data. The three are asked side by side: the raw pieces are laid out as if every day a summary
        may serve had one (the usual case), and a site where the stored days say otherwise is laid out again
        and read after (``_raw_pieces``)."""
        plans = {name: self._plan(window, facts) for name, facts in sites.items()}
        with ThreadPoolExecutor(max_workers=2) as pool:
            stored_future = pool.submit(
                self._stored.sums_many, {name: (sites[name], plan.usable) for name, plan in plans.items()}
            )
            newest_future = pool.submit(self.q.last_data_by_site, list(sites), window.end_ms)
            guessed = {name: set(plan.usable) for name, plan in plans.items()}
            quarters = self._stored_quarters(sites, window, plans)
            pieces = self._raw_pieces(sites, window, plans, guessed, quarters)
            stored = stored_future.result()
            newest = newest_future.result()
        summed: dict[str, StoredSums | None] = {}
        days: dict[str, dict[int, Any]] = {}
        for name in sites:
            found = stored[name]
            if isinstance(found, StoredSums):
                summed[name], days[name] = found, dict.fromkeys(found.days, SUMMED)
            else:
                summed[name], days[name] = None, found
        wrong = {name: facts for name, facts in sites.items() if set(days[name]) != guessed[name]}
        if wrong:
            pieces.update(self._raw_pieces(wrong, window, plans, {name: set(days[name]) for name in wrong}, quarters))
        totals = []
        for name, facts in sites.items():
            layout = [days[name].get(piece, piece) if isinstance(piece, int) else piece for piece in pieces[name]]
            totals.append(self._site_totals(name, facts, layout, newest[name], summed[name]))
        return totals

    def _stored_quarters(
        self, sites: dict[str, SiteSettings], window: Range, plans: dict[str, Plan]
    ) -> dict[str, dict[int, MeterPiece]]:
        """The main meters' stored quarter hours of the days not settled yet (the raw pieces of a long range
        end there), all sites in one request."""
        now = now_ms()
        wanted = {
            name: (
                facts,
                Range(max(window.start_ms, unsettled_start(now, facts, SETTLE_MS)), min(window.end_ms, now)),
            )
            for name, facts in sites.items()
            if plans[name].per_minute
        }
        return self._quarters.read_many(wanted)

    def _raw_pieces(
        self,
        sites: dict[str, SiteSettings],
        window: Range,
        plans: dict[str, Plan],
        stored: dict[str, set[int]],
        quarters: dict[str, dict[int, MeterPiece]],
    ) -> dict[str, list[Any]]:
        """Each site's pieces in order when ``stored`` are its stored days: the raw ones computed (all sites'
        reads together, each main meter's raw minutes only after its stored quarter hours), a stored day as
        its local midnight (an ``int``) for the caller to fill in."""
        steps: list[Steps] = []
        layouts: dict[str, list[Any]] = {}
        for name, facts in sites.items():
            site_steps, layouts[name] = self._steps(
                name,
                facts,
                window,
                [facts.main_meter],
                plans[name],
                {day: day for day in stored[name]},
                None,
                False,
                kwh_only=True,
                quarters=quarters.get(name),
            )
            steps.extend(site_steps)
        built = iter(self._live.build_many(steps))
        return {name: [next(built) if piece is None else piece for piece in layout] for name, layout in layouts.items()}

    def compare(self, sites: dict[str, SiteSettings], window: Range) -> dict[str, Any]:
        totals = self._all_totals(sites, window)
        rows = compare_sites(totals, now_ms())
        return {
            "from": iso(window.start_ms),
            "to": iso(window.end_ms),
            "sites": [asdict(row) for row in rows],
            "totals": asdict(cluster_totals(totals)),
            "ranking": [asdict(rank) for rank in rank_sites(rows, {total.site: total.bench_hours for total in totals})],
        }
