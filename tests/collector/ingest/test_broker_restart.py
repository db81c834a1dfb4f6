"""A mosquitto restart under a steady stream loses nothing, with a shared subscription too, counted in InfluxDB
against the edge's seq numbers. Real mosquitto 2.0 (persistence on), real influxd, a real edge agent polling
pymodbus meters.

mosquitto 2.0 restores a persistent session's queue but not its shared subscription: what an edge publishes
after the restart matches no subscriber until the collector subscribes again, and the broker answers
"no matching subscribers" (MQTT 5 PUBACK 0x10). The edge keeps such readings and sends them again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings
from simulator.meter_server import MeterServer
from simulator.services import Influxd, Mosquitto, wait_until
from tests.collector.traffic import collector_yaml, load
from tests.edge.helpers import library, meter, running_agent, write_config
from tests.harness.influx import InfluxTestDB

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEVICES = 4
INTERVAL_S = 0.1  # 40 readings a second in all
RECONNECT_LATE = "reconnect_min_s: 3\n  reconnect_max_s: 4"


def _stored_seqs(db: InfluxTestDB) -> set[int]:
    return {int(row["seq"]) for row in db.query("SELECT seq FROM meter WHERE site = 'test-site'")}


@pytest.mark.parametrize(
    ("shared_group", "collectors"),
    [(None, 1), ("shopfloor", 1), ("shopfloor", 2)],
    ids=["plain-subscription", "shared-group", "two-collectors-in-a-group"],
)
def test_a_broker_restart_under_load_loses_nothing(
    tmp_path: Path,
    mosquitto_factory: Callable[..., Mosquitto],
    meter_server: Callable[..., MeterServer],
    influxd: Influxd,
    influx_db: InfluxTestDB,
    run_collector: Callable[[CollectorSettings], CollectorRuntime],
    shared_group: str | None,
    collectors: int,
) -> None:
    broker = mosquitto_factory()
    for n in range(collectors):
        path = collector_yaml(
            tmp_path / f"c{n}.yaml",
            collector_id=f"restart-{n}",
            broker_port=broker.port,
            influx_url=influxd.url,
            database=influx_db.database,
            shared_group=shared_group,
        )
        # The collector comes back after the edge: the window in which a shared subscription is missing.
        path.write_text(path.read_text().replace("reconnect_min_s: 0.5\n  reconnect_max_s: 2", RECONNECT_LATE))
        assert RECONNECT_LATE in path.read_text()
        run_collector(load(path))
    profile = library().get("eastron-sdm120")
    server = meter_server([meter(unit, profile) for unit in range(1, DEVICES + 1)])
    bus = {
        "name": "tcp",
        "tcp": f"127.0.0.1:{server.port}",
        "timeout_s": 0.05,
        "devices": [
            {"id": f"m{unit}", "unit_id": unit, "profile": "eastron-sdm120", "interval_s": INTERVAL_S}
            for unit in range(1, DEVICES + 1)
        ],
    }
    config = write_config(tmp_path, broker.port, [bus], edge_id="restart-edge")
    with running_agent(config) as agent:
        wait_until(lambda: len(_stored_seqs(influx_db)) >= 50, 30, "readings flowing into InfluxDB")
        broker.stop()
        broker.start()  # same port, same persistence file
        produced_at_restart = agent.outbox.next_seq
        wait_until(lambda: agent.outbox.next_seq >= produced_at_restart + 100, 30, "readings after the restart")
        last = agent.outbox.next_seq
        # Every seq the edge made up to `last` (readings only: this edge publishes no events) is in InfluxDB.
        wait_until(lambda: set(range(last)) <= _stored_seqs(influx_db), 60, "every reading stored")
    missing = sorted(set(range(last)) - _stored_seqs(influx_db))
    assert missing == []
