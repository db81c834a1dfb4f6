"""The demo entrypoint, as `make demo` runs it, on free ports: every site's data reaches InfluxDB and the KPI API."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from shopfloor.kpi.opening_hours import OpeningHours
from simulator.services import free_port, wait_until
from simulator.sites import default_sites

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class _Output:
    """Collects the demo's stdout from a thread, so the test can wait for lines without blocking."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stdout is not None
        self._thread = threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_closed(self) -> None:
        """The process has exited: wait until its last lines are read."""
        self._thread.join(timeout=10)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _influx(url: str, query: str) -> list[list[Any]]:
    params = urllib.parse.urlencode({"db": "shopfloor", "q": query, "epoch": "ms"})
    result = _get_json(f"{url}/query?{params}")["results"][0]
    return [row for series in result.get("series", []) for row in series["values"]]


def test_demo_runs_every_site_end_to_end_and_stops_cleanly(tmp_path: Path) -> None:
    sites = [s.id for s in default_sites(3)]
    modbus_port = free_port()
    started_ms = int(time.time() * 1000)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shopfloor",
            "demo",
            "--dir",
            str(tmp_path / "demo"),
            "--mqtt-port",
            "0",
            "--influx-port",
            "0",
            "--api-port",
            "0",
            "--modbus-port",
            str(modbus_port),
            "--prometheus-port",
            "0",
            "--alertmanager-port",
            "0",
            # Five days always hold opening hours of every site (the atelier is closed Sunday and
            # Monday, the repair shop all weekend), whatever day the test runs.
            "--backfill-days",
            "5",
            "--poll-interval",
            "1",
            "--duration",
            "300",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = _Output(proc)
    try:
        wait_until(lambda: "Ctrl-C stops everything" in out.text or proc.poll() is not None, 120, "demo start")
        assert proc.poll() is None, out.text
        influx_url = re.search(r"InfluxDB\s+(http://[^/\s]+)", out.text)
        api_url = re.search(r"API docs\s+(http://\S+)/docs", out.text)
        assert influx_url and api_url, out.text
        influx, api = influx_url.group(1), api_url.group(1)
        # Every URL the demo prints opens in a browser (InfluxDB's base URL alone answers 404).
        printed = re.findall(r"^  [a-zA-Z/ ]+?\s{2,}(http://\S+)(?:\s+(http://\S+))?", out.text, re.MULTILINE)
        urls = [url for pair in printed for url in pair if url]
        assert len(urls) >= 6 and any("/query?" in url for url in urls), out.text
        # /metrics needs the token the demo gave Prometheus; every other printed URL opens as it is.
        metrics_token = (tmp_path / "demo" / "tokens" / "metrics.token").read_text().strip()
        for url in urls:
            headers = {"Authorization": f"Bearer {metrics_token}"} if url.endswith("/metrics") else {}
            try:
                # 30 s: a report page renders a PDF, and the suite runs two workers on two cores.
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
                    assert response.status == 200, url
            except TimeoutError as exc:
                raise AssertionError(f"{url} did not answer within 30 s") from exc
            except urllib.error.HTTPError as exc:
                raise AssertionError(f"{url} answers {exc.code}: {exc.read()[:300]!r}") from exc

        def history_of_every_site_queried() -> bool:
            # "backfill done" promises that the history can be queried: the newest backfilled reading of
            # every site is at most one backfill step older than the demo's start.
            for site in sites:
                rows = _influx(influx, f"SELECT last(power) FROM meter WHERE site='{site}' AND edge='{site}-history'")
                if not rows or rows[0][0] < started_ms - 60_000:
                    return False
            return True

        wait_until(lambda: "backfill done" in out.text or proc.poll() is not None, 180, "backfill done")
        assert history_of_every_site_queried(), out.text

        def live_readings_from_every_site_edge() -> bool:
            # Readings the edge agents read over Modbus TCP, not the backfill's (edge tag <site>-history).
            for site in sites:
                rows = _influx(influx, f"SELECT count(power) FROM meter WHERE site='{site}' AND edge='{site}-pi'")
                if not rows or not rows[0][1]:
                    return False
            return True

        # Live data shares the collector's spool with the backfill, so under load it can lag.
        wait_until(live_readings_from_every_site_edge, 120, "live readings of every site's edge agent in InfluxDB")
        for site in sites:
            power = _influx(
                influx, f"SELECT last(power) FROM meter WHERE site='{site}' AND device='main' AND edge='{site}-pi'"
            )
            assert power and power[0][1] > 0, f"{site}: no positive main-meter power from its edge"

        def kpis_nonzero_for_every_site() -> bool:
            for site in sites:
                kpis = _get_json(f"{api}/api/sites/{site}/kpis?days=6")
                if not kpis.get("items", {}).get("finished"):
                    return False
            return True

        wait_until(kpis_nonzero_for_every_site, 90, "non-zero KPIs for every site")
        for spec in default_sites(3):
            kpis = _get_json(f"{api}/api/sites/{spec.id}/kpis?days=6")
            # The demo's collector.yaml knows each site's opening hours and capacity limit (issue 16, item 9).
            assert kpis["energy"]["base_load"]["watts"] > 0, kpis["energy"]
            assert kpis["energy"]["capacity_limit_kw"] == spec.capacity_limit_kw
            # Benches are staffed within opening hours, not around the clock (issue 16, item 7).
            window = [int(datetime.fromisoformat(kpis[key]).timestamp() * 1000) for key in ("from", "to")]
            hours = OpeningHours(hours=spec.opening_hours_spec, timezone=spec.timezone)
            open_h = sum(span.seconds for span in hours.open_intervals(*window)) / 3600
            assert 0 < kpis["items"]["bench_hours"] <= len(spec.benches) * open_h + 0.01, (spec.id, open_h, kpis)
            for bench in spec.benches:
                station = _get_json(f"{api}/api/sites/{spec.id}/stations/{bench.id}/kpis?days=6")
                # A bench sub-meter reports its own peak, never the site's capacity tariff (item 8).
                assert "capacity_limit_kw" not in station["energy"]
                assert all("billed_kw" not in peak for peak in station["energy"]["peaks"])
        assert re.search(r"gent-repair\s+power\s+\d", out.text), out.text
        # The cluster report it prints the address of ranks every workshop (docs/reports.md).
        report_url = re.search(r"cluster report\s+(http://\S+)", out.text)
        assert report_url, out.text
        with urllib.request.urlopen(report_url.group(1).replace("format=pdf", "format=html"), timeout=60) as answer:
            report = answer.read().decode()
        for site in sites:
            assert f'data-site="{site}" data-ranked="yes"' in report, site
        if shutil.which("prometheus") and shutil.which("prometheus-alertmanager"):
            # The demo starts both when installed: prometheus has loaded the rules and scrapes the collector.
            prometheus = re.search(r"prometheus\s+(http://\S+)/api/v1/alerts", out.text)
            assert prometheus and re.search(r"alertmanager\s+http://\S+/api/v2/alerts", out.text), out.text
            rules = _get_json(f"{prometheus.group(1)}/api/v1/rules")["data"]["groups"]
            assert any(r["name"] == "ShopfloorMeterStale" for g in rules for r in g["rules"])

            def collector_scraped() -> bool:
                targets = _get_json(f"{prometheus.group(1)}/api/v1/targets")["data"]["activeTargets"]
                return any(t["health"] == "up" for t in targets)

            wait_until(collector_scraped, 60, "prometheus scraping the collector")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    out.wait_closed()
    assert proc.returncode == 0, out.text[-3000:]
    assert "stopped." in out.text
