"""Acceptance, volume: 100,000 readings from 50 devices land exactly once; 5% malformed ones are dead-lettered.

Real mosquitto and real influxd (tests/conftest.py); the collector runs in-process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings
from collector.storage.dead_letters import CONTRACT
from simulator.services import Influxd, Mosquitto, wait_until
from tests.collector.traffic import Publisher, base_ts_ms, collector_yaml, load, malformed, mix, readings
from tests.harness.influx import InfluxTestDB

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEVICES = 50
PER_DEVICE = 2000
BAD = 5000


def test_100k_readings_exactly_once_and_malformed_ones_dead_lettered(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxd: Influxd,
    influx_db: InfluxTestDB,
    run_collector: Callable[[CollectorSettings], CollectorRuntime],
) -> None:
    settings = load(
        collector_yaml(
            tmp_path / "collector.yaml",
            collector_id="vol-1",
            broker_port=mosquitto.port,
            influx_url=influxd.url,
            database=influx_db.database,
        )
    )
    runtime = run_collector(settings)
    t0 = base_ts_ms()
    traffic = mix(list(readings(DEVICES, PER_DEVICE, t0)), list(malformed(BAD, t0)))
    publisher = Publisher(mosquitto.host, mosquitto.port)
    try:
        publisher.publish_all(traffic)
    finally:
        publisher.close()

    def stored() -> int:
        return int(influx_db.scalar("SELECT count(power) FROM meter") or 0)

    wait_until(lambda: stored() >= DEVICES * PER_DEVICE and runtime.dead_letters.count() >= BAD, 90, "all points")
    wait_until(lambda: runtime.spool.depth_lines == 0, 30, "spool drained")
    assert stored() == DEVICES * PER_DEVICE
    per_device = influx_db.query("SELECT count(power) FROM meter GROUP BY device")
    assert len(per_device) == DEVICES
    assert {row["count"] for row in per_device} == {PER_DEVICE}
    # Ten fields per reading, each stored once.
    assert influx_db.scalar("SELECT count(frequency) FROM meter") == DEVICES * PER_DEVICE
    assert influx_db.scalar("SELECT sum(seq) FROM meter WHERE device = 'm07'") == sum(range(PER_DEVICE))

    letters = runtime.dead_letters.entries(limit=BAD + 10)
    assert len(letters) == BAD
    assert {letter.kind for letter in letters} == {CONTRACT}
    reasons = " | ".join({letter.reason.split(":")[0] for letter in letters})
    assert {"payload", "values", "device", "topic.kind"} <= set(reasons.split(" | "))
    assert all(letter.payload and letter.topic and letter.received_at_ms for letter in letters)
    wait_until(lambda: influx_db.scalar("SELECT sum(count) FROM dead_letter") == BAD, 30, "dead_letter points")
    metrics = runtime.metrics.render().decode()
    assert f'shopfloor_collector_messages_dead_lettered_total{{reason_kind="contract"}} {float(BAD)}' in metrics
    assert f'shopfloor_collector_messages_received_total{{kind="reading"}} {float(DEVICES * PER_DEVICE)}' in metrics


def test_backlog_batches_validated_in_worker_processes(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxd: Influxd,
    influx_db: InfluxTestDB,
    run_collector: Callable[[CollectorSettings], CollectorRuntime],
) -> None:
    """decode_workers: ReadingBatch messages are validated in worker processes, still acked after commit."""
    import json

    from shopfloor.contract import Kind, build_topic
    from tests.collector.traffic import reading

    config = collector_yaml(
        tmp_path / "collector.yaml",
        collector_id="workers-1",
        broker_port=mosquitto.port,
        influx_url=influxd.url,
        database=influx_db.database,
    )
    config.write_text(config.read_text().replace("session_expiry_s: 300", "session_expiry_s: 300\n  decode_workers: 1"))
    runtime = run_collector(load(config))
    t0 = base_ts_ms()
    topic = build_topic("test-site", "edge-1", Kind.BATCH)
    batches = [
        (topic, json.dumps({"edge": "edge-1", "readings": [reading(d, b * 10 + d, t0) for d in range(10)]}).encode())
        for b in range(30)
    ]
    batches.insert(7, (topic, json.dumps({"edge": "edge-1", "readings": []}).encode()))
    publisher = Publisher(mosquitto.host, mosquitto.port)
    try:
        publisher.publish_all(batches)
    finally:
        publisher.close()
    wait_until(lambda: influx_db.scalar("SELECT count(power) FROM meter") == 300, 30, "batch points stored")
    wait_until(lambda: runtime.dead_letters.count() == 1, 10, "empty batch dead-lettered")
    [letter] = runtime.dead_letters.entries()
    assert letter.reason.startswith("readings:")
