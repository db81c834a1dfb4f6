"""Cost of the KPI API's answers for long ranges, against fetching the data they read, in the same run.

A real influxd on a free loopback port gets ``--days`` of simulated workshops (``shopfloor simulate``'s
sites: minute readings of every meter, repair events), written as the collector writes them, with the
one-minute rollup filled as ``init-db`` and the catch-up fill it. Then, best of ``--repeat``:

* baseline: one plain HTTP query per meter for the minute series a site's answer reads (JSON parsed);
* ``GET /api/sites/{site}/kpis`` for the whole range (``KpiReport.kpis``), per site;
* ``GET /api/compare`` over all sites (``KpiReport.compare``), against the sum of the sites' main meters.

Run: .venv/bin/python bench/kpi_api.py [--days 30] [--sites 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from collector.drain.rollup import rebuild_rollup  # noqa: E402
from collector.influx.connect import make_client  # noqa: E402
from collector.influx.init_db import init_v1  # noqa: E402
from collector.ingest.pipeline import decode_points  # noqa: E402
from collector.kpi.queries import KpiQueries, Range  # noqa: E402
from collector.kpi.report import KpiReport  # noqa: E402
from collector.settings import InfluxV1Settings, SiteSettings  # noqa: E402
from shopfloor.contract import parse_topic  # noqa: E402
from shopfloor.kpi.rates import Bucket  # noqa: E402
from simulator.main import build_sites  # noqa: E402
from simulator.services import Influxd  # noqa: E402
from simulator.settings import SimulateSettings  # noqa: E402

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=30, help="range of every answer, and of the data")
    parser.add_argument("--sites", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each call; the best is reported")
    args = parser.parse_args()

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
