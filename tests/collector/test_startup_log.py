"""``shopfloor collector run`` as a process (issue 16): its start and stop lines are INFO, not WARNING, and they
show without -v, as a service's log should; a warning still means something is wrong."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from collector.influx.init_db import init_db
from collector.settings import load_settings
from simulator.services import Influxd, Mosquitto, free_port, wait_until
from tests.harness.influx import InfluxTestDB

pytestmark = pytest.mark.integration


def test_start_and_stop_are_logged_at_info_by_default(
    tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd, influx_db: InfluxTestDB
) -> None:
    config = tmp_path / "collector.yaml"
    config.write_text(
        f"""collector_id: log-test
broker:
  port: {mosquitto.port}
influx:
  url: {influxd.url}
  database: {influx_db.database}
spool:
  path: spool.sqlite
dead_letters:
  path: dead.sqlite
http:
  port: {free_port()}
"""
    )
    init_db(load_settings(config))  # as deployed: the rollup the day summaries write into exists
    log_path = tmp_path / "collector.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shopfloor", "collector", "run", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_until(
                lambda: "collector log-test" in log_path.read_text() or proc.poll() is not None, 60, "startup line"
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    lines = log_path.read_text().splitlines()
    started = [line for line in lines if "collector log-test started" in line]
    stopped = [line for line in lines if "collector log-test stopped" in line]
    assert len(started) == 1 and " INFO collector.runtime: " in started[0], lines
    assert len(stopped) == 1 and " INFO collector.service: " in stopped[0], lines
    assert [line for line in lines if " WARNING " in line or " ERROR " in line] == []
