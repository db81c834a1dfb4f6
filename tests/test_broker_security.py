"""Broker security. TLS to the broker, end to end: a Modbus meter -> `shopfloor edge run` -> mosquitto with a TLS
listener that requires client certificates -> `shopfloor collector run` -> influxd.

Certificates come from a throwaway CA made by the test (tests/harness/tls.py); mosquitto, the
edge and the collector are the real programs with the config blocks a site would write.
"""

from __future__ import annotations

import glob
import json
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopfloor.contract import MeterReading, Quality, encode
from shopfloor.mqtt import CLOSED_BEFORE_CONNACK
from simulator.meter_server import MeterServer
from simulator.services import Mosquitto, free_port, wait_until
from tests.edge.helpers import KNOWN_VALUES, library, meter, write_config
from tests.harness.influx import InfluxTestDB
from tests.harness.mqtt import MqttProbe
from tests.harness.processes import command, readiness, running
from tests.harness.tls import Pki, make_pki

pytestmark = pytest.mark.integration

DEVICE = "tls-meter"


def tls_block(ca_file: Path, pki: Pki, client_certificate: bool = True) -> dict[str, str]:
    block = {"ca_file": str(ca_file)}
    if client_certificate:
        block |= {"cert_file": str(pki.client_cert), "key_file": str(pki.client_key)}
    return block


def broker_block(broker: Mosquitto, tls: dict[str, str]) -> dict[str, Any]:
    return {"host": broker.host, "port": broker.port, "tls": tls, "reconnect_min_s": 0.5, "reconnect_max_s": 2}


def collector_config(path: Path, broker: dict[str, Any], db: InfluxTestDB, http_port: int) -> Path:
    config = {
        "collector_id": "tls-collector",
        "broker": broker,
        "influx": {"version": 1, "url": db.url, "database": db.database, "retry_max_s": 2},
        "spool": {"path": str(path.parent / "spool.sqlite")},
        "dead_letters": {"path": str(path.parent / "dead.sqlite")},
        "http": {"port": http_port},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def edge_config(directory: Path, server: MeterServer, broker: dict[str, Any]) -> Path:
    bus = {
        "name": "tcp",
        "tcp": f"127.0.0.1:{server.port}",
        "devices": [{"id": DEVICE, "unit_id": 1, "profile": "eastron-sdm120", "interval_s": 0.5}],
    }
    return write_config(directory, broker["port"], [bus], broker=broker)


def turned_away(collector_yaml: Path, http_port: int, log: Path, logged: str) -> tuple[int, dict[str, Any], str]:
    """Run a collector the broker will not serve: its /readyz answer and its log, once `logged` is in it."""
    with running(command("collector", "run", collector_yaml), log):
        wait_until(lambda: logged in log.read_text(), 30, f"{logged!r} in the collector's log")
        wait_until(lambda: readiness(http_port)[0] != 0, 60, "the collector's HTTP API")
        status, body = readiness(http_port)
    return status, body, log.read_text()


def outbox_next_seq(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT value FROM counters WHERE name='next_seq'").fetchone()
    return int(row[0]) if row else 0


def stored_seqs(db: InfluxTestDB) -> list[int]:
    return sorted(int(row["seq"]) for row in db.query(f"SELECT seq FROM meter WHERE device = '{DEVICE}'"))


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def tls_broker(pki: Pki, mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    return mosquitto_factory(extra_config=pki.mosquitto_listener(require_client_certificate=True))


@pytest.fixture
def sdm120(meter_server: Callable[..., MeterServer]) -> MeterServer:
    return meter_server([meter(1, library().get("eastron-sdm120"))])  # type: ignore[arg-type]


def test_readings_reach_influxdb_over_mutual_tls(
    tmp_path: Path, pki: Pki, tls_broker: Mosquitto, sdm120: MeterServer, influx_db: InfluxTestDB
) -> None:
    broker = broker_block(tls_broker, tls_block(pki.ca_file, pki))
    http_port = free_port()
    collector_yaml = collector_config(tmp_path / "collector.yaml", broker, influx_db, http_port)
    (tmp_path / "edge").mkdir()
    edge_yaml = edge_config(tmp_path / "edge", sdm120, broker)
    with running(command("collector", "run", collector_yaml), tmp_path / "collector.log"):
        # Ready means subscribed: the broker keeps what the edge sends from then on.
        wait_until(lambda: readiness(http_port)[0] == 200, 60, "collector ready over TLS")
        with running(command("edge", "run", edge_yaml), tmp_path / "edge.log"):
            wait_until(lambda: len(stored_seqs(influx_db)) >= 8, 30, "readings stored through the TLS broker")
    seqs = stored_seqs(influx_db)
    assert seqs == list(range(len(seqs))), "a reading went missing on the TLS path"
    voltage = influx_db.scalar(f"SELECT last(voltage_l1) FROM meter WHERE device = '{DEVICE}'")
    assert voltage == pytest.approx(KNOWN_VALUES["voltage_l1"], abs=1e-4)  # float32 on the wire


@pytest.mark.parametrize("mistake", ["no tls block", "no client certificate"])
def test_a_client_the_listener_turns_away_is_told_what_to_fix(
    mistake: str, tmp_path: Path, pki: Pki, tls_broker: Mosquitto, sdm120: MeterServer, influx_db: InfluxTestDB
) -> None:
    """The controls for the test above: without the tls block, or without a client certificate,
    the same programs get nowhere, and say which setting is missing."""
    if mistake == "no tls block":
        broker = {"host": tls_broker.host, "port": tls_broker.port, "reconnect_min_s": 0.5, "reconnect_max_s": 2}
    else:
        broker = broker_block(tls_broker, tls_block(pki.ca_file, pki, client_certificate=False))
    http_port = free_port()
    collector_yaml = collector_config(tmp_path / "collector.yaml", broker, influx_db, http_port)
    status, body, _ = turned_away(collector_yaml, http_port, tmp_path / "collector.log", CLOSED_BEFORE_CONNACK)
    assert (status, body["broker"]) == (503, False)
    edge_log = tmp_path / "edge.log"
    (tmp_path / "edge").mkdir()
    with running(command("edge", "run", edge_config(tmp_path / "edge", sdm120, broker)), edge_log):
        wait_until(lambda: CLOSED_BEFORE_CONNACK in edge_log.read_text(), 30, "the edge's hint")
    assert "keeping readings in the outbox" in edge_log.read_text()
    assert stored_seqs(influx_db) == []


@pytest.mark.slow
def test_a_wrong_ca_is_reported_with_its_fix_and_the_edge_loses_nothing(
    tmp_path: Path, pki: Pki, tls_broker: Mosquitto, sdm120: MeterServer, influx_db: InfluxTestDB
) -> None:
    right = broker_block(tls_broker, tls_block(pki.ca_file, pki))
    wrong = broker_block(tls_broker, tls_block(pki.other_ca_file, pki))
    http_port = free_port()
    (tmp_path / "edge").mkdir()

    # A collector pointed at the wrong CA: not ready, and its log says why and what to change.
    collector_yaml = collector_config(tmp_path / "collector.yaml", wrong, influx_db, http_port)
    status, body, logged = turned_away(collector_yaml, http_port, tmp_path / "collector-wrong.log", "TLS handshake")
    assert (status, body["broker"]) == (503, False)
    assert f"TLS handshake with MQTT broker 127.0.0.1:{tls_broker.port} failed" in logged
    assert "certificate verify failed" in logged
    assert "Fix: broker.tls.ca_file must be the CA that signed the broker's certificate" in logged

    # An edge pointed at the wrong CA keeps its readings in the outbox ...
    edge_log = tmp_path / "edge-wrong.log"
    outbox = tmp_path / "edge" / "outbox.db"
    with running(command("edge", "run", edge_config(tmp_path / "edge", sdm120, wrong)), edge_log):
        wait_until(lambda: "keeping readings in the outbox" in edge_log.read_text(), 30, "the edge's TLS error")
        wait_until(lambda: outbox_next_seq(outbox) >= 12, 30, "readings taken while the broker turns the edge away")
    assert "certificate verify failed" in edge_log.read_text()
    taken_offline = outbox_next_seq(outbox)

    # ... and once both are fixed, every one of them arrives.
    collector_config(tmp_path / "collector.yaml", right, influx_db, http_port)
    edge_config(tmp_path / "edge", sdm120, right)
    with running(command("collector", "run", collector_yaml), tmp_path / "collector.log"):
        wait_until(lambda: readiness(http_port)[0] == 200, 60, "collector ready over TLS")
        with running(command("edge", "run", tmp_path / "edge" / "edge.yaml"), tmp_path / "edge.log"):
            wait_until(
                lambda: set(range(taken_offline)) <= set(stored_seqs(influx_db)),
                30,
                "the readings of the outbox stored",
            )
    seqs = stored_seqs(influx_db)
    assert seqs == list(range(len(seqs))), "a reading went missing"


def test_a_certificate_with_the_wrong_key_is_a_config_error(tmp_path: Path, pki: Pki) -> None:
    """Found by `shopfloor edge check`, before the first connect, with the key named."""
    from edge.settings import load_settings
    from shopfloor.config import ConfigError

    tls = {"ca_file": str(pki.ca_file), "cert_file": str(pki.client_cert), "key_file": str(pki.server_key)}
    config = write_config(tmp_path, 8883, [], broker={"host": "127.0.0.1", "port": 8883, "tls": tls})
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    (problem,) = caught.value.problems
    assert problem.startswith("edge.yaml: broker.tls: ")
    assert f"cert_file {pki.client_cert} and key_file {pki.server_key} are not a matching" in problem

    tls["key_file"] = str(pki.client_key)
    config = write_config(tmp_path, 8883, [], broker={"host": "127.0.0.1", "port": 8883, "tls": tls})
    assert load_settings(config)[0].broker.tls is not None


def test_a_refused_subscription_is_logged_and_taken_once_the_acl_is_fixed(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], influx_db: InfluxTestDB
) -> None:
    """mosquitto's acl_file grants every subscription (it filters deliveries instead), so the refusal
    comes from its dynamic-security plugin, shipped with Debian's mosquitto: anonymous clients may
    only publish for one site. The ACL is then fixed on the running broker, with mosquitto_ctrl: the
    plugin drops the connections of the clients it concerns, and the collector subscribes again when it
    reconnects, without a restart."""
    (plugin,) = glob.glob("/usr/lib/*/mosquitto_dynamic_security.so") or ["mosquitto_dynamic_security.so missing"]
    rules_file = tmp_path / "dynsec.json"
    subprocess.run(
        ["mosquitto_ctrl", "dynsec", "init", str(rules_file), "admin", "admin-secret"], check=True, capture_output=True
    )
    rules = json.loads(rules_file.read_text(encoding="utf-8"))
    rules["groups"] = [{"groupname": "anonymous", "roles": [{"rolename": "site"}]}]
    rules["anonymousGroup"] = "anonymous"
    publish_own_site = {"acltype": "publishClientSend", "topic": "shopfloor/v1/gent-repair/#", "allow": True}
    rules["roles"].append({"rolename": "site", "acls": [publish_own_site]})
    rules_file.write_text(json.dumps(rules), encoding="utf-8")
    broker = mosquitto_factory(extra_config=f"plugin {plugin}\nplugin_opt_config_file {rules_file}\n")
    http_port = free_port()
    plain = {"host": broker.host, "port": broker.port, "reconnect_min_s": 0.5, "reconnect_max_s": 1}
    collector_yaml = collector_config(tmp_path / "collector.yaml", plain, influx_db, http_port)
    log = tmp_path / "collector.log"
    with running(command("collector", "run", collector_yaml), log):
        wait_until(lambda: "refused the subscription" in log.read_text(), 30, "the refusal in the collector's log")
        wait_until(lambda: readiness(http_port)[0] != 0, 60, "the collector's HTTP API")
        status, body = readiness(http_port)
        assert (status, body["broker"]) == (503, False)
        assert "MQTT broker refused the subscription to shopfloor/v1/+/+/+: Not authorized" in log.read_text()

        admin = ["mosquitto_ctrl", "-h", broker.host, "-p", str(broker.port), "-u", "admin", "-P", "admin-secret"]
        subprocess.run(
            [*admin, "dynsec", "addRoleACL", "site", "subscribePattern", "shopfloor/v1/#", "allow"],
            check=True,
            capture_output=True,
        )
        wait_until(lambda: readiness(http_port)[0] == 200, 60, "the collector subscribed without a restart")
        reading = MeterReading(
            ts_ms=int(time.time() * 1000),
            seq=0,
            edge="gent-repair-pi",
            device=DEVICE,
            profile="test@1",
            quality=Quality.OK,
            values={"power": 120.0},
        )
        with MqttProbe(broker.host, broker.port, topics=()) as edge:
            edge.publish(f"shopfloor/v1/gent-repair/{DEVICE}/reading", encode(reading))
        wait_until(lambda: stored_seqs(influx_db) == [0], 30, "the reading stored")


def test_a_certificate_for_another_host_fails_unless_insecure(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto]
) -> None:
    """The broker's certificate names 127.0.0.2 (and localhost), we dial 127.0.0.1: hostname checking
    refuses it with the fix in the message; `insecure: true` (for a lab) skips only that check."""
    from shopfloor.mqtt import BrokerSettings, MqttError, connect, new_client

    pki = make_pki(tmp_path / "pki", host="127.0.0.2")
    broker = mosquitto_factory(extra_config=pki.mosquitto_listener())

    def dial(insecure: bool) -> None:
        settings = BrokerSettings.model_validate(
            {"host": broker.host, "port": broker.port, "tls": {**tls_block(pki.ca_file, pki), "insecure": insecure}}
        )
        client = new_client(settings, f"dial-{insecure}")
        accepted = threading.Event()
        client.on_connect = lambda c, u, flags, reason, p: accepted.set() if not reason.is_failure else None
        try:
            connect(client, settings, clean_start=True, session_expiry_s=0)
            client.loop_start()
            assert accepted.wait(10), "no CONNACK over the TLS connection"
        finally:
            client.disconnect()
            client.loop_stop()

    with pytest.raises(MqttError) as refused:
        dial(insecure=False)
    assert "IP address mismatch" in str(refused.value)
    assert "broker.host a name or IP in that certificate" in str(refused.value)
    dial(insecure=True)
