"""Issue 13's requeue attack, replayed against a real mosquitto and influxd: a valid reading older than the
retention becomes a write_rejected letter; a requeue with a raw line for another site is refused at every
step, and InfluxDB (checked with InfluxQL) gets no other-site point and no new measurement. An edited, valid
contract payload requeues and arrives, under the letter's own site."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings
from collector.storage.dead_letters import WRITE_REJECTED, NewDeadLetter
from simulator.services import Influxd, Mosquitto, wait_until
from tests.collector.traffic import Publisher, collector_yaml, load
from tests.harness.api import api_client
from tests.harness.influx import InfluxTestDB

pytestmark = pytest.mark.integration

TOPIC = "shopfloor/v1/gent/main/reading"


def _reading(ts_ms: int, seq: int) -> dict[str, object]:
    return {
        "ts_ms": ts_ms,
        "seq": seq,
        "edge": "gent-pi",
        "device": "main",
        "profile": "eastron-sdm630@1",
        "quality": "ok",
        "values": {"power": 1234.5, "energy_import": 42.25},
    }


def _measurements(db: InfluxTestDB) -> set[str]:
    return {row["name"] for row in db.query("SHOW MEASUREMENTS")}


def test_a_raw_line_requeue_is_refused_and_an_edited_contract_payload_lands(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxd: Influxd,
    influx_db: InfluxTestDB,
    run_collector: Callable[[CollectorSettings], CollectorRuntime],
) -> None:
    influx_db.query(f'ALTER RETENTION POLICY "autogen" ON "{influx_db.database}" DURATION 1h SHARD DURATION 1h')
    path = collector_yaml(
        tmp_path / "c.yaml",
        collector_id="requeue-attack",
        broker_port=mosquitto.port,
        influx_url=influxd.url,
        database=influx_db.database,
    )
    path.write_text(path.read_text() + "sites:\n  gent: {}\n  brussels-reuse: {}\n")
    settings = load(path)
    runtime = run_collector(settings)
    now_ms = int(time.time() * 1000)
    old = _reading(now_ms - 3 * 3_600_000, 1)  # valid, but older than the 1 h retention

    publisher = Publisher(mosquitto.host, mosquitto.port)
    try:
        publisher.publish_all([(TOPIC, json.dumps(old).encode())])
    finally:
        publisher.close()
    store = runtime.dead_letters
    wait_until(lambda: store.count(WRITE_REJECTED) == 1, 15, "the old reading dead-lettered as write_rejected")
    wait_until(lambda: "dead_letter" in _measurements(influx_db), 15, "its dead_letter marker written")
    [letter] = store.entries(kind=WRITE_REJECTED)
    # The letter keeps the contract message (topic and payload), and the refused line beside it.
    assert letter.topic == TOPIC and letter.site == "gent"
    assert json.loads(letter.payload)["ts_ms"] == old["ts_ms"] and json.loads(letter.payload)["device"] == "main"
    assert letter.line is not None and letter.line.startswith("meter,device=main,edge=gent-pi,site=gent ")
    assert "retention" in letter.reason
    before = _measurements(influx_db)
    assert "repair_event" not in before

    attack = (
        "repair_event,site=brussels-reuse,station=s1,type=finished "
        f"fixed=1,kg_diverted=1000,co2e_kg=99999 {now_ms * 1_000_000}"
    )
    url = f"/api/dead-letters/{letter.id}/requeue"
    with api_client(settings, runtime) as client:
        as_text = client.post(url, content=attack, headers={"Content-Type": "text/plain"})
        assert as_text.status_code == 415 and "line protocol is never accepted" in as_text.json()["detail"]
        bare = client.post(url, content=attack.encode(), headers={"Content-Type": ""})
        assert bare.status_code == 415
        as_json = client.post(url, content=attack, headers={"Content-Type": "application/json"})
        assert as_json.status_code == 422 and "never line protocol" in as_json.json()["detail"][0]["msg"]
        # A contract payload cannot move the letter either: the topic (gent, main, reading) is the letter's.
        event = {"event_id": "x", "ts_ms": now_ms, "station": "s1", "type": "finished", "repair_status": "Fixed"}
        for body in (event, {**old, "ts_ms": now_ms, "site": "brussels-reuse"}, {**old, "device": "other"}):
            refused = client.post(url, json=body)
            assert refused.status_code == 422, body
            assert "still invalid" in refused.json()["detail"][0]["msg"]

        # A letter from before contract messages were kept holds only a line: never requeued.
        [(lines_only, _)] = store.add_many(
            [NewDeadLetter("", attack.encode(), "HTTP 400: partial write", WRITE_REJECTED, "brussels-reuse")]
        )
        lines_only_id = next(e.id for e in store.entries(kind=WRITE_REJECTED) if not e.topic)
        for kwargs in ({}, {"json": {**old, "ts_ms": now_ms}}):
            stale = client.post(f"/api/dead-letters/{lines_only_id}/requeue", **kwargs)  # type: ignore[arg-type]
            assert stale.status_code == 409 and "re-publish the data from the edge" in stale.json()["detail"]

        shown = client.get(f"/api/dead-letters/{letter.id}").json()
        assert shown["rejected_line"] == letter.line and shown["requeued_at_ms"] is None
        assert runtime.spool.depth_lines == 0  # nothing was spooled by any of the above

        fixed = {**old, "ts_ms": now_ms - 60_000, "seq": 2}
        done = client.post(url, json=fixed)
        assert done.status_code == 200 and done.json() == {
            "id": letter.id,
            "requeued": True,
            "detail": "1 point(s) spooled",
        }
        assert client.post(url, json=fixed).status_code == 409  # already requeued

    wait_until(
        lambda: influx_db.scalar("SELECT count(power) FROM meter WHERE site = 'gent'") == 1, 15, "requeued reading"
    )
    assert influx_db.scalar("SELECT last(power) FROM meter WHERE site = 'gent'") == 1234.5
    assert _measurements(influx_db) == before | {"meter"}
    assert [row["value"] for row in influx_db.query('SHOW TAG VALUES FROM meter WITH KEY = "site"')] == ["gent"]
    assert influx_db.query("SELECT * FROM repair_event") == []
    assert influx_db.query("SELECT * FROM /.*/ WHERE site = 'brussels-reuse'") == []
    assert lines_only is not None and store.get(lines_only_id) is not None
    assert store.get(lines_only_id).requeued_at_ms is None  # type: ignore[union-attr]
