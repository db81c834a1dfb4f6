"""The KPI read model's I/O: one site's piece of time computed from raw data, and the day summaries kept in
InfluxDB (``rollup.kpi_day``), written by the drainer's catch-up and read by the KPI API (docs/kpis.md).

A day summary is one point per site and local day, at local midnight: ``totals`` (JSON: what the cross-site
comparison adds up) and ``detail`` (JSON: the whole ``SitePiece``), with ``basis``, the site facts it was
computed with (time zone, opening hours, meters). A summary whose basis differs from today's configuration
is not used: that day is computed from raw data, like a range's partial edges.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from collector.influx import schema
from collector.influx.client import InfluxClient, InfluxQueryError
from collector.influx.connect import make_client
from collector.kpi.queries import KpiQueries, Range
from collector.points import point
from collector.settings import InfluxV1Settings, SiteSettings
from shopfloor.kpi.energy import MeterSample, segments
from shopfloor.kpi.pieces import (
    ItemSums,
    SitePiece,
    clip_segments,
    clip_sessions,
    item_energy_piece,
    item_sums,
    meter_piece,
)
from shopfloor.kpi.sessions import STAFFED_MAX_SILENCE_MS, Interval, clip, item_histories, staffed_intervals

KPI_DAY = "kpi_day"
# Bumped when a summary's content changes meaning: older summaries are then recomputed, not used.
SUMMARY_VERSION = 1
# Sessions that began before a piece still count inside it: its events are read this far back.
SESSION_LOOKBACK_MS = 86_400_000
MINUTE_MS = 60_000
# A day's summary is final once every event that can reach into it has come: the staffed-time rule looks
# up to 8 h past midnight, and the rollup's last minutes close shortly after.
SETTLE_MS = STAFFED_MAX_SILENCE_MS + 15 * MINUTE_MS


def local_midnights(start_ms: int, end_ms: int, timezone: str) -> list[int]:
    """Every local midnight in ``(start_ms, end_ms)``, in ms: where a range is cut into day pieces."""
    zone = ZoneInfo(timezone)
    day = datetime.fromtimestamp(start_ms / 1000, zone).date() + timedelta(days=1)
    cuts: list[int] = []
    while True:
        at = int(datetime.combine(day, datetime.min.time(), zone).timestamp() * 1000)
        if at >= end_ms:
            return cuts
        cuts.append(at)
        day += timedelta(days=1)


def day_bounds(at_ms: int, timezone: str) -> tuple[int, int]:
    """The local day holding ``at_ms``: its midnight and the next, in ms."""
    zone = ZoneInfo(timezone)
    day = datetime.fromtimestamp(at_ms / 1000, zone).date()
    start = datetime.combine(day, datetime.min.time(), zone)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def basis(facts: SiteSettings) -> str:
    """What a summary depends on besides the data: the KPIs of a summary with another basis differ."""
    text = json.dumps(
        [
            SUMMARY_VERSION,
            facts.timezone,
            facts.opening_hours,
            facts.main_meter,
            sorted(facts.bench_meters.items()),
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def now_ms() -> int:
    return int(time.time() * 1000)


class PieceBuilder:
    """Computes a ``SitePiece`` from raw data (the minute rollup for meters), the way the whole range would."""

    def __init__(self, queries: KpiQueries) -> None:
        self.q = queries

    def meter_segments(
        self,
        site: str,
        device: str,
        start_ms: int,
        end_ms: int,
        per_minute: bool,
        open_start: bool,
        open_end: bool,
    ) -> list[Any]:
        """Segments of ``device`` clipped to the piece. At a range's own edge (``open_*``) nothing beyond it is
        read, as for the whole range; at a midnight inside it, the neighbouring sample closes the segment."""
        shift = MINUTE_MS if per_minute else 0
        samples: list[MeterSample] = self.q.meter_samples(
            site,
            device,
            Range(start_ms - (0 if open_start else shift), end_ms - (0 if open_end else shift)),
            per_minute,
        )
        if not open_start:
            before = self.q.meter_neighbour(site, device, start_ms, True, per_minute)
            if before is not None:
                samples.insert(0, before)
        if not open_end:
            after = self.q.meter_neighbour(site, device, end_ms, False, per_minute)
            if after is not None:
                samples.append(after)
        lo = -(2**62) if open_start else start_ms
        hi = 2**62 if open_end else end_ms
        return clip_segments(segments(samples), lo, hi)

    def build(
        self,
        site: str,
        facts: SiteSettings,
        start_ms: int,
        end_ms: int,
        devices: Iterable[str],
        per_minute: bool,
        open_start: bool = False,
        open_end: bool = False,
        until_ms: int | None = None,
        station: str | None = None,
        events_until_ms: int | None = None,
    ) -> SitePiece:
        """One piece ``[start_ms, end_ms)``. ``open_*``: this side is the range's own edge. ``until_ms``: "now"
        for a session still running (default: the end of what can reach the piece)."""
        piece = SitePiece(start_ms, end_ms)
        hours = facts.hours()
        events_end = end_ms if open_end else end_ms + STAFFED_MAX_SILENCE_MS
        if events_until_ms is not None:
            events_end = min(events_end, events_until_ms)
        until = min(events_end if until_ms is None else until_ms, now_ms())
        events = self.q.station_events(site, Range(start_ms - SESSION_LOOKBACK_MS, events_end), station)
        by_station: dict[str, list[Any]] = {}
        for event in events:
            by_station.setdefault(event.station, []).append(event)
        window = Interval(start_ms, end_ms)
        sessions_by_station: dict[str, dict[str, list[Interval]]] = {}
        for name, station_events in by_station.items():
            staffed = clip(staffed_intervals(station_events, until), window)
            seconds = sum(span.seconds for span in staffed)
            if seconds:
                piece.staffed_s[name] = seconds
            sessions = {
                item: list(history.sessions)
                for item, history in item_histories(station_events, until).items()
                if history.sessions
            }
            clipped = clip_sessions(sessions, None if open_start else start_ms, None if open_end else end_ms)
            if clipped:
                sessions_by_station[name] = clipped
        wanted = {*devices}
        bench_of = {name: facts.bench_meter(name) for name in sessions_by_station}
        by_device = {
            device: self.meter_segments(site, device, start_ms, end_ms, per_minute, open_start, open_end)
            for device in sorted(wanted | set(bench_of.values()))
        }
        for device in sorted(wanted):
            # Already cut at the piece's inner sides; a range's own edge keeps its last segment whole, as before.
            piece.meters[device] = meter_piece(by_device[device], hours, facts.timezone)
        for name, sessions in sessions_by_station.items():
            piece.item_kwh[name] = item_energy_piece(by_device[bench_of[name]], sessions)
        finished = self.q.finished_items(site, Range(start_ms, end_ms), station)
        piece.items = item_sums(finished)
        per_station: dict[str, list[Any]] = {}
        for item in finished:
            per_station.setdefault(item.station, []).append(item)
        piece.station_items = {name: item_sums(items) for name, items in per_station.items()}
        return piece


class DaySummaries:
    """The stored day summaries of ``rollup.kpi_day``: written by the catch-up, read by the API."""

    def __init__(self, client: InfluxClient, writer: InfluxClient | None = None) -> None:
        """``writer``: a client whose writes go to the rollup retention policy (``for_settings`` makes one);
        without it, this object only reads."""
        self.client = client
        self.writer = writer
        self.q = KpiQueries(client)
        self.builder = PieceBuilder(self.q)

    @staticmethod
    def writer_for(settings: InfluxV1Settings) -> InfluxClient:
        return make_client(settings.model_copy(update={"retention_policy": schema.ROLLUP_RP}))

    def summarize(self, site: str, facts: SiteSettings, day_start_ms: int) -> SitePiece:
        """Compute one site's local day from raw data and store it (idempotent: same time, same point)."""
        start, end = day_bounds(day_start_ms, facts.timezone)
        devices = sorted({facts.main_meter, *self.q.devices(site)})
        piece = self.builder.build(site, facts, start, end, devices, per_minute=True, until_ms=end + SETTLE_MS)
        detail = piece.to_json()
        totals = {
            "items": detail["items"],
            "staffed_s": sum(piece.staffed_s.values()),
            "kwh": {name: meter.kwh if meter.has_data else None for name, meter in piece.meters.items()},
        }
        line = point(
            KPI_DAY,
            {"site": site},
            {
                **numeric_fields(piece, facts.main_meter),
                "basis": basis(facts),
                "computed_ms": now_ms(),
                "totals": json.dumps(totals, separators=(",", ":")),
                "detail": json.dumps(detail, separators=(",", ":")),
            },
            start * 1_000_000,
        )
        if self.writer is None:
            raise RuntimeError("DaySummaries was made without a writer")
        response = self.writer.write([line])
        if not response.ok:
            raise InfluxQueryError(f"cannot write the day summary of {site}: {response.text[:200]}")
        return piece

    def _read(self, fields: str, site: str, facts: SiteSettings, days: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Stored, current (same basis, settled) summaries of ``days`` (local midnights), by midnight."""
        if not days:
            return {}
        last_end = day_bounds(days[-1], facts.timezone)[1]
        statement = (
            f'SELECT basis, computed_ms, {fields} FROM "{schema.ROLLUP_RP}"."{KPI_DAY}" '
            f"WHERE site = '{site}' AND time >= {days[0]}ms AND time < {last_end}ms"
        )
        try:
            rows = self.q._rows(statement)
        except InfluxQueryError:
            return {}  # no rollup policy: every day from raw data
        wanted = set(days)
        expected = basis(facts)
        found: dict[int, dict[str, Any]] = {}
        for row in rows:
            at = int(row["time"])
            if at not in wanted or row.get("basis") != expected:
                continue
            if int(row.get("computed_ms") or 0) < day_bounds(at, facts.timezone)[1] + SETTLE_MS:
                continue  # computed before the day settled
            found[at] = row
        return found

    def details(self, site: str, facts: SiteSettings, days: Sequence[int]) -> dict[int, SitePiece]:
        return {
            at: SitePiece.from_json(json.loads(row["detail"]))
            for at, row in self._read("detail", site, facts, days).items()
        }

    def totals(self, site: str, facts: SiteSettings, days: Sequence[int]) -> dict[int, dict[str, Any]]:
        return {at: json.loads(row["totals"]) for at, row in self._read("totals", site, facts, days).items()}


def numeric_fields(piece: SitePiece, main_meter: str) -> dict[str, float | int]:
    """The day's totals as plain fields, for InfluxQL (a Grafana panel can sum them; it cannot read JSON)."""
    items = piece.items
    fields: dict[str, float | int] = {
        "items_final": items.items_final,
        "items_returned": items.items_returned,
        "kg_final": float(items.kg_final),
        "kg_returned": float(items.kg_returned),
        "kg_diverted": float(items.kg_diverted),
        "co2e_kg": float(items.co2e_kg),
        "staffed_h": sum(piece.staffed_s.values()) / 3600,
    }
    meter = piece.meters.get(main_meter)
    if meter is not None and meter.has_data:
        fields["main_kwh"] = meter.kwh
    return fields


def totals_of_piece(piece: SitePiece, main_meter: str) -> tuple[ItemSums, float, float | None]:
    """What the comparison adds up from a piece: item sums, staffed seconds, the main meter's kWh."""
    meter = piece.meters.get(main_meter)
    return piece.items, sum(piece.staffed_s.values()), (meter.kwh if meter is not None and meter.has_data else None)
