"""Bounded stores and answers, with a real mosquitto and influxd: the dead-letter store, list pages, request
bodies, and 422 answers that never echo the whole input."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings
from collector.storage.dead_letters import CONTRACT, DeadLetterStore, NewDeadLetter
from simulator.services import Influxd, Mosquitto, wait_until
from tests.collector.traffic import Publisher, base_ts_ms, collector_yaml, load, reading
from tests.harness.api import api_client
from tests.harness.influx import InfluxTestDB

pytestmark = pytest.mark.integration

MB = 1_000_000


@pytest.fixture
def bounded(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxd: Influxd,
    influx_db: InfluxTestDB,
    run_collector: Callable[[CollectorSettings], CollectorRuntime],
) -> Iterator[tuple[CollectorRuntime, CollectorSettings]]:
    path = collector_yaml(
        tmp_path / "c.yaml",
        collector_id="bounds-1",
        broker_port=mosquitto.port,
        influx_url=influxd.url,
        database=influx_db.database,
    )
    path.write_text(path.read_text().replace("-dead.sqlite\n", "-dead.sqlite\n  max_bytes: 25000000\n"))
    settings = load(path)
    assert settings.dead_letters.max_bytes == 25 * MB
    yield run_collector(settings), settings


def test_twenty_10_mb_bad_messages_leave_the_store_under_its_bound_and_the_good_ones_land(
    bounded: tuple[CollectorRuntime, CollectorSettings], mosquitto: Mosquitto, influx_db: InfluxTestDB
) -> None:
    runtime, _ = bounded
    t0 = base_ts_ms()
    topic = "shopfloor/v1/test-site/m01/reading"
    messages: list[tuple[str, bytes]] = []
    for i in range(20):
        messages.append((topic, json.dumps(reading(1, i, t0)).encode()))
        messages.append((topic, b"{" + bytes([65 + i]) * (10 * MB)))  # not JSON, 10 MB, each one different
    publisher = Publisher(mosquitto.host, mosquitto.port, inflight=4)
    try:
        publisher.publish_all(messages, timeout=120)
    finally:
        publisher.close()
    wait_until(lambda: influx_db.scalar("SELECT count(power) FROM meter") == 20, 60, "every good reading stored")
    store = runtime.dead_letters
    wait_until(lambda: store.count() + _dropped(runtime) == 20, 60, "every bad message dead-lettered or counted")
    assert store.size_bytes <= 25 * MB
    assert store.path.stat().st_size < 60 * MB  # the file itself, WAL aside, stays near the bound
    kept = store.entries(limit=100)
    assert kept and all(letter.truncated and len(letter.payload) == 65_536 for letter in kept)
    assert all(letter.payload_bytes == 10 * MB + 1 for letter in kept)
    assert "not valid JSON" in kept[0].reason


def _dropped(runtime: CollectorRuntime) -> int:
    text = runtime.metrics.render().decode()
    return sum(
        int(float(line.split()[-1]))
        for line in text.splitlines()
        if line.startswith("shopfloor_collector_dead_letters_dropped_total")
    )


def test_the_oldest_letters_go_first_and_are_counted(tmp_path: Path) -> None:
    drops: list[tuple[str, int]] = []
    store = DeadLetterStore(
        tmp_path / "d.sqlite", max_bytes=1_000_000, max_payload_bytes=400_000, on_drop=lambda *d: drops.append(d)
    )
    for i in range(5):
        store.add_many([NewDeadLetter(f"t/{i}", bytes([i]) * 300_000, "bad", CONTRACT, "gent")])
    assert store.size_bytes <= 1_000_000
    assert [letter.topic for letter in store.entries()] == ["t/2", "t/3", "t/4"]
    assert sum(count for why, count in drops if why == "size") == 2
    requeued = store.entries()[0]
    assert not requeued.truncated and requeued.site == "gent"


def test_list_pages_are_bounded_and_show_only_the_head_of_each_payload(
    bounded: tuple[CollectorRuntime, CollectorSettings],
) -> None:
    runtime, settings = bounded
    runtime.dead_letters.add_many([NewDeadLetter("t", b"x" * 50_000, "bad", CONTRACT, "gent")])
    with api_client(settings, runtime) as client:
        assert client.get("/api/dead-letters?limit=10000").status_code == 422
        # Only ours: the runtime listens on the worker's shared broker, where other tests leave retained junk.
        [letter] = [one for one in client.get("/api/dead-letters?limit=500").json() if one["topic"] == "t"]
        assert len(letter["payload"]) == 1024 and letter["payload_complete"] is False
        assert letter["payload_bytes"] == 50_000
        whole = client.get(f"/api/dead-letters/{letter['id']}").json()
        assert len(whole["payload"]) == 50_000 and whole["payload_complete"] is True
        assert client.get("/api/dead-letters?kind=bogus").status_code == 422
        assert client.get("/api/dead-letters/21292263898429652992").status_code == 422
        assert client.get("/api/dead-letters?offset=40000000000000000000000").status_code == 422


def test_a_2_mb_body_is_refused_with_413_and_422_answers_do_not_echo_the_input(
    bounded: tuple[CollectorRuntime, CollectorSettings],
) -> None:
    runtime, settings = bounded
    with api_client(settings, runtime) as client:
        big = client.post("/api/sites/gent/events", content=b"[" + b" " * (2 * MB) + b"]")
        assert big.status_code == 413 and "http.max_body_bytes" in big.json()["detail"]
        chunked = client.post("/api/sites/gent/events", content=iter([b"[", b" " * (2 * MB), b"]"]))
        assert chunked.status_code == 413
        huge_string = "y" * 500_000
        answer = client.post("/api/sites/gent/events", json={"not": huge_string})
        assert answer.status_code == 422
        assert len(answer.content) < 2000
        assert isinstance(answer.json()["detail"], list)
        bad_time = client.get("/api/sites/gent/kpis?from=" + "z" * 5000)
        assert bad_time.status_code == 422 and isinstance(bad_time.json()["detail"], list)
        assert len(bad_time.content) < 2000


def test_days_beyond_its_cap_says_to_use_from_and_to(bounded: tuple[CollectorRuntime, CollectorSettings]) -> None:
    runtime, settings = bounded
    with api_client(settings, runtime) as client:
        answer = client.get("/api/sites/gent/kpis?days=5000")
        assert answer.status_code == 422
        [error] = answer.json()["detail"]
        assert "3660" in error["msg"] and "'from' and 'to'" in error["msg"]
        unknown = client.get("/api/sites/gnet/kpis")
        assert unknown.status_code == 404 and "known sites" in unknown.json()["detail"]


def test_times_beyond_what_influxdb_can_answer_are_422_not_503(
    bounded: tuple[CollectorRuntime, CollectorSettings], influx_db: InfluxTestDB
) -> None:
    runtime, settings = bounded
    influx_db.write("meter,site=bad\\ site,device=main power=1.0 1763900000000", precision="ms")
    with api_client(settings, runtime) as client:
        for query in ("from=100000000000000000000", "to=99999999999999999", "from=9999-01-01T00:00:00Z"):
            answer = client.get(f"/api/kpis/compare?{query}")
            assert answer.status_code == 422, (query, answer.text)
        # A site tag that is no contract id (another tool wrote it) is not a site: compare still answers.
        compare = client.get("/api/kpis/compare?days=30")
        assert compare.status_code == 200 and "bad site" not in compare.text
