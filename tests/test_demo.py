"""The demo entrypoint, as `make demo` runs it, on free ports: every site's data reaches InfluxDB and the KPI API."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from shopfloor.services import free_port, wait_until
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
    params = urllib.parse.urlencode({"db": "shopfloor", "q": query})
    result = _get_json(f"{url}/query?{params}")["results"][0]
    return [row for series in result.get("series", []) for row in series["values"]]


def test_demo_runs_every_site_end_to_end_and_stops_cleanly(tmp_path: Path) -> None:
    sites = [s.id for s in default_sites(3)]
    modbus_port = free_port()
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
        influx_url = re.search(r"InfluxDB\s+(http://\S+)", out.text)
        api_url = re.search(r"API docs\s+(http://\S+)/docs", out.text)
        assert influx_url and api_url, out.text
        influx, api = influx_url.group(1), api_url.group(1)

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
        assert re.search(r"gent-repair\s+power\s+\d", out.text), out.text
        # The cluster report it prints the address of ranks every workshop (docs/reports.md).
        report_url = re.search(r"cluster report\s+(http://\S+)", out.text)
        assert report_url, out.text
        with urllib.request.urlopen(report_url.group(1).replace("format=pdf", "format=html"), timeout=60) as answer:
            report = answer.read().decode()
        for site in sites:
            assert f'data-site="{site}" data-ranked="yes"' in report, site
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
