"""Cost of the KPI API's answers for long ranges, against fetching the data they read, in the same run.

A real influxd on a free loopback port gets ``--days`` of simulated workshops (``shopfloor simulate``'s
sites: minute readings of every meter, repair events), written as the collector writes them, with the
one-minute rollup filled as ``init-db`` and the catch-up fill it. Then, best of ``--repeat``:

* baseline: one plain HTTP query per meter for the minute series a site's answer reads (JSON parsed);
* ``GET /api/sites/{site}/kpis`` for the whole range (``KpiReport.kpis``), per site;
* ``GET /api/compare`` over all sites (``KpiReport.compare``), against the sum of the sites' main meters.

Run: .venv/bin/python bench/kpi_api.py [--days 30] [--sites 3] [--repeat 3]

``--growth``: the read model's scale series (docs/performance.md#kpi-read-model). Days 7/30/90/365 x sites
3/10/20 need a year of 20 workshops, which the simulator cannot write in a bench's time, so it is made in
bulk as line protocol: the simulator's three workshops for their last three days (minute readings, events),
copied under 20 site ids, written and summarized as the collector's catch-up does; every older day is a copy
of one of those days' summary and ``finished`` points, shifted in time. So each day holds what a real day
stores, and the range's edges are real raw data. Each call is timed ``--calls`` times in each of
``--repeat`` rounds: the best round's median, and the p95 over all calls.
Run: .venv/bin/python bench/kpi_api.py --growth [--targets] [--profile]
(``--targets``: only the rows of issue 15's two targets, printed with target and met at the end.)
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import re
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.table import CpuSteal, Row, emit  # noqa: E402
from collector.drain.kpi_quarters import QuarterCatchUp  # noqa: E402
from collector.drain.rollup import rebuild_rollup  # noqa: E402
from collector.influx.client import InfluxClient, Series  # noqa: E402
from collector.influx.connect import make_client  # noqa: E402
from collector.influx.init_db import init_v1  # noqa: E402
from collector.ingest.pipeline import decode_points  # noqa: E402
from collector.kpi import report as report_module  # noqa: E402
from collector.kpi import summaries as summaries_module  # noqa: E402
from collector.kpi.quarters import KPI_QUARTER, QuarterSummaries  # noqa: E402
from collector.kpi.queries import KpiQueries, Range  # noqa: E402
from collector.kpi.report import KpiReport  # noqa: E402
from collector.kpi.summaries import KPI_DAY, SETTLE_MS, DaySummaries, day_bounds  # noqa: E402
from collector.points import point  # noqa: E402
from collector.settings import InfluxV1Settings, SiteSettings  # noqa: E402
from shopfloor.contract import parse_topic  # noqa: E402
from shopfloor.kpi.rates import Bucket  # noqa: E402
from simulator.main import build_sites  # noqa: E402
from simulator.services import Influxd  # noqa: E402
from simulator.settings import SimulateSettings  # noqa: E402
from tests.harness.influx import CountingClient  # noqa: E402

DAY_MS = 86_400_000
MINUTE_MS = 60_000


def best_of(repeat: int, call: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def fetch(url: str, database: str, statement: str) -> int:
    """The baseline's one query: plain HTTP, uncompressed, JSON parsed; returns the rows."""
    body = urllib.parse.urlencode({"q": statement, "db": database, "epoch": "ms"}).encode()
    request = urllib.request.Request(f"{url}/query", data=body, headers={"Accept-Encoding": "identity"})
    with urllib.request.urlopen(request, timeout=60) as response:
        result = json.loads(response.read())["results"][0]
    return sum(len(series["values"]) for series in result.get("series", []))


def minute_series(site: str, device: str, window: Range) -> str:
    return (
        'SELECT power, energy_import FROM "rollup"."meter_1m" '
        f"WHERE site = '{site}' AND device = '{device}' AND {window.where()}"
    )


BENCH = "kpi_api"
# A day summary's numeric fields (collector.kpi.summaries.numeric_fields), copied with the rest; not imported, so
# that this bench also runs on a tree from before them, for a before/after in one session.
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
GROWTH_DAYS = (7, 30, 90, 365)
# Issue 15's targets, p95 in ms: (call, sites, days) -> the most it may take.
TARGETS_MS = {("site kpis", 1, 30): 150.0, ("compare", 20, 365): 500.0}
GROWTH_SITES = (3, 10, 20)
TZ = "Europe/Brussels"


def timed(calls: int, repeat: int, call: Callable[[], object]) -> tuple[float, float, float]:
    """Best round's median, the p95 over every call, and the best round's median CPU time of this process
    (the call's own Python work, less sensitive to other processes' load than the wall time), in seconds."""
    rounds: list[list[float]] = []
    cpu_rounds: list[list[float]] = []
    for _ in range(repeat):
        times, cpu = [], []
        for _ in range(calls):
            started, cpu_started = time.perf_counter(), time.process_time()
            call()
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
        rounds.append(sorted(times))
        cpu_rounds.append(sorted(cpu))
    every = sorted(t for one in rounds for t in one)
    best = min(one[len(one) // 2] for one in rounds)
    return best, every[min(len(every) - 1, int(0.95 * len(every)))], min(one[len(one) // 2] for one in cpu_rounds)


def _shift_line(line: str, shift_ns: int) -> str:
    head, _, stamp = line.rpartition(" ")
    return f"{head} {int(stamp) + shift_ns}"


class RecordingClient(CountingClient):
    """Counts like ``CountingClient`` and keeps each request's statements, in order."""

    def __init__(self, inner: InfluxClient) -> None:
        super().__init__(inner)
        self.asked: list[list[str]] = []

    def series(self, statement: str, epoch: str | None = None) -> list[Series]:
        self.asked.append([statement])
        return super().series(statement, epoch)

    def series_many(
        self, statements: Sequence[str], epoch: str | None = None, packed: bool = False
    ) -> list[list[Series]]:
        self.asked.append(list(statements))
        return super().series_many(statements, epoch, packed)


def _kind(statement: str) -> str:
    """A statement's kind, for the per-kind sums: what it reads."""
    text = re.sub(r"'[^']*'", "'…'", statement)
    text = re.sub(r"\d{6,}ms", "T", text)
    text = re.sub(r"/\^\([^)]*\)\$/", "/…/", text)
    return text if len(text) <= 150 else text[:147] + "..."


def explain(
    writer: InfluxClient, report: KpiReport, counted: CountingClient, sites: dict[str, SiteSettings], now: int
) -> int:
    """``--statements``: compare of every site over 365 days, then each of its statements timed alone against
    the same influxd (best of 3, one request each), summed by kind, and the slowest listed."""
    window = Range(now - 365 * DAY_MS, now)
    recording = RecordingClient(writer)
    probe = KpiReport(KpiQueries(recording))
    probe.compare(sites, window)
    requests = [list(one) for one in recording.asked]
    statements = [text for one in requests for text in one]
    print(f"compare, {len(sites)} sites x 365 days: {len(requests)} requests, {len(statements)} statements")
    for i, one in enumerate(requests):
        took = best_of(3, lambda one=one: writer.series_many(one, epoch="ms"))
        packed = best_of(3, lambda one=one: writer.series_many(one, epoch="ms", packed=True))
        print(
            f"  request {i + 1}: {len(one):4} statements, as sent (best of 3): {took * 1000:8.1f} ms with JSON "
            f"answers, {packed * 1000:8.1f} ms with MessagePack"
        )
    alone: list[tuple[float, str]] = []
    for text in statements:
        alone.append((best_of(3, lambda text=text: writer.series(text, epoch="ms")), text))
    total = sum(took for took, _ in alone)
    print(f"every statement alone, one request each: {total * 1000:.1f} ms in all")
    kinds: dict[str, list[float]] = {}
    for took, text in alone:
        kinds.setdefault(_kind(text), []).append(took)
    print(f"{'ms':>8} {'count':>5} {'mean ms':>8}  kind")
    for kind, times in sorted(kinds.items(), key=lambda item: -sum(item[1])):
        print(f"{sum(times) * 1000:8.1f} {len(times):5} {sum(times) / len(times) * 1000:8.2f}  {kind}")
    print("slowest statements:")
    for took, text in sorted(alone, reverse=True)[:12]:
        print(f"{took * 1000:8.1f}  {text[:400]}")
    return 0


def latest_local(now_ms: int, hh_mm: str) -> int:
    """The latest moment at or before ``now_ms`` that is ``hh_mm`` on a clock in ``TZ``."""
    hour, minute = (int(part) for part in hh_mm.split(":"))
    local = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(TZ))
    at = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at > local:
        at = (at - timedelta(days=1)).replace(hour=hour, minute=minute)
    return int(at.timestamp() * 1000)


def growth(args: argparse.Namespace) -> int:
    steal = CpuSteal()
    with tempfile.TemporaryDirectory(prefix="kpi-growth-") as tmp:
        influxd = Influxd(Path(tmp) / "influxd").start()
        try:
            # The rollup of a day of 20 sites is one long query on a loaded 2-core machine.
            settings = InfluxV1Settings(url=influxd.url, database="shopfloor", timeout_s=300)
            init_v1(settings)
            now = int(time.time() * 1000) // MINUTE_MS * MINUTE_MS
            if args.at is not None:
                now = latest_local(now, args.at)
                # The report's clock, as if it were that time: nothing is stored after it.
                for module in (report_module, summaries_module):
                    module.now_ms = lambda: now  # type: ignore[attr-defined]
            n_sites, n_days = max(GROWTH_SITES), max(GROWTH_DAYS)
            # Three simulated workshops for the last days; the other sites are copies of them under their own ids.
            simulated = build_sites(SimulateSettings(sites=3, epoch_days=5, live=False), now)
            writer = make_client(settings)
            rollup_writer = DaySummaries.writer_for(settings)
            summaries = DaySummaries(writer, rollup_writer)
            ids = [f"{simulated[k % 3].spec.id}-{k}" for k in range(n_sites)]
            facts = {
                ids[k]: SiteSettings(
                    main_meter=simulated[k % 3].spec.main_meter_id,
                    timezone=TZ,
                    opening_hours=simulated[k % 3].spec.opening_hours_spec,
                    capacity_limit_kw=simulated[k % 3].spec.capacity_limit_kw,
                )
                for k in range(n_sites)
            }
            prepared = time.perf_counter()
            today = day_bounds(now, TZ)[0]
            real_start = day_bounds(today - 3 * DAY_MS, TZ)[0]  # two settled days, and yesterday
            written = 0
            raw: list[list[str]] = []
            for site in simulated:
                lines: list[str] = []
                for topic, payload in site.history(real_start, now, MINUTE_MS):
                    decoded, reason = decode_points(parse_topic(topic), payload)
                    assert decoded is not None, reason
                    lines.extend(decoded.lines)
                raw.append(lines)
            templates: dict[str, list[tuple[int, list[str]]]] = {}
            for k, site_id in enumerate(ids):
                tag = re.compile(rf",site={re.escape(simulated[k % 3].spec.id)}(?=[, ])")
                lines = [tag.sub(f",site={site_id}", line) for line in raw[k % 3]]
                for i in range(0, len(lines), 10_000):
                    assert writer.write(lines[i : i + 10_000]).ok
                written += len(lines)
                templates[site_id] = [
                    (
                        day,
                        [
                            line
                            for line in lines
                            if line.startswith("repair_event")
                            and "type=finished" in line
                            and day * 1_000_000 <= int(line.rpartition(" ")[2]) < (day + DAY_MS) * 1_000_000
                        ],
                    )
                    for day in (real_start, day_bounds(real_start + DAY_MS + 3_600_000, TZ)[0])
                ]
            rebuild_rollup(settings, 4, now * 1_000_000)
            # As the collector's catch-up keeps them: yesterday's summary once it settled (08:15), and the
            # quarter-hour energy of the days that have not (collector/drain/kpi_quarters.py).
            yesterday = day_bounds(today - 1, TZ)[0]
            if day_bounds(yesterday, TZ)[1] + SETTLE_MS <= now:
                for site_id in ids:
                    summaries.summarize(site_id, facts[site_id], yesterday)
            if args.quarters:
                quarters = QuarterCatchUp(QuarterSummaries(writer, rollup_writer), facts.__getitem__)
                quarters.note_written(ids, [], now)
                quarters.run_one(now)
            copies: list[str] = []
            summary_rows: list[str] = []
            for site_id in ids:
                spec_facts = facts[site_id]
                stored = []
                for day, _ in templates[site_id]:
                    day = day_bounds(day, TZ)[0]
                    if day_bounds(day, TZ)[1] + SETTLE_MS <= now:
                        summaries.summarize(site_id, spec_facts, day)
                    row = writer.query(
                        f'SELECT * FROM "rollup"."{KPI_DAY}" WHERE site = \'{site_id}\' AND time = {day}ms',
                        epoch="ms",
                    )
                    stored.append((day, row[0]))
                older = day_bounds(real_start - 1, TZ)[0]
                i = 0
                while older > now - (n_days + 2) * DAY_MS:
                    day, row = stored[i % len(stored)]
                    shift = older - day
                    detail = json.loads(row["detail"])
                    detail["start_ms"] += shift
                    detail["end_ms"] += shift
                    meters: dict[str, str] = {}
                    for name, text in row.items():
                        if not name.startswith("meter_") or text is None:
                            continue
                        meter = json.loads(text)
                        if meter["peak_slot_ms"] is not None:
                            meter["peak_slot_ms"] += shift
                        meters[name] = json.dumps(meter, separators=(",", ":"))
                    summary_rows.append(
                        point(
                            KPI_DAY,
                            {"site": site_id},
                            {
                                # The numeric fields, with their types (InfluxDB's JSON writes 2.0 as 2).
                                **{
                                    name: int(row[name]) if name.startswith("items_") else float(row[name])
                                    for name in SUMMED_FIELDS
                                    if row.get(name) is not None
                                },
                                "basis": row["basis"],
                                "computed_ms": int(row["computed_ms"]),
                                "totals": row["totals"],
                                "detail": json.dumps(detail, separators=(",", ":")),
                                **meters,
                            },
                            older * 1_000_000,
                        )
                    )
                    copies.extend(_shift_line(line, shift * 1_000_000) for line in templates[site_id][i % 2][1])
                    older = day_bounds(older - 1, TZ)[0]
                    i += 1
            for i in range(0, len(copies), 10_000):
                assert writer.write(copies[i : i + 10_000]).ok
            for i in range(0, len(summary_rows), 500):
                assert rollup_writer.write(summary_rows[i : i + 500]).ok
            took = time.perf_counter() - prepared
            print(
                f"data: {written} raw points (3 real days x {n_sites} sites), {len(summary_rows)} copied day "
                f"summaries and {len(copies)} copied finished points, written in {took:.0f} s"
            )
            # As `shopfloor collector run` does once it has started (collector/service.py): what exists now lives
            # on, so full collections stop scanning it (here the setup's data, which a collector does not even hold).
            gc.collect()
            gc.freeze()
            counted = CountingClient(writer)
            report = KpiReport(KpiQueries(counted))
            print(f"best-round median and p95 of {args.calls} calls x {args.repeat} rounds, milliseconds;")
            print("requests and statements: InfluxDB /query requests and InfluxQL statements of one call;")
            print("cpu ms: this process's CPU time of a call (best-round median), InfluxDB's own not counted")
            print(
                f"{'call':34} {'days':>5} {'sites':>5} {'median':>8} {'p95':>8} {'x 30 d':>7} "
                f"{'requests':>8} {'statements':>10} {'influx ms':>9} {'cpu ms':>8}"
            )
            first = ids[0]

            def ask(name: str, window: Range, chosen: dict[str, SiteSettings]) -> object:
                if name == "site kpis":
                    return report.kpis(first, facts[first], window, Bucket.DAY)
                return report.compare(chosen, window)

            if args.statements:
                return explain(writer, report, counted, {site_id: facts[site_id] for site_id in ids}, now)
            if args.profile:
                everyone = {site_id: facts[site_id] for site_id in ids}
                for name, chosen, days in (("site kpis", {}, 30), ("site kpis", {}, 365), ("compare", everyone, 365)):
                    window = Range(now - days * DAY_MS, now)
                    profiler = cProfile.Profile()
                    profiler.runcall(ask, name, window, chosen)
                    print(f"--- {name}, {days} days, {max(1, len(chosen))} sites: cProfile, by own time")
                    pstats.Stats(profiler).sort_stats("tottime").print_stats(16)
                return 0
            results: dict[tuple[str, int, int], float] = {}
            counts: dict[tuple[str, int, int], int] = {}
            for name in ("site kpis", "compare"):
                for n in GROWTH_SITES if name == "compare" else (1,):
                    chosen = {site_id: facts[site_id] for site_id in ids[:n]}
                    for days in GROWTH_DAYS:
                        if args.targets and (name, n, days) not in TARGETS_MS:
                            continue
                        window = Range(now - days * DAY_MS, now)
                        if name == "site kpis":
                            answer = report.kpis(first, facts[first], window, Bucket.DAY)
                            assert answer["items"]["finished"] > 0 and answer["energy"]["kwh"]
                        counted.requests = counted.statements = 0
                        counted.seconds = 0.0
                        ask(name, window, chosen)
                        requests, statements, influx_s = counted.requests, counted.statements, counted.seconds
                        best, p95, cpu = timed(args.calls, args.repeat, partial(ask, name, window, chosen))
                        results[(name, n, days)] = p95
                        counts[(name, n, days)] = requests
                        base = results.get((name, n, 30))
                        ratio = f"{p95 / base:7.2f}" if base else f"{'':>7}"
                        print(
                            f"{name:34} {days:5} {n:5} {best * 1000:8.1f} {p95 * 1000:8.1f} {ratio} "
                            f"{requests:8} {statements:10} {influx_s * 1000:9.1f} {cpu * 1000:8.1f}"
                        )
            if args.quarters and ("compare", 20, 365) in results:
                # The same call with the days that have not settled read raw (no quarter-hour summaries), as before.
                writer.query(f'DROP MEASUREMENT "{KPI_QUARTER}"')
                everyone = {site_id: facts[site_id] for site_id in ids}
                window = Range(now - 365 * DAY_MS, now)
                best, p95, cpu = timed(args.calls, args.repeat, partial(ask, "compare", window, everyone))
                print(f"{'compare, no quarter-hour summaries':34} {365:5} {20:5} {best * 1000:8.1f} {p95 * 1000:8.1f}")
            print()
            emit(
                [
                    Row(
                        BENCH,
                        f"{name}, {n} site{'s' if n > 1 else ''} x {days} days: p95",
                        results[(name, n, days)] * 1000,
                        "ms",
                        target=limit,
                        target_on="value",
                        op="<=",
                        note=f"{args.calls} calls x {args.repeat} rounds; {counts[(name, n, days)]} requests a call",
                    )
                    for (name, n, days), limit in TARGETS_MS.items()
                ],
                steal=steal,
            )
            writer.close()
            rollup_writer.close()
        finally:
            influxd.stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=30, help="range of every answer, and of the data")
    parser.add_argument("--sites", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each call; the best is reported")
    parser.add_argument("--growth", action="store_true", help="the read model's growth series (days x sites)")
    parser.add_argument("--calls", type=int, default=5, help="--growth: calls per round")
    parser.add_argument(
        "--targets",
        action="store_true",
        help="--growth: only the two rows with a target (site KPIs 30 d, compare 20 x 365 d)",
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="--growth: time each statement of a compare (all sites x 365 days) alone, by kind, slowest first",
    )
    parser.add_argument(
        "--profile", action="store_true", help="--growth: profile one site-KPI and one compare call instead"
    )
    parser.add_argument(
        "--at",
        metavar="HH:MM",
        help="--growth: as if it were this local time (the latest one, Europe/Brussels): before 08:15 yesterday "
        "has no day summary yet, the hardest hour for a compare",
    )
    parser.add_argument(
        "--no-quarters",
        dest="quarters",
        action="store_false",
        help="--growth: no quarter-hour summaries (the days that have not settled read raw, as before them)",
    )
    args = parser.parse_args()
    if args.growth:
        return growth(args)

    with tempfile.TemporaryDirectory(prefix="kpi-bench-") as tmp:
        influxd = Influxd(Path(tmp) / "influxd").start()
        try:
            settings = InfluxV1Settings(url=influxd.url, database="shopfloor")
            init_v1(settings)
            now = int(time.time() * 1000) // MINUTE_MS * MINUTE_MS
            start = now - args.days * DAY_MS
            sites = build_sites(SimulateSettings(sites=args.sites, epoch_days=args.days + 1, live=False), now)
            writer = make_client(settings)
            written = 0
            prepared = time.perf_counter()
            for site in sites:
                lines: list[str] = []
                for topic, payload in site.history(start, now, MINUTE_MS):
                    decoded, reason = decode_points(parse_topic(topic), payload)
                    assert decoded is not None, reason
                    lines.extend(decoded.lines)
                for i in range(0, len(lines), 5000):
                    response = writer.write(lines[i : i + 5000])
                    assert response.ok, response.text
                written += len(lines)
            rebuild_rollup(settings, args.days + 1, now * 1_000_000)
            took = time.perf_counter() - prepared
            print(f"data: {written} points for {args.sites} sites, {args.days} days, written in {took:.0f} s")

            report = KpiReport(KpiQueries(writer))
            window = Range(start, now)
            facts = {site.spec.id: SiteSettings(main_meter=site.spec.main_meter_id) for site in sites}
            print(f"best of {args.repeat}, seconds; ratio = the call / fetching the minute series it reads")
            print(f"{'call':44} {'baseline':>9} {'call':>7} {'ratio':>6}")
            for site in sites:
                meters = [site.spec.main_meter_id, *(bench.id for bench in site.spec.benches)]
                rows = sum(fetch(influxd.url, "shopfloor", minute_series(site.spec.id, m, window)) for m in meters)
                assert rows >= len(meters) * (args.days * 1440 - 2), f"rollup incomplete: {rows} rows"
                baseline = best_of(
                    args.repeat,
                    lambda s=site.spec.id, ms=meters: [
                        fetch(influxd.url, "shopfloor", minute_series(s, m, window)) for m in ms
                    ],
                )
                answer = report.kpis(site.spec.id, facts[site.spec.id], window, Bucket.DAY)
                assert answer["items"]["finished"] > 0 and answer["energy"]["kwh"], "an empty answer measures nothing"
                ours = best_of(args.repeat, lambda s=site.spec.id: report.kpis(s, facts[s], window, Bucket.DAY))
                name = f"kpis {site.spec.id} ({len(meters)} meters)"
                print(f"{name:44} {baseline:9.3f} {ours:7.3f} {ours / baseline:6.2f}")
            mains = [(site.spec.id, site.spec.main_meter_id) for site in sites]
            baseline = best_of(
                args.repeat, lambda: [fetch(influxd.url, "shopfloor", minute_series(s, m, window)) for s, m in mains]
            )
            ours = best_of(args.repeat, lambda: report.compare(facts, window))
            name = f"compare ({len(sites)} sites)"
            print(f"{name:44} {baseline:9.3f} {ours:7.3f} {ours / baseline:6.2f}")
            writer.close()
        finally:
            influxd.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
