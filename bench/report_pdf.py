"""Time of ``shopfloor report --format pdf`` for a month of the demo's workshops, against the KPI answer it reads.

A real influxd on a free loopback port gets ``--days`` of ``shopfloor simulate``'s workshops (minute
readings of every meter, every repair event; tests/reports/demo_data.py), with the rollup filled. The
month is the one the data covers most. Then, best of ``--repeat``, wall clock:

* baseline: ``KpiReport.kpis`` for the site and month, in-process (what ``GET /api/sites/{site}/kpis`` computes);
* ``shopfloor report --site S --month M --format html`` and ``--format pdf``, each a new process (as a user runs it);
* ``shopfloor report --cluster --month M --format pdf``.

Run: .venv/bin/python bench/report_pdf.py [--days 30] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.table import Row, emit  # noqa: E402
from collector.influx.v1 import InfluxV1Client  # noqa: E402
from collector.kpi.queries import KpiQueries, Range  # noqa: E402
from collector.kpi.report import KpiReport  # noqa: E402
from collector.reports.periods import month  # noqa: E402
from collector.settings import InfluxV1Settings, load_settings  # noqa: E402
from shopfloor.kpi.rates import Bucket  # noqa: E402
from simulator.services import Influxd  # noqa: E402
from tests.reports.demo_data import DAY_MS, MINUTE_MS, load_demo  # noqa: E402


def best_of(repeat: int, call: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=30, help="days of simulated data, ending now")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each call; the best is reported")
    parser.add_argument("--keep", type=Path, help="copy the reports written here (to look at them)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp_name:
        tmp = Path(tmp_name)
        influxd = Influxd(tmp / "influxd").start()
        try:
            influx = InfluxV1Settings(url=influxd.url, database="shopfloor")
            now = int(time.time() * 1000) // MINUTE_MS * MINUTE_MS
            prepared = time.perf_counter()
            demo = load_demo(influx, args.days, now)
            took = time.perf_counter() - prepared
            print(f"data: {demo.points} points for {len(demo.specs)} sites, {args.days} days, written in {took:.0f} s")
            config = tmp / "collector.yaml"
            config.write_text(
                f"collector_id: bench\ninflux:\n  version: 1\n  url: {influxd.url}\n  database: shopfloor\n"
                f"spool:\n  path: {tmp / 'spool.sqlite'}\ndead_letters:\n  path: {tmp / 'dead.sqlite'}\n"
                + demo.sites_yaml()
            )
            settings = load_settings(config)
            middle = datetime.fromtimestamp((now - args.days * DAY_MS / 2) / 1000, UTC)
            site = demo.specs[0].id
            period = month(middle.strftime("%Y-%m"), settings.site(site).timezone)
            writer = InfluxV1Client(influx)
            report = KpiReport(KpiQueries(writer))
            window = Range(period.start_ms, period.end_ms)
            answer = report.kpis(site, settings.site(site), window, Bucket.DAY)
            assert answer["items"]["finished"] > 0 and answer["energy"]["kwh"], "an empty month measures nothing"
            baseline = best_of(args.repeat, lambda: report.kpis(site, settings.site(site), window, Bucket.DAY))
            writer.close()

            def cli(*extra: str) -> Callable[[], None]:
                command = [sys.executable, "-m", "shopfloor", "report", "--config", str(config)]
                command += ["--month", period.label, *extra]
                return lambda: subprocess.run(command, check=True, cwd=tmp, capture_output=True)

            print(f"month {period.label}, best of {args.repeat}, seconds; ratio = the call / the baseline")
            print(f"{'call':48} {'seconds':>8} {'ratio':>6}")
            print(f"{'baseline: KpiReport.kpis ' + site:48} {baseline:8.2f} {1:6.2f}")
            outputs = []
            rows: list[Row] = []
            for name, extra in (
                (f"report --site {site} --format html", ("--site", site, "--format", "html")),
                (f"report --site {site} --format pdf", ("--site", site, "--format", "pdf")),
                ("report --cluster --format pdf", ("--cluster", "--format", "pdf")),
            ):
                out = tmp / f"{name.split()[2].lstrip('-')}-{extra[-1]}.{extra[-1]}"
                seconds = best_of(args.repeat, cli(*extra, "--out", str(out)))
                outputs.append(out)
                print(f"{name:48} {seconds:8.2f} {seconds / baseline:6.2f}")
                rows.append(
                    Row(
                        "report_pdf",
                        f"shopfloor {name}, month {period.label}, a new process",
                        seconds,
                        "s",
                        baseline,
                        f"KpiReport.kpis {site}, in-process",
                        note=f"best of {args.repeat}",
                    )
                )
            emit(rows)
            if args.keep is not None:
                args.keep.mkdir(parents=True, exist_ok=True)
                for out in outputs:
                    shutil.copy(out, args.keep / out.name)
                print(f"reports copied to {args.keep}")
        finally:
            influxd.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
