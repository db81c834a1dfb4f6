"""The KPI read model's I/O: one site's piece of time computed from raw data, and the day summaries kept in
InfluxDB (``rollup.kpi_day``), written by the drainer's catch-up and read by the KPI API (docs/kpis.md).

A day summary is one point per site and local day, at local midnight: ``totals`` (JSON: what the cross-site
comparison adds up), ``detail`` (JSON: the ``SitePiece`` but its meters) and one ``meter_<device>`` field per
meter (JSON: its ``MeterPiece``), with ``basis``, the site facts it was
computed with (time zone, opening hours, meters). A summary whose basis differs from today's configuration
is not used: that day is computed from raw data, like a range's partial edges.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from collector.influx import schema
from collector.influx.client import InfluxClient, InfluxQueryError, Series, rows_of
from collector.influx.connect import make_client
from collector.kpi import merge
from collector.kpi.merge import Select
from collector.kpi.queries import KpiQueries, Range, checked_id, samples_of
from collector.points import point
from collector.settings import InfluxV1Settings, SiteSettings
from shopfloor.kpi.energy import Segment
from shopfloor.kpi.pieces import (
    ItemSums,
    Served,
    SitePiece,
    item_energy_piece,
    item_sums,
    joined_kwh_piece,
    meter_kwh_piece,
    meter_piece,
)
from shopfloor.kpi.runs import MeterRun, Span, bench_devices, span_sessions, split_events, split_finished
from shopfloor.kpi.sessions import STAFFED_MAX_SILENCE_MS

KPI_DAY = "kpi_day"
# Bumped when a summary's content changes meaning or layout: older summaries are then recomputed, not used.
# 2: each meter's piece in a field of its own (``meter_field``), no longer inside ``detail``.
SUMMARY_VERSION = 2
# Sessions that began before a piece still count inside it: its events are read this far back.
SESSION_LOOKBACK_MS = 86_400_000
MINUTE_MS = 60_000
# A day's summary is final once every event that can reach into it has come: the staffed-time rule looks
# up to 8 h past midnight, and the rollup's last minutes close shortly after.
SETTLE_MS = STAFFED_MAX_SILENCE_MS + 15 * MINUTE_MS


def meter_field(device: str) -> str:
    """The field of a day summary that holds one meter's piece (JSON)."""
    return f"meter_{device}"


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


@functools.lru_cache(maxsize=65_536)
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


# One round of statements sent in one request, each with whether its refusal reads as "no rows" (a rollup
# statement, on a database without the rollup policy); and the answers of a round, in order. A run of
# pieces' reads ends with its pieces, oldest first.
Ask = list[tuple[str | Select, bool]]
Answers = list[list[Series]]
Steps = Generator[Ask, Answers, list[SitePiece]]


def ask(client: InfluxClient, statements: Sequence[tuple[str | Select, bool]]) -> Answers:
    """A round in one request, the same read of several sites or meters as one statement (``merge``); when a
    statement is refused, each one alone, as they were asked before."""
    sent = merge.plan(statements)
    try:
        answers = client.series_many([text for text, _, _ in sent], epoch="ms", packed=True)
        return merge.answers_of(statements, sent, answers)
    except InfluxQueryError:
        pass
    alone: Answers = []
    for statement, tolerant in statements:
        try:
            alone.append(client.series(merge.text_of(statement), epoch="ms"))
        except InfluxQueryError:
            if not tolerant:
                raise
            alone.append([])
    return alone


def run_steps(client: InfluxClient, runs: Sequence[Steps]) -> list[SitePiece]:
    """Drive several runs' reads in lockstep: each round of all of them is one request. Their pieces, in order."""
    results: dict[int, list[SitePiece]] = {}
    pending: dict[int, Ask] = {}
    for i, run in enumerate(runs):
        try:
            pending[i] = next(run)
        except StopIteration as done:
            results[i] = done.value
    while pending:
        order = list(pending)
        answers = ask(client, [statement for i in order for statement in pending[i]])
        following: dict[int, Ask] = {}
        offset = 0
        for i in order:
            part = answers[offset : offset + len(pending[i])]
            offset += len(pending[i])
            try:
                following[i] = runs[i].send(part)
            except StopIteration as done:
                results[i] = done.value
        pending = following
    return [piece for i in range(len(runs)) for piece in results[i]]


class MeterReads:
    """Some meters over one run of spans, in two rounds (``shopfloor.kpi.runs.MeterRun``): the rollup's rows
    of the whole run and its two neighbours, then the raw minutes the rollup lacks. A round asks the same few
    statements per meter however many spans the run has."""

    def __init__(self, site: str, devices: Iterable[str], spans: Sequence[Span], per_minute: bool) -> None:
        self.site, self.per_minute = site, per_minute
        self.runs = {device: MeterRun(spans, per_minute) for device in devices}
        self._asked: dict[str, int] = {}  # statements each meter asked in the last round

    def _parts(self, answers: Answers) -> Generator[tuple[str, MeterRun, Answers], None, None]:
        offset = 0
        for device, run in self.runs.items():
            count = self._asked.get(device, 0)
            yield device, run, answers[offset : offset + count]
            offset += count

    def first(self) -> Ask:
        asked: Ask = []
        for device, run in self.runs.items():
            statements = [
                KpiQueries.samples_select(self.site, device, Range(run.read_start, run.read_end), self.per_minute)
            ]
            for wanted, at, before in ((run.needs_before, run.before_at, True), (run.needs_after, run.after_at, False)):
                if wanted:
                    statements.append(KpiQueries.neighbour_select(self.site, device, at, before, self.per_minute))
            self._asked[device] = len(statements)
            asked.extend((text, self.per_minute) for text in statements)
        return asked

    def second(self, answers: Answers) -> Ask:
        follow: Ask = []
        for device, run, part in list(self._parts(answers)):
            rows, *sides = (samples_of(answer, run.shift) for answer in part)
            found = iter(side[0] if side else None for side in sides)
            before = next(found) if run.needs_before else None
            after = next(found) if run.needs_after else None
            statements = []
            for start, end in run.missing(rows, before, after):
                assert end - start > MINUTE_MS  # as head_statement asks it: a shorter range lacks nothing
                statements.append(KpiQueries.minutes_select(self.site, device, Range(start, end)))
            self._asked[device] = len(statements)
            follow.extend((text, False) for text in statements)
        return follow

    def segments(self, answers: Answers) -> dict[str, list[list[Segment]]]:
        """Each meter's segments per span of the run."""
        return {
            device: run.segments([samples_of(answer, MINUTE_MS) for answer in part])
            for device, run, part in list(self._parts(answers))
        }


class PieceBuilder:
    """Computes ``SitePiece``s from raw data (the minute rollup for meters), the way the whole range would.

    A run of consecutive pieces is read as one stretch (``run_steps``) and split in Python
    (``shopfloor.kpi.runs``): its reads go in at most three rounds of a few statements, however many days
    it holds, and ``build_many`` sends the rounds of several runs (of several sites) together, so a call's
    requests grow neither with its raw days nor with its sites."""

    def __init__(self, queries: KpiQueries) -> None:
        self.q = queries

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
        item_energy: bool = True,
    ) -> SitePiece:
        """One piece ``[start_ms, end_ms)``. ``open_*``: this side is the range's own edge. ``until_ms``: "now"
        for a session still running (default: the end of what can reach the piece). ``item_energy``: also
        each item's bench kWh (reads the bench meters); the comparison needs none."""
        steps = self.steps(
            site,
            facts,
            start_ms,
            end_ms,
            devices,
            per_minute,
            open_start,
            open_end,
            until_ms,
            station,
            events_until_ms,
            item_energy,
        )
        return self.build_many([steps])[0]

    def steps(
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
        item_energy: bool = True,
    ) -> Steps:
        """``build``'s reads as rounds of statements: a run of one piece (see ``run_steps``)."""
        span = self.span(start_ms, end_ms, open_start, open_end, events_until_ms)
        return self.run_steps(site, facts, [span], devices, per_minute, until_ms, station, item_energy)

    def build_many(self, runs: Sequence[Steps]) -> list[SitePiece]:
        """The pieces of several runs, in order."""
        return run_steps(self.q.client, runs)

    @staticmethod
    def span(start_ms: int, end_ms: int, open_start: bool, open_end: bool, events_until_ms: int | None) -> Span:
        """A piece of a run; its events reach ``STAFFED_MAX_SILENCE_MS`` past an inner end (staffed time)."""
        events_end = end_ms if open_end else end_ms + STAFFED_MAX_SILENCE_MS
        if events_until_ms is not None:
            events_end = min(events_end, events_until_ms)
        return Span(start_ms, end_ms, open_start, open_end, events_end)

    def run_steps(
        self,
        site: str,
        facts: SiteSettings,
        spans: Sequence[Span],
        devices: Iterable[str],
        per_minute: bool,
        until_ms: int | None = None,
        station: str | None = None,
        item_energy: bool = True,
        until_past_end_ms: int | None = None,
        kwh_only: bool = False,
        stored_energy: Mapping[int, Served] | None = None,
    ) -> Steps:
        """The reads of consecutive ``spans`` (oldest first) as rounds of statements (see ``run_steps``):
        events once (one lookback), finished items once, each meter once; each span then gets what its own
        read would have returned, so its piece is the one ``build`` gives for it alone. ``until_past_end_ms``:
        each span's "now" for a running session is this long past its end (a day summary's settle time).
        ``kwh_only``: each meter's piece has its energy terms only (``meter_kwh_piece``: the comparison's).
        ``stored_energy``: with ``kwh_only``, for a span (by its start) the main meter's terms from stored quarter
        hours (``collector.kpi.quarters``) up to a time: its raw minutes are read only after it."""
        hours = facts.hours()
        wanted = sorted({*devices})
        served = dict(stored_energy or {})
        if served and (not kwh_only or wanted != [facts.main_meter]):
            raise ValueError("stored quarter hours serve only the main meter's kWh terms (kwh_only)")
        # The spans whose meters are read raw: a span's rest after its stored quarters, or all of it.
        stored = [None if span.open_start else served.get(span.start_ms) for span in spans]
        meter_spans: list[Span] = []
        meter_index: list[int | None] = []
        for span, got in zip(spans, stored, strict=True):
            if got is not None and got.until_ms >= span.end_ms:
                meter_index.append(None)
                continue
            meter_index.append(len(meter_spans))
            if got is None:
                meter_spans.append(span)
            else:
                meter_spans.append(Span(got.until_ms, span.end_ms, False, span.open_end, span.events_end_ms))
        reads = MeterReads(site, wanted if meter_spans else [], meter_spans, per_minute)
        events_range = Range(spans[0].start_ms - SESSION_LOOKBACK_MS, max(span.events_end_ms for span in spans))
        first: Ask = [
            (KpiQueries.events_select(site, events_range, station), False),
            (KpiQueries.finished_select(site, Range(spans[0].start_ms, spans[-1].end_ms), station), False),
            *reads.first(),
        ]
        answers = yield first
        events = split_events(KpiQueries.events_of(answers[0]), spans, SESSION_LOOKBACK_MS)
        finished = split_finished([item for item, _ in KpiQueries.finished_of(site, answers[1])], spans)
        follow = reads.second(answers[2:])
        now = now_ms()

        def until_of(span: Span) -> int:
            if until_past_end_ms is not None:
                return min(span.end_ms + until_past_end_ms, now)
            return min(span.events_end_ms if until_ms is None else until_ms, now)

        found = [span_sessions(span, own, until_of(span), item_energy) for span, own in zip(spans, events, strict=True)]
        bench_of = {name: facts.bench_meter(name) for one in found for name in one.sessions}
        benches = MeterReads(site, sorted(bench_devices(found, bench_of) - set(wanted)), spans, per_minute)
        second = [*follow, *benches.first()]
        answers = (yield second) if second else []
        by_device = reads.segments(answers[: len(follow)])
        third = benches.second(answers[len(follow) :])
        answers = (yield third) if third else []
        by_device.update(benches.segments(answers))
        pieces: list[SitePiece] = []
        for i, span in enumerate(spans):
            piece = SitePiece(span.start_ms, span.end_ms)
            piece.staffed_s = found[i].staffed_s
            at, got = meter_index[i], stored[i]
            for device in wanted:
                # Already cut at the piece's inner sides; a range's own edge keeps its last segment whole.
                segs = [] if at is None else by_device[device][at]
                if kwh_only:
                    meter = meter_kwh_piece(segs, facts.timezone)
                    piece.meters[device] = meter if got is None else joined_kwh_piece([got.meter, meter])
                else:
                    piece.meters[device] = meter_piece(segs, hours, facts.timezone)
            for name, sessions in found[i].sessions.items():
                piece.item_kwh[name] = item_energy_piece(by_device[bench_of[name]][i], sessions)
            piece.items = item_sums(finished[i])
            per_station: dict[str, list[Any]] = {}
            for item in finished[i]:
                per_station.setdefault(item.station, []).append(item)
            piece.station_items = {name: item_sums(items) for name, items in per_station.items()}
            pieces.append(piece)
        return pieces


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
        devices = sorted({facts.main_meter, *self.q.devices(site)})
        return self._summarize_run(site, facts, devices, [day_bounds(day_start_ms, facts.timezone)[0]])[0]

    def summarize_days(self, site: str, facts: SiteSettings, days: Iterable[int], chunk_days: int = 31) -> int:
        """Compute and store the summaries of ``days`` (local midnights): consecutive days are read as one run
        (``PieceBuilder.run_steps``), ``chunk_days`` at a time, each chunk in one write. The number stored."""
        devices = sorted({facts.main_meter, *self.q.devices(site)})
        chunk: list[int] = []
        stored = 0
        for day in sorted({day_bounds(day, facts.timezone)[0] for day in days}):
            if chunk and (len(chunk) >= chunk_days or day_bounds(chunk[-1], facts.timezone)[1] != day):
                stored += len(self._summarize_run(site, facts, devices, chunk))
                chunk = []
            chunk.append(day)
        if chunk:
            stored += len(self._summarize_run(site, facts, devices, chunk))
        return stored

    def _summarize_run(self, site: str, facts: SiteSettings, devices: list[str], days: list[int]) -> list[SitePiece]:
        """Consecutive local days, each as ``build`` computes it alone, stored in one write."""
        spans = [PieceBuilder.span(day, day_bounds(day, facts.timezone)[1], False, False, None) for day in days]
        steps = self.builder.run_steps(site, facts, spans, devices, per_minute=True, until_past_end_ms=SETTLE_MS)
        pieces = self.builder.build_many([steps])
        if self.writer is None:
            raise RuntimeError("DaySummaries was made without a writer")
        response = self.writer.write([self._line(site, facts, piece) for piece in pieces])
        if not response.ok:
            raise InfluxQueryError(f"cannot write the day summaries of {site}: {response.text[:200]}")
        return pieces

    @staticmethod
    def _line(site: str, facts: SiteSettings, piece: SitePiece) -> str:
        detail = piece.to_json()
        meters = detail.pop("meters")
        totals = {
            "items": detail["items"],
            "staffed_s": sum(piece.staffed_s.values()),
            "kwh": {name: meter.kwh if meter.has_data else None for name, meter in piece.meters.items()},
        }
        return point(
            KPI_DAY,
            {"site": site},
            {
                **numeric_fields(piece, facts.main_meter),
                "basis": basis(facts),
                "computed_ms": now_ms(),
                "totals": json.dumps(totals, separators=(",", ":")),
                "detail": json.dumps(detail, separators=(",", ":")),
                # Each meter's piece in a field of its own: a site's KPIs read only its main meter's, not the
                # bench meters' (half of a day's detail), and a station's only its bench meter's.
                **{meter_field(name): json.dumps(meter, separators=(",", ":")) for name, meter in meters.items()},
            },
            piece.start_ms * 1_000_000,
        )

    @staticmethod
    def _statement(fields: str, site: str, facts: SiteSettings, days: Sequence[int]) -> str:
        last_end = day_bounds(days[-1], facts.timezone)[1]
        return (
            f'SELECT basis, computed_ms, {fields} FROM "{schema.ROLLUP_RP}"."{KPI_DAY}" '
            f"WHERE site = '{site}' AND time >= {days[0]}ms AND time < {last_end}ms"
        )

    @staticmethod
    def _current(rows: list[dict[str, Any]], facts: SiteSettings, days: Sequence[int]) -> dict[int, dict[str, Any]]:
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

    def _read(self, fields: str, site: str, facts: SiteSettings, days: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Stored, current (same basis, settled) summaries of ``days`` (local midnights), by midnight."""
        if not days:
            return {}
        # Tolerant: without the rollup policy, no rows (every day from raw data). Packed: a year of details is
        # a long answer, which influxd writes faster as MessagePack.
        [answer] = ask(self.client, [(self._statement(fields, site, facts, days), True)])
        return self._current(rows_of(answer), facts, days)

    def details(
        self, site: str, facts: SiteSettings, days: Sequence[int], devices: Sequence[str]
    ) -> dict[int, SitePiece]:
        """The stored pieces of ``days``, with the meter pieces of ``devices`` only."""
        names = [meter_field(checked_id(device)) for device in devices]
        fields = ", ".join(["detail", *(f'"{name}"' for name in names)])
        found: dict[int, SitePiece] = {}
        for at, row in self._read(fields, site, facts, days).items():
            # orjson: a year of details is 365 parses, 3-4x faster than the json module's.
            detail = orjson.loads(row["detail"])
            detail["meters"] = {
                device: orjson.loads(row[name])
                for device, name in zip(devices, names, strict=True)
                if row.get(name) is not None
            }
            found[at] = SitePiece.from_json(detail)
        return found

    def totals(self, site: str, facts: SiteSettings, days: Sequence[int]) -> dict[int, dict[str, Any]]:
        return {at: json.loads(row["totals"]) for at, row in self._read("totals", site, facts, days).items()}

    def totals_many(
        self, wanted: dict[str, tuple[SiteSettings, Sequence[int]]]
    ) -> dict[str, dict[int, dict[str, Any]]]:
        """``totals`` of several sites (site -> its facts and days) in one request."""
        asked = [(site, facts, days) for site, (facts, days) in wanted.items() if days]
        found: dict[str, dict[int, dict[str, Any]]] = {site: {} for site in wanted}
        if not asked:
            return found
        statements = [(self._statement("totals", site, facts, days), True) for site, facts, days in asked]
        for (site, facts, days), answer in zip(asked, ask(self.client, statements), strict=True):
            rows = self._current(rows_of(answer), facts, days)
            found[site] = {at: json.loads(row["totals"]) for at, row in rows.items()}
        return found

    def sums_many(
        self, wanted: dict[str, tuple[SiteSettings, Sequence[int]]]
    ) -> dict[str, StoredSums | dict[int, dict[str, Any]]]:
        """What the comparison adds up over the stored days of several sites (site -> its facts and days),
        summed by InfluxDB: per site, ``sum()`` of the numeric fields over the summaries of the current basis,
        and a listing of those summaries' ``computed_ms`` that proves each one summed current (settled), as
        ``_current`` would. One request for every site, a few small answers instead of a JSON per day.

        A site where the listing finds a summary that is not current (computed before its day settled, or
        without the numeric fields) gets ``totals_many``'s answer instead: its current days one by one."""
        asked = [(site, facts, days) for site, (facts, days) in wanted.items() if days]
        found: dict[str, StoredSums | dict[int, dict[str, Any]]] = {site: StoredSums(frozenset()) for site in wanted}
        if not asked:
            return found
        statements: Ask = []
        for site, facts, days in asked:
            statements.extend((text, True) for text in self._sums_statements(site, facts, days))
        answers = ask(self.client, statements)
        unsure: dict[str, tuple[SiteSettings, Sequence[int]]] = {}
        for k, (site, facts, days) in enumerate(asked):
            sums = self._sums_of(answers[2 * k], answers[2 * k + 1], facts, days)
            if sums is None:
                unsure[site] = (facts, days)
            else:
                found[site] = sums
        if unsure:
            found.update(self.totals_many(unsure))
        return found

    @staticmethod
    def _sums_statements(site: str, facts: SiteSettings, days: Sequence[int]) -> tuple[Select, Select]:
        """The listing of the current basis's summaries in ``days``, and their sums."""
        last_end = day_bounds(days[-1], facts.timezone)[1]
        window = Range(days[0], last_end)
        tags = (("site", checked_id(site)),)
        where = f"basis = '{basis(facts)}' AND {window.where()}"
        source = f'FROM "{schema.ROLLUP_RP}"."{KPI_DAY}"'
        sums = ", ".join(f"sum({name}) AS {name}" for name in SUMMED_FIELDS)
        return (
            Select(f"SELECT computed_ms {source}", tags, where),
            Select(f"SELECT {sums}, count(items_final) AS summaries {source}", tags, where),
        )

    @staticmethod
    def _sums_of(
        listing: list[Series], summed: list[Series], facts: SiteSettings, days: Sequence[int]
    ) -> StoredSums | None:
        """The sums, when every summary summed is current; None when one is not (or has no numeric fields)."""
        wanted = set(days)
        current: set[int] = set()
        for one in listing:
            at_column, computed_column = one.columns.index("time"), one.columns.index("computed_ms")
            for values in one.values:
                at, computed = int(values[at_column]), values[computed_column]
                if at not in wanted or int(computed or 0) < day_bounds(at, facts.timezone)[1] + SETTLE_MS:
                    return None
                current.add(at)
        if not current:
            return StoredSums(frozenset())
        rows = rows_of(summed)
        if len(rows) != 1 or rows[0].get("summaries") != len(current):
            return None
        row = rows[0]
        if any(row.get(name) is None for name in SUMMED_FIELDS if name != "main_kwh"):
            return None
        items = ItemSums(
            int(row["items_final"]),
            int(row["items_returned"]),
            float(row["kg_final"]),
            float(row["kg_returned"]),
            float(row["kg_diverted"]),
            float(row["co2e_kg"]),
        )
        kwh = row.get("main_kwh")
        return StoredSums(
            frozenset(current), items, float(row["staffed_h"]) * 3600, None if kwh is None else float(kwh)
        )


# The numeric fields of a day summary that the comparison adds up (``numeric_fields``).
SUMMED_FIELDS = (
    "items_final",
    "items_returned",
    "kg_final",
    "kg_returned",
    "kg_diverted",
    "co2e_kg",
    "staffed_h",
    "main_kwh",
)


@dataclass(frozen=True, slots=True)
class StoredSums:
    """The comparison's terms over a site's stored days, summed by InfluxDB, and the days they cover."""

    days: frozenset[int]
    items: ItemSums = field(default_factory=ItemSums)
    staffed_s: float = 0.0
    kwh: float | None = None  # the main meter's; None when no day had its data


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
