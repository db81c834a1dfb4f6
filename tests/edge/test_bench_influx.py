"""Counter reset end to end: plug -> edge -> mosquitto -> the collector (`shopfloor collector run`) -> influxd.

The day's energy of a bench whose plug lost power mid-series is checked in InfluxDB.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shopfloor.contract import MeterReading, Quality, Value, encode
from simulator.services import Mosquitto, free_port, wait_until
from tests.conftest import REPO_ROOT
from tests.edge.helpers import running_agent, write_config
from tests.edge.test_bench_plugs import SOURCES, gen2_status
from tests.harness.influx import InfluxTestDB
from tests.harness.mqtt import MqttProbe
from tests.harness.processes import ready

pytestmark = pytest.mark.integration

BENCH = "bench-influx"


def collector_yaml(path: Path, broker: Mosquitto, db: InfluxTestDB, http_port: int) -> Path:
    path.write_text(
        f"""collector_id: edge-stations-test
broker: {{port: {broker.port}, reconnect_min_s: 0.5, reconnect_max_s: 2}}
influx: {{version: 1, url: {db.url}, database: {db.database}, retry_max_s: 2}}
spool: {{path: spool.sqlite}}
dead_letters: {{path: dead.sqlite}}
http: {{port: {http_port}}}
""",
        encoding="utf-8",
    )
    return path


def test_counter_reset_gives_the_right_day_total_in_influxdb(
    tmp_path: Path, mosquitto: Mosquitto, influx_db: InfluxTestDB
) -> None:
    http_port = free_port()
    collector_config = collector_yaml(tmp_path / "collector.yaml", mosquitto, influx_db, http_port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOOR")}
    collector = subprocess.Popen(
        [sys.executable, "-m", "shopfloor", "collector", "run", str(collector_config)],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        stderr=subprocess.DEVNULL,
    )
    (tmp_path / "edge").mkdir()
    edge_config = write_config(tmp_path / "edge", mosquitto.port, [], mqtt_sources=[{**SOURCES[1], "bench": BENCH}])
    measured = f"FROM meter WHERE device = '{BENCH}'"
    try:
        wait_until(lambda: ready(http_port), 60, "collector ready")
        with (
            MqttProbe(mosquitto.host, mosquitto.port, ()) as plug,
            MqttProbe(mosquitto.host, mosquitto.port, (f"shopfloor/v1/test-site/{BENCH}/reading",)) as upstream,
        ):
            # The collector is ready once a reading gets through: its subscription is then live.
            sentinel = MeterReading(
                ts_ms=int(time.time() * 1000),
                seq=0,
                edge="probe",
                device="sentinel",
                profile="test@1",
                quality=Quality.OK,
                values={"power": Value(value=1.0, unit="W")},
            )
            plug.publish("shopfloor/v1/test-site/sentinel/reading", encode(sentinel))
            wait_until(
                lambda: influx_db.scalar("SELECT count(power) FROM meter WHERE device = 'sentinel'") == 1,
                30,
                "the collector storing a first reading",
            )
            sent = 0
            for totals in ([1000, 1100, 1250], [1300, 0, 50, 200]):  # Wh; the edge restarts in between
                with running_agent(edge_config) as agent:
                    wait_until(agent.sources.subscribed.is_set, 10, "agent subscribed")
                    for total in totals:
                        plug.publish("shellyplusplugs-b8d6/status/switch:0", gen2_status(total, 300.0))
                        sent += 1
                        wait_until(lambda n=sent: len(upstream.messages) >= n, 10, "the reading on the broker")
        wait_until(lambda: influx_db.scalar(f"SELECT count(energy_import) {measured}") == 7, 30, "7 points stored")
        assert influx_db.scalar(f"SELECT spread(energy_import) {measured}") == pytest.approx(0.5)
        steps = influx_db.query(f"SELECT difference(energy_import) {measured}")
        assert min(row["difference"] for row in steps) >= 0
        assert sum(row["difference"] for row in steps) == pytest.approx(0.5)
        assert influx_db.scalar(f"SELECT max(power) {measured}") == 300.0
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(15)
