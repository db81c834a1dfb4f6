"""Acceptance, resilience: an InfluxDB outage, a kill -9 of the collector, two collectors on one shared subscription.

All against real mosquitto and real influxd. Nothing may be lost, nothing counted twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings
from simulator.services import Influxd, Mosquitto, free_port, wait_until
from tests.collector.traffic import Publisher, base_ts_ms, collector_yaml, load, readings
from tests.harness.influx import InfluxTestDB
from tests.harness.processes import ready

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
OUTAGE_S = 60


def _count(db: InfluxTestDB) -> int:
    return int(db.scalar("SELECT count(power) FROM meter") or 0)


def test_influxdb_outage_of_60s_loses_nothing(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxd_factory: Callable[[], Influxd],
    run_collector: Callable[[CollectorSettings], CollectorRuntime],
) -> None:
    server = influxd_factory()
    db = InfluxTestDB(server.url, "outage")
    db.create()
    settings = load(
        collector_yaml(
            tmp_path / "collector.yaml",
            collector_id="outage-1",
            broker_port=mosquitto.port,
            influx_url=server.url,
            database=db.database,
        )
    )
    runtime = run_collector(settings)
    t0 = base_ts_ms()
    publisher = Publisher(mosquitto.host, mosquitto.port)
    try:
        publisher.publish_all(readings(20, 100, t0))
        wait_until(lambda: _count(db) == 2000, 30, "first part stored")

        server.stop()
        stopped_at = time.monotonic()
        publisher.publish_all(readings(20, 200, t0, start=100))
        # Everything published during the outage is held in the spool, and the drainer says InfluxDB is away.
        wait_until(lambda: runtime.spool.depth_lines >= 4000, 30, "spool holds the outage traffic")
        wait_until(lambda: not runtime.drainer.influx_ok, 30, "outage noticed")
        assert runtime.ready()["influxdb"] is False
        wait_until(
            lambda: "shopfloor_collector_spool_depth_points 4000.0" in runtime.metrics.render().decode(),
            10,
            "spool depth metric",
        )
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped_at)))  # the outage itself, not a wait for a result

        server.start()
        publisher.publish_all(readings(20, 100, t0, start=300))
    finally:
        publisher.close()
    wait_until(lambda: _count(db) >= 8000, 60, "all points after the outage")
    wait_until(lambda: runtime.spool.depth_lines == 0, 30, "spool drained")
    assert _count(db) == 8000
    assert runtime.drainer.influx_ok


def test_kill_9_of_the_collector_loses_nothing(tmp_path: Path, mosquitto: Mosquitto, influx_db: InfluxTestDB) -> None:
    http_port = free_port()
    config = collector_yaml(
        tmp_path / "collector.yaml",
        collector_id="crash-1",
        broker_port=mosquitto.port,
        influx_url=influx_db.url,
        database=influx_db.database,
        http_port=http_port,
    )

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "shopfloor", "collector", "run", str(config)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "collector.log").open("ab"),
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )

    proc = start()
    t0 = base_ts_ms()
    total = 20 * 1000
    publisher = Publisher(mosquitto.host, mosquitto.port)
    try:
        # Subscribed (so the broker queues for us from now on) and InfluxDB reachable.
        wait_until(lambda: ready(http_port), 60, "collector ready")
        done = threading.Event()
        sender = threading.Thread(target=lambda: (publisher.publish_all(readings(20, 1000, t0)), done.set()))
        sender.start()
        wait_until(lambda: _count(influx_db) > 2000, 60, "collector writing")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        killed_at = _count(influx_db)
        assert killed_at < total, "the kill must land mid-stream"
        proc = start()
        sender.join(timeout=120)
        assert done.is_set()
        wait_until(lambda: _count(influx_db) >= total, 90, "all points after the restart")
        assert _count(influx_db) == total
    finally:
        publisher.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0, (tmp_path / "collector.log").read_text()[-2000:]


def test_two_collectors_share_one_subscription(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influx_db: InfluxTestDB,
    run_collector: Callable[[CollectorSettings], CollectorRuntime],
) -> None:
    runtimes = [
        run_collector(
            load(
                collector_yaml(
                    tmp_path / f"c{i}.yaml",
                    collector_id=f"share-{i}",
                    broker_port=mosquitto.port,
                    influx_url=influx_db.url,
                    database=influx_db.database,
                    shared_group="writers",
                )
            )
        )
        for i in (1, 2)
    ]
    for runtime in runtimes:
        wait_until(runtime.mqtt.connected.is_set, 10, "collector subscribed")
    publisher = Publisher(mosquitto.host, mosquitto.port)
    try:
        publisher.publish_all(readings(20, 500, base_ts_ms()))
    finally:
        publisher.close()
    wait_until(lambda: _count(influx_db) >= 10_000, 60, "all points")
    received = [_received(runtime) for runtime in runtimes]
    # Each collector took a share, and the shares add up exactly: nothing twice, nothing lost.
    assert all(share > 0 for share in received), received
    assert sum(received) == 10_000
    assert _count(influx_db) == 10_000


def _received(runtime: CollectorRuntime) -> int:
    return int(runtime.metrics.received.labels("reading")._value.get())
