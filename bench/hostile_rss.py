"""Collector memory through a hostile campaign, against its own idle memory in the same run.

A real ``shopfloor collector run`` process behind real mosquitto and influxd (loopback only). Its RSS is
sampled every 0.1 s from /proc: first idle (after some good traffic), then while the campaign runs:

* twenty 10 MB messages that are not JSON (dead letters: each keeps only its head);
* the hostile payloads of tests/collector/ingest/test_hostile_input.py, 50 times;
* 20 requests for the largest dead-letter page, 2 MB request bodies (413), a 500 000-character 422;
* good readings between all of it, counted in InfluxDB at the end (nothing may be lost).

Target: peak RSS below 2x the idle RSS. Run: .venv/bin/python bench/hostile_rss.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.table import Row, emit  # noqa: E402
from simulator.services import Influxd, Mosquitto, free_port, port_open, wait_until  # noqa: E402
from tests.collector.traffic import Publisher, base_ts_ms, reading  # noqa: E402
from tests.harness.influx import InfluxTestDB  # noqa: E402

MB = 1_000_000
TOPIC = "shopfloor/v1/bench-site/m01/reading"


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# An admin token of the benchmark's collector (docs/security.md#api-tokens), set once it is made.
HEADERS = {"Content-Type": "application/json"}


def http(method: str, url: str, body: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=body, method=method, headers=HEADERS)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            answer.read()
            return answer.status
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--big-messages", type=int, default=20, help="10 MB bad messages")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as work,
        Mosquitto(Path(work) / "mqtt") as broker,
        Influxd(Path(work) / "influx") as influx,
    ):
        db = InfluxTestDB(influx.url, "hostile")
        db.create()
        port = free_port()
        config = Path(work) / "collector.yaml"
        config.write_text(
            f"collector_id: hostile-bench\nbroker:\n  port: {broker.port}\ninflux:\n  url: {influx.url}\n"
            f"  database: hostile\nspool:\n  path: spool.sqlite\ndead_letters:\n  path: dead.sqlite\n"
            f"  max_bytes: 50000000\nhttp:\n  port: {port}\n"
        )
        from collector.storage.tokens import Scope, TokenStore, token_store_path

        tokens = TokenStore(token_store_path(Path(work) / "spool.sqlite"))
        HEADERS["Authorization"] = f"Bearer {tokens.create(Scope.ADMIN, None, label='bench')[1]}"
        tokens.close()
        proc = subprocess.Popen(
            [sys.executable, "-m", "shopfloor", "collector", "run", str(config)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        api = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: port_open("127.0.0.1", port), 60, "collector HTTP")
            wait_until(lambda: http("GET", f"{api}/readyz") == 200, 30, "collector ready")
            t0 = base_ts_ms()
            publisher = Publisher(broker.host, broker.port, inflight=8)
            good = 0
            publisher.publish_all([(TOPIC, json.dumps(reading(1, i, t0)).encode()) for i in range(500)])
            good += 500
            wait_until(lambda: db.scalar("SELECT count(power) FROM meter") == good, 60, "warm-up stored")
            time.sleep(2)
            idle_samples = []
            for _ in range(10):
                idle_samples.append(rss_kb(proc.pid))
                time.sleep(0.1)
            idle = max(idle_samples)

            samples: list[int] = []
            done = threading.Event()

            def sample() -> None:
                while not done.wait(0.1):
                    samples.append(rss_kb(proc.pid))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            started = time.monotonic()
            for n in range(args.big_messages):
                batch = [(TOPIC, json.dumps(reading(1, good + k, t0)).encode()) for k in range(20)]
                batch.append((TOPIC, b"{" + bytes([65 + n % 26]) * (10 * MB)))
                publisher.publish_all(batch, timeout=300)
                good += 20
            hostile = {**reading(1, 10**6, t0), "values": {"x_q\\": {"value": 7.0, "unit": "u"}}}
            for n in range(50):
                publisher.publish_all(
                    [
                        (TOPIC, json.dumps({**hostile, "seq": 10**6 + n}).encode()),
                        (TOPIC, json.dumps({**reading(1, n, t0), "seq": str(n)}).encode()),
                        (TOPIC, json.dumps(reading(1, good, t0)).encode()),
                    ]
                )
                good += 1
            for _ in range(20):
                assert http("GET", f"{api}/api/dead-letters?limit=500") == 200
            for _ in range(5):
                assert http("POST", f"{api}/api/sites/bench-site/events", b"[" + b" " * (2 * MB) + b"]") == 413
            assert http("POST", f"{api}/api/sites/bench-site/events", json.dumps({"x": "y" * 500_000}).encode())
            wait_until(lambda: db.scalar("SELECT count(power) FROM meter") == good, 120, "every good reading")
            took = time.monotonic() - started
            done.set()
            sampler.join()
            publisher.close()
        finally:
            proc.terminate()
            proc.wait(30)
    peak = max(samples)
    ratio = peak / idle
    print(f"collector RSS: idle {idle / 1024:.1f} MB, peak during the campaign {peak / 1024:.1f} MB")
    print(f"ratio {ratio:.2f} (target < 2.0: {'met' if ratio < 2 else 'NOT met'}); campaign {took:.0f} s")
    print(f"{good} good readings sent around the hostile ones, all {good} counted in InfluxDB")
    emit(
        [
            Row(
                "hostile_rss",
                "collector peak RSS through the hostile campaign",
                peak / 1024,
                "MB",
                idle / 1024,
                "the same process idle, after good traffic",
                target=2.0,
                op="<=",
                note=f"{good} good readings around it, all counted in InfluxDB",
            )
        ]
    )
    return 0 if ratio < 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
