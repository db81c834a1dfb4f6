"""A flood of 5,000 invented site ids against a real mosquitto and influxd: within ingest.limits a few are
admitted, the rest are dead-lettered (up to the store's cap) and counted; /metrics stays bounded, InfluxDB
gets no new site beyond the limit, and the known sites' traffic still lands."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings
from collector.storage.dead_letters import CARDINALITY
from simulator.services import Influxd, Mosquitto, wait_until
from tests.collector.traffic import Publisher, collector_yaml, load
from tests.harness.influx import InfluxTestDB

pytestmark = pytest.mark.integration

SITES = ("gent", "brussels-reuse", "mechelen")
FLOOD = 5000


def _reading(site: str, seq: int, ts_ms: int) -> tuple[str, bytes]:
    body = {
        "ts_ms": ts_ms,
        "seq": seq,
        "edge": f"{site}-pi",
        "device": "main",
        "profile": "eastron-sdm630@1",
        "quality": "ok",
        "values": {"power": 1000.0 + seq, "energy_import": 12.5},
    }
    return f"shopfloor/v1/{site}/main/reading", json.dumps(body).encode()


def _sample(runtime: CollectorRuntime, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in runtime.metrics.render().decode().splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def test_5000_invented_sites_are_refused_counted_and_leave_metrics_bounded(
    tmp_path: Path,
    mosquitto_factory: Callable[..., Mosquitto],
    influxd: Influxd,
    influx_db: InfluxTestDB,
    run_collector: Callable[[CollectorSettings], CollectorRuntime],
) -> None:
    # A broker of its own: retained messages of other tests' sites would take first-seen slots and skew the counts.
    mosquitto = mosquitto_factory()
    path = collector_yaml(
        tmp_path / "c.yaml",
        collector_id="flood-1",
        broker_port=mosquitto.port,
        influx_url=influxd.url,
        database=influx_db.database,
    )
    path.write_text(path.read_text() + "sites:\n" + "".join(f"  {site}: {{}}\n" for site in SITES))
    settings = load(path)
    limit = settings.ingest.limits.max_sites
    cap = settings.dead_letters.max_cardinality_letters
    runtime = run_collector(settings)
    now_ms = int(time.time() * 1000)
    publisher = Publisher(mosquitto.host, mosquitto.port)
    try:
        publisher.publish_all([_reading(site, 1, now_ms - 60_000) for site in SITES])
        wait_until(lambda: influx_db.scalar("SELECT count(power) FROM meter") == 3, 15, "the three sites stored")
        baseline = len(runtime.metrics.render())

        publisher.publish_all([_reading(f"fake-{i:04d}", 1, now_ms - 30_000) for i in range(FLOOD)])
        publisher.publish_all([_reading(site, 2, now_ms) for site in SITES])  # known traffic after the flood
        refused = FLOOD - limit
        wait_until(
            lambda: _sample(runtime, "shopfloor_collector_cardinality_refused_total") == refused, 180, "flood counted"
        )
        wait_until(
            lambda: (
                influx_db.scalar("SELECT count(power) FROM meter WHERE site =~ /^(gent|brussels-reuse|mechelen)$/") == 6
            ),
            30,
            "the known sites' readings after the flood",
        )
    finally:
        publisher.close()

    after = len(runtime.metrics.render())
    # Bounded by the limit, not by the flood: 5,000 sites unchecked took /metrics from 4.8 KB to 530 KB.
    assert after <= 2 * baseline, (baseline, after)
    # Dead-lettered up to the cap, the rest counted as dropped; the other letters keep their room.
    assert runtime.dead_letters.count(CARDINALITY) == cap
    assert _sample(runtime, 'shopfloor_collector_dead_letters_dropped_total{why="cap"}') == refused - cap
    assert _sample(runtime, 'shopfloor_collector_messages_dead_lettered_total{reason_kind="cardinality_limit"}') == cap
    [letter] = runtime.dead_letters.entries(limit=1, kind=CARDINALITY)
    assert letter.site is None and letter.reason.startswith("cardinality_limit: site 'fake-")
    assert "ingest.limits.max_sites" in letter.reason
    # InfluxDB: the configured sites and the first-seen ones within the limit; no more (what compare lists).
    wait_until(lambda: runtime.spool.depth_lines == 0, 30, "spool drained")
    stored_sites = {row["value"] for row in influx_db.query('SHOW TAG VALUES FROM meter WITH KEY = "site"')}
    assert len(stored_sites) == len(SITES) + limit and set(SITES) <= stored_sites
    marker_sites = {row["value"] for row in influx_db.query('SHOW TAG VALUES FROM dead_letter WITH KEY = "site"')}
    assert marker_sites == {"unknown"}
