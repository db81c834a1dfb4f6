"""Alerts end to end: meters -> edge -> mosquitto -> collector -> prometheus -> alertmanager -> a webhook.

Everything is real and on loopback: pymodbus meters, the edge agent, mosquitto, influxd, the
collector (`shopfloor collector run`), Debian's prometheus with deploy/prometheus/shopfloor.rules.yml
as shipped, and Debian's alertmanager posting to a webhook receiver in this test. Only the scrape and
evaluation intervals are short (1 s), and alertmanager's grouping waits (1 s), to keep the test brief.
The delays it measures are printed (run with -s).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.settings import load_settings
from simulator.meter_server import MeterServer
from simulator.services import Influxd, Mosquitto, free_port, port_open, wait_until
from tests.collector.traffic import collector_yaml
from tests.conftest import REPO_ROOT
from tests.edge.helpers import library, meter, running_agent, write_config
from tests.harness.api import new_token
from tests.harness.influx import InfluxTestDB

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RULES = REPO_ROOT / "deploy" / "prometheus" / "shopfloor.rules.yml"


class Webhook:
    """Alertmanager's webhook receiver: every notification, with the time it arrived."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with owner._lock:
                    owner.received.append((time.time(), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def first(self, alertname: str, status: str, after: float = 0.0) -> float | None:
        with self._lock:
            for at, body in self.received:
                for alert in body["alerts"]:
                    if alert["labels"]["alertname"] == alertname and alert["status"] == status and at >= after:
                        return at
        return None

    def close(self) -> None:
        self.server.shutdown()


def child(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def test_peak_ahead_and_stale_meter_alerts_reach_a_webhook(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxd: Influxd,
    influx_db: InfluxTestDB,
    meter_server: Callable[..., MeterServer],
    webhook: Webhook,
) -> None:
    prometheus_bin = shutil.which("prometheus")
    alertmanager_bin = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if prometheus_bin is None or alertmanager_bin is None:
        pytest.fail("prometheus / alertmanager missing. Fix: apt-get install prometheus prometheus-alertmanager")
    lib = library()
    # The site's main meter draws 5 kW: above the 2.5 kW floor, which is the month's peak of a fresh collector.
    main = meter(1, lib.get("eastron-sdm630"), {"power": 5000.0})  # type: ignore[arg-type]
    bench = meter(2, lib.get("eastron-sdm120"))  # type: ignore[arg-type]
    server = meter_server([main, bench])
    bus = {
        "name": "site",
        "tcp": f"127.0.0.1:{server.port}",
        "devices": [
            {"id": "main", "unit_id": 1, "profile": "eastron-sdm630", "interval_s": 1, "fields": ["power"]},
            {"id": "bench-1", "unit_id": 2, "profile": "eastron-sdm120", "interval_s": 1, "fields": ["power"]},
        ],
    }
    edge_config = write_config(tmp_path, mosquitto.port, [bus])

    http_port = free_port()
    config = collector_yaml(
        tmp_path / "collector.yaml",
        collector_id="alerts-1",
        broker_port=mosquitto.port,
        influx_url=influxd.url,
        database=influx_db.database,
        http_port=http_port,
    )
    am_port, prom_port = free_port(), free_port()
    # Prometheus scrapes /metrics as deployed: with an all-sites read token (deploy/prometheus/prometheus.yml).
    token_file = tmp_path / "collector.token"
    token_file.write_text(new_token(load_settings(config), "read"))
    token_file.chmod(0o600)
    (tmp_path / "alertmanager.yml").write_text(
        yaml.safe_dump(
            {
                "route": {
                    "receiver": "hook",
                    "group_by": ["alertname", "site", "device"],
                    "group_wait": "1s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {
                        "name": "hook",
                        "webhook_configs": [{"url": f"http://127.0.0.1:{webhook.port}/", "send_resolved": True}],
                    }
                ],
            }
        )
    )
    shutil.copy(RULES, tmp_path / "shopfloor.rules.yml")
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": ["shopfloor.rules.yml"],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
                "scrape_configs": [
                    {
                        "job_name": "shopfloor-collector",
                        "authorization": {"credentials_file": str(token_file)},
                        "static_configs": [{"targets": [f"127.0.0.1:{http_port}"]}],
                    }
                ],
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOOR")}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "shopfloor", "collector", "run", str(config)],
            cwd=tmp_path,
            env=env,
            stdout=(tmp_path / "collector.log").open("ab"),
            stderr=subprocess.STDOUT,
        ),
        child(
            [
                alertmanager_bin,
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            tmp_path / "alertmanager.log",
        ),
        child(
            [
                prometheus_bin,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            tmp_path / "prometheus.log",
        ),
    ]
    try:
        for port, name in ((http_port, "collector"), (am_port, "alertmanager"), (prom_port, "prometheus")):
            wait_until(lambda p=port: port_open("127.0.0.1", p), 30, name)  # type: ignore[misc]
        with running_agent(edge_config):
            started = time.time()
            # Peak ahead: the rule waits out the quarter's first 2 minutes and holds 30 s; it must fire
            # while the quarter runs. The condition holds from max(start, quarter start + 120 s).
            quarter = started - started % 900
            holds_from = max(started, quarter + 120)
            if started > quarter + 900 - 80:  # too close to this quarter's end: the next one's minute 2
                holds_from = quarter + 900 + 120
            wait_until(
                lambda: webhook.first("ShopfloorNewMonthlyPeakAhead", "firing") is not None,
                holds_from - time.time() + 90,
                "a peak-ahead notification",
            )
            peak_at = webhook.first("ShopfloorNewMonthlyPeakAhead", "firing")
            assert peak_at is not None
            assert peak_at < (peak_at - peak_at % 900) + 900 - 30 + 5, "before the quarter's end"
            peak_delay = peak_at - holds_from

            # A meter that stops answering: stale after 3 intervals (60 s at least) and 15 s more.
            server.set_silent(2)
            silent_at = time.time()
            wait_until(lambda: webhook.first("ShopfloorMeterStale", "firing", silent_at) is not None, 150, "stale")
            stale_at = webhook.first("ShopfloorMeterStale", "firing", silent_at)
            assert stale_at is not None
            server.set_silent(2, False)
            back_at = time.time()
            wait_until(lambda: webhook.first("ShopfloorMeterStale", "resolved", back_at) is not None, 90, "resolved")
            resolved_at = webhook.first("ShopfloorMeterStale", "resolved", back_at)
            assert resolved_at is not None
        [(_, body)] = [
            (at, b)
            for at, b in webhook.received
            if any(a["labels"]["alertname"] == "ShopfloorMeterStale" for a in b["alerts"])
        ][:1]
        stale = next(a for a in body["alerts"] if a["labels"]["alertname"] == "ShopfloorMeterStale")
        assert stale["labels"]["device"] == "bench-1" and stale["labels"]["site"] == "test-site"
        assert "bench-1" in stale["annotations"]["summary"] and stale["annotations"]["runbook"]
        print(
            f"\nalert delays: peak ahead {peak_delay:.1f} s after its condition held; "
            f"stale {stale_at - silent_at:.1f} s after the meter went silent (rule: 3 intervals, >= 60 s, for 15 s); "
            f"resolved {resolved_at - back_at:.1f} s after it answered again"
        )
    finally:
        for process in reversed(processes):
            stop(process)
