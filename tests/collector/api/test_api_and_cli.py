"""The HTTP API (create_app with a running collector) and the dead-letters CLI, with real mosquitto and influxd."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings
from collector.storage.spool import Spool
from shopfloor.cli import main
from simulator.services import Influxd, Mosquitto, wait_until
from tests.collector.traffic import Publisher, base_ts_ms, collector_yaml, load, reading
from tests.harness.api import api_client
from tests.harness.influx import InfluxTestDB

pytestmark = pytest.mark.integration


def test_health_metrics_dead_letters_and_requeue_over_http(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxd: Influxd,
    influx_db: InfluxTestDB,
    run_collector: Callable[[CollectorSettings], CollectorRuntime],
) -> None:
    settings = load(
        collector_yaml(
            tmp_path / "c.yaml",
            collector_id="api-1",
            broker_port=mosquitto.port,
            influx_url=influxd.url,
            database=influx_db.database,
        )
    )
    runtime = run_collector(settings)
    body = reading(3, 1, base_ts_ms())
    good_topic = "shopfloor/v1/test-site/m03/reading"
    wrong = {**body, "values": {"power": {"value": 2.5, "unit": "kW"}}}
    publisher = Publisher(mosquitto.host, mosquitto.port)
    try:
        publisher.publish_all([(good_topic, json.dumps(body).encode()), (good_topic, json.dumps(wrong).encode())])
    finally:
        publisher.close()
    wait_until(lambda: runtime.dead_letters.count() == 1, 10, "dead letter stored")
    wait_until(lambda: influx_db.scalar("SELECT count(power) FROM meter") == 1, 10, "good reading stored")

    with api_client(settings, runtime) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["broker"] and ready.json()["influxdb"]
        metrics = client.get("/metrics").text
        assert 'shopfloor_collector_messages_received_total{kind="reading"} 1.0' in metrics
        assert 'shopfloor_collector_last_message_age_seconds{device="m03",site="test-site"}' in metrics
        assert "shopfloor_collector_write_latency_seconds_count" in metrics
        assert "shopfloor_collector_spool_depth_points" in metrics
        [letter] = client.get("/api/dead-letters").json()
        assert letter["topic"] == good_topic and letter["kind"] == "contract"
        assert "power.unit must be 'W'" in letter["reason"] and "kW" in letter["reason"]
        assert client.get(f"/api/dead-letters/{letter['id']}").json()["payload"] == json.dumps(wrong)
        assert client.get("/api/dead-letters/999999").status_code == 404
        # Still wrong as stored: kept, with the reason.
        kept = client.post(f"/api/dead-letters/{letter['id']}/requeue")
        assert kept.status_code == 422 and "still invalid" in kept.json()["detail"][0]["msg"]
        fixed = {**wrong, "ts_ms": body["ts_ms"] + 1000, "seq": 2, "values": {"power": {"value": 2500.0, "unit": "W"}}}
        done = client.post(
            f"/api/dead-letters/{letter['id']}/requeue",
            content=json.dumps(fixed),
            headers={"Content-Type": "application/json"},
        ).json()
        assert done == {"id": letter["id"], "requeued": True, "detail": "1 point(s) spooled"}
        assert client.get("/api/dead-letters").json() == []
        assert "/api/dead-letters" in client.get("/openapi.json").json()["paths"]
    wait_until(lambda: influx_db.scalar("SELECT count(power) FROM meter") == 2, 10, "requeued reading stored")


def test_readyz_is_503_without_influxdb(tmp_path: Path, mosquitto: Mosquitto) -> None:
    settings = load(
        collector_yaml(
            tmp_path / "c.yaml",
            collector_id="api-2",
            broker_port=mosquitto.port,
            influx_url="http://127.0.0.1:9",
            database="x",
        )
    )
    runtime = CollectorRuntime(settings)
    try:
        with api_client(settings, runtime) as client:
            response = client.get("/readyz")
            assert response.status_code == 503
            assert response.json()["influxdb"] is False and response.json()["broker"] is False
    finally:
        runtime.stop()


def test_dead_letters_cli_list_show_and_requeue_after_an_edit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from collector.storage.dead_letters import CONTRACT, DeadLetterStore, NewDeadLetter

    config = collector_yaml(
        tmp_path / "c.yaml", collector_id="cli-1", broker_port=1883, influx_url="http://127.0.0.1:8086", database="x"
    )
    settings = load(config)
    store = DeadLetterStore(settings.dead_letters.path)
    body = reading(1, 1, base_ts_ms())
    bad = {**body, "quality": "great"}
    store.add_many(
        [
            NewDeadLetter("shopfloor/v1/test-site/m01/reading", json.dumps(bad).encode(), "quality: bad", CONTRACT),
            NewDeadLetter("shopfloor/v1/test-site/m01/reading", b"{", "payload: not valid JSON", CONTRACT),
        ]
    )
    store.close()

    assert main(["collector", "dead-letters", "list", str(config)]) == 0
    out = capsys.readouterr().out
    assert "quality: bad" in out and "2 shown, 2 not requeued" in out
    assert main(["collector", "dead-letters", "show", str(config), "1"]) == 0
    assert '"quality": "great"' in capsys.readouterr().out
    assert main(["collector", "dead-letters", "show", str(config), "42"]) == 2

    edited = tmp_path / "fixed.json"
    edited.write_text(json.dumps(body))
    assert main(["collector", "dead-letters", "requeue", str(config), "1", "--payload", str(edited)]) == 0
    assert "1: requeued: 1 point(s) spooled" in capsys.readouterr().out
    assert main(["collector", "dead-letters", "requeue", str(config), "--all"]) == 1
    assert "2: kept: still invalid: payload" in capsys.readouterr().out
    spool = Spool(settings.spool.path, 1000, 10_000_000)
    batch = spool.peek(100)
    assert batch is not None and len(batch.lines) == 1 and batch.lines[0].startswith("meter,device=m01,")


def test_app_without_a_runtime_runs_its_own(
    tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd, influx_db: InfluxTestDB
) -> None:
    settings = load(
        collector_yaml(
            tmp_path / "c.yaml",
            collector_id="api-3",
            broker_port=mosquitto.port,
            influx_url=influxd.url,
            database=influx_db.database,
        )
    )
    with api_client(settings) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, 10, "own runtime ready")
        assert client.get("/api/dead-letters").json() == []
