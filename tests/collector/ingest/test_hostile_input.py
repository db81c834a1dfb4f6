"""Hostile and malformed messages through a real mosquitto, collector and influxd: each one is dead-lettered
with its reason whole, the good messages sent around them land, and nothing reaches InfluxDB changed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings
from simulator.services import Influxd, Mosquitto, wait_until
from tests.collector.traffic import Publisher, base_ts_ms, collector_yaml, load, reading
from tests.harness.influx import InfluxTestDB

pytestmark = pytest.mark.integration

TOPIC = "shopfloor/v1/hostile-site/m01/reading"


def _custom(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {**body, "values": {name: {"value": 7.0, "unit": "u"}, "power": 8.0}}


def test_hostile_messages_are_dead_lettered_whole_and_the_good_ones_land(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxd: Influxd,
    influx_db: InfluxTestDB,
    run_collector: Callable[[CollectorSettings], CollectorRuntime],
) -> None:
    runtime = run_collector(
        load(
            collector_yaml(
                tmp_path / "c.yaml",
                collector_id="hostile-1",
                broker_port=mosquitto.port,
                influx_url=influxd.url,
                database=influx_db.database,
            )
        )
    )
    t0 = base_ts_ms()
    good = [reading(1, i, t0) for i in range(5)]
    # The models strip whitespace around ids (docs/contract.md): this one is stored, under "edge-1".
    good.append({**reading(1, 5, t0), "edge": "edge-1\n"})
    long_key = "x_" + "k" * 70_000
    hostile: dict[str, tuple[str, bytes]] = {
        # A trailing backslash would escape the '=' and merge two fields into one (issue 14).
        "field-merging name": (TOPIC, json.dumps(_custom(reading(1, 10, t0), "x_q\\")).encode()),
        "number as a string": (TOPIC, json.dumps({**reading(1, 12, t0), "seq": "12"}).encode()),
        "seq beyond int64": (TOPIC, json.dumps({**reading(1, 13, t0), "seq": 2**63}).encode()),
        "a week in the future": (TOPIC, json.dumps(reading(1, 14, int(time.time() * 1000) + 7 * 86_400_000)).encode()),
        "a 70,000-character key": (TOPIC, json.dumps(_custom(reading(1, 15, t0), long_key)).encode()),
    }
    messages = [(TOPIC, json.dumps(body).encode()) for body in good[:3]]
    messages += list(hostile.values())
    messages += [(TOPIC, json.dumps(body).encode()) for body in good[3:]]
    publisher = Publisher(mosquitto.host, mosquitto.port)
    try:
        publisher.publish_all(messages)
    finally:
        publisher.close()
    wait_until(lambda: runtime.dead_letters.count() == len(hostile), 15, "every hostile message dead-lettered")
    wait_until(lambda: influx_db.scalar("SELECT count(power) FROM meter") == len(good), 15, "the good ones stored")

    reasons = [letter.reason for letter in runtime.dead_letters.entries(limit=100)]
    assert any("ends with a backslash" in reason for reason in reasons)
    assert any("ahead of the collector's clock" in reason for reason in reasons)
    assert any("valid integer" in reason for reason in reasons)  # "12" is not coerced
    assert any("less than or equal to 9223372036854775807" in reason for reason in reasons)
    # The long key's letter still says why, though the name itself is cut in the reason.
    assert any(
        "unknown quantity" in reason or "cannot be stored" in reason or "at most" in reason for reason in reasons
    )
    fields = {row["fieldKey"] for row in influx_db.query("SHOW FIELD KEYS FROM meter")}
    assert "power" in fields and not any("\\" in name or "," in name for name in fields)
    seqs = sorted(int(row["seq"]) for row in influx_db.query("SELECT seq FROM meter"))
    assert seqs == [0, 1, 2, 3, 4, 5]
    edges = {row["value"] for row in influx_db.query('SHOW TAG VALUES FROM meter WITH KEY = "edge"')}
    assert edges == {"edge-1"}
