"""Store and forward: a 60 s broker outage, and kill -9 of the agent, lose no reading and keep order."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from simulator.meter_server import MeterServer
from simulator.services import Mosquitto, wait_until
from tests.conftest import REPO_ROOT
from tests.edge.helpers import Subscriber, library, meter, running_agent, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def five_meter_buses(meter_server: Callable[..., MeterServer], interval_s: float) -> list[dict[str, Any]]:
    """Five TCP meters (five buses, polled concurrently), profiles mixed."""
    names = ["eastron-sdm120", "eastron-sdm630", "carlogavazzi-em340", "abb-b23", "finder-7m"]
    lib = library()
    server = meter_server([meter(unit, lib.get(name)) for unit, name in enumerate(names, start=1)])  # type: ignore[arg-type]
    return [
        {
            "name": f"tcp-{unit}",
            "tcp": f"127.0.0.1:{server.port}",
            "devices": [{"id": f"meter-{unit}", "unit_id": unit, "profile": name, "interval_s": interval_s}],
        }
        for unit, name in enumerate(names, start=1)
    ]


def assert_complete_and_ordered(seqs: list[int], through: int) -> None:
    assert seqs, "no reading arrived"
    assert seqs == sorted(seqs), "readings arrived out of sequence order"
    assert seqs == list(range(through + 1)), f"gaps: {sorted(set(range(through + 1)) - set(seqs))[:20]}"


def test_broker_outage_of_60_s(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], meter_server: Callable[..., MeterServer]
) -> None:
    broker = mosquitto_factory()
    config = write_config(tmp_path, broker.port, five_meter_buses(meter_server, 1.0), edge_id="outage-edge")
    with Subscriber(broker.host, broker.port) as subscriber, running_agent(config) as agent:
        wait_until(lambda: len(subscriber.seqs("outage-edge")) >= 10, 20, "first readings")
        subscriber.pause()
        broker.stop()
        # The outage lasts until 60 s of readings (5 meters x 1 Hz) are waiting in the outbox.
        wait_until(lambda: agent.outbox.depth >= 5 * 60, 120, "60 s of readings in the outbox", interval=0.5)
        produced_during_outage = agent.outbox.depth
        broker.start()
        subscriber.resume()
        produced = agent.outbox.next_seq  # readings made up to now, the outage included
        wait_until(
            lambda: set(range(produced)) <= set(subscriber.seqs("outage-edge")), 60, "every reading of the outage"
        )
    seqs = subscriber.seqs("outage-edge")
    assert max(seqs) >= produced - 1
    assert produced_during_outage >= 300
    assert_complete_and_ordered(seqs, max(seqs))
    batches = [m for m in subscriber.messages if m.topic.endswith("/outage-edge/batch")]
    assert batches, "the backlog should be flushed in ReadingBatch messages"


def outbox_next_seq(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT value FROM counters WHERE name='next_seq'").fetchone()[0])


def test_kill_9_loses_nothing(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], meter_server: Callable[..., MeterServer]
) -> None:
    broker = mosquitto_factory()
    config = write_config(tmp_path, broker.port, five_meter_buses(meter_server, 0.5), edge_id="crash-edge")
    command = [sys.executable, "-m", "shopfloor", "edge", "run", str(config)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOOR")}
    with Subscriber(broker.host, broker.port) as subscriber:
        first = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE)
        try:
            wait_until(lambda: len(subscriber.seqs("crash-edge")) >= 30, 30, "readings from the first run")
            # Make a backlog too: with the broker gone, readings only reach the outbox.
            subscriber.pause()
            broker.stop()
            wait_until(lambda: outbox_next_seq(tmp_path / "outbox.db") >= 80, 30, "readings while offline")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        read_before_crash = outbox_next_seq(tmp_path / "outbox.db")
        broker.start()
        subscriber.resume()
        second = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE)
        try:
            # Every reading read before the crash, and one the second run read itself: the sequence goes on.
            wait_until(
                lambda: set(range(read_before_crash + 1)) <= set(subscriber.seqs("crash-edge")),
                60,
                "every reading read before the crash, then a new one",
            )
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0, second.stderr.read() if second.stderr else ""
    seqs = subscriber.seqs("crash-edge")
    assert_complete_and_ordered(seqs, max(seqs))
    assert max(seqs) >= read_before_crash  # the second run continued the sequence
