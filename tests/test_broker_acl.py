"""Generated broker identities against the real mosquitto 2.0: `shopfloor acl generate` writes passwd and acl,
a mosquitto with the listener settings of deploy/mosquitto/mosquitto.conf loads them, and clients built by
shopfloor.mqtt.new_client (the edge's and the collector's) connect with the generated credentials.

What mosquitto 2.0.11 answers, checked here: a QoS 1 publish the ACL denies gets PUBACK reason code 135 "Not
authorized" over MQTT v5 (over 3.1.1 it would be a plain PUBACK, and the message dropped); a wrong or missing
password gets CONNACK 135 too (not 134).
"""

from __future__ import annotations

import getpass
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopfloor.acl import parse_env
from shopfloor.contract import MeterReading, Quality, encode
from shopfloor.mqtt import BrokerSettings, MqttError, connect, new_client
from simulator.meter_server import MeterServer
from simulator.services import Mosquitto, free_port, wait_until
from tests.conftest import REPO_ROOT
from tests.edge.helpers import library, meter, write_config
from tests.harness.influx import InfluxTestDB
from tests.harness.processes import command, ready, running
from tests.harness.tls import Pki, make_pki

pytestmark = pytest.mark.integration

NOT_AUTHORIZED = 135
GENT, BRUSSELS = "gent-repair", "brussels-textile"
SITES = {
    "collector": {"shared_group": "collectors"},
    "sites": {
        GENT: {
            "edges": [{"id": "gent-repair-pi", "plugs": [{"format": "shelly-gen1", "device": "shellyplug-s-AABBCC"}]}]
        },
        BRUSSELS: {"edges": ["brussels-textile-pi"]},
    },
}


class Auth:
    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def password(self, user: str) -> str:
        return parse_env((self.dir / "credentials" / f"{user}.env").read_text())["MQTT_PASSWORD"]

    def broker(self, broker: Mosquitto, user: str | None, password: str | None = None, **extra: Any) -> dict[str, Any]:
        block: dict[str, Any] = {"host": broker.host, "port": broker.port, "reconnect_min_s": 0.5, "reconnect_max_s": 2}
        if user is not None:
            block |= {"username": user, "password": password if password is not None else self.password(user)}
        return block | extra


@pytest.fixture
def auth(tmp_path: Path) -> Auth:
    sites = tmp_path / "sites.yaml"
    sites.write_text(yaml.safe_dump(SITES), encoding="utf-8")
    out = tmp_path / "auth"
    subprocess.run(command("acl", "generate", sites, "--out", out), check=True, capture_output=True, cwd=REPO_ROOT)
    return Auth(out)


@pytest.fixture
def broker(auth: Auth, mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    return mosquitto_factory(password_file=auth.dir / "passwd", acl_file=auth.dir / "acl")


class Client:
    """An MQTT v5 client as the programs build it, that reports the broker's reason codes."""

    def __init__(self, block: dict[str, Any], name: str) -> None:
        self.settings = BrokerSettings.model_validate(block)
        self.client = new_client(self.settings, f"{name}-{os.getpid()}-{time.monotonic_ns() % 10**6}")
        self.connack: Any = None
        self.connected = threading.Event()
        self.acks: dict[int, int] = {}
        self.messages: list[tuple[str, bytes]] = []
        self.granted = threading.Event()
        self._lock = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_message = lambda c, u, m: self._store(m.topic, bytes(m.payload))
        self.client.on_subscribe = lambda c, u, mid, reasons, p: self.granted.set()

    def _on_connect(self, c: Any, u: object, flags: object, reason: Any, p: object) -> None:
        self.connack = reason
        self.connected.set()

    def _on_publish(self, c: Any, u: object, mid: int, reason: Any, p: object) -> None:
        with self._lock:
            self.acks[mid] = reason.value
            self._lock.notify_all()

    def _store(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self.messages.append((topic, payload))
            self._lock.notify_all()

    def start(self, timeout: float = 10) -> int:
        """Connect; the CONNACK reason code (0 = accepted)."""
        connect(self.client, self.settings, clean_start=True, session_expiry_s=0)
        self.client.loop_start()
        assert self.connected.wait(timeout), "no CONNACK"
        return int(self.connack.value)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: bytes) -> int:
        """Publish with QoS 1; the PUBACK reason code."""
        info = self.client.publish(topic, payload, qos=1)
        with self._lock:
            assert self._lock.wait_for(lambda: info.mid in self.acks, 10), f"no PUBACK for {topic}"
            return self.acks[info.mid]

    def subscribe(self, *filters: str) -> None:
        self.granted.clear()
        self.client.subscribe([(f, 1) for f in filters])
        assert self.granted.wait(10), "no SUBACK"

    def wait_for(self, count: int, timeout: float = 10) -> list[tuple[str, bytes]]:
        with self._lock:
            self._lock.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)


@contextmanager
def client(block: dict[str, Any], name: str) -> Iterator[Client]:
    made = Client(block, name)
    code = made.start()
    assert code == 0, f"{name} refused with CONNACK {code}"
    try:
        yield made
    finally:
        made.stop()


def connack(block: dict[str, Any], timeout: float = 10) -> int:
    made = Client(block, "refused")
    try:
        return made.start(timeout)
    finally:
        made.stop()


def reading(edge: str, device: str, seq: int = 0) -> bytes:
    return encode(
        MeterReading(
            ts_ms=int(time.time() * 1000),
            seq=seq,
            edge=edge,
            device=device,
            profile="test@1",
            quality=Quality.OK,
            values={"power": 100.0 + seq},
        )
    )


def collector_yaml(path: Path, broker: dict[str, Any], db: InfluxTestDB, http_port: int) -> Path:
    config = {
        "collector_id": "acl-collector",
        "broker": broker,
        "subscription": {"shared_group": "collectors"},
        "influx": {"version": 1, "url": db.url, "database": db.database, "retry_max_s": 2},
        "spool": {"path": str(path.parent / "spool.sqlite")},
        "dead_letters": {"path": str(path.parent / "dead.sqlite")},
        "http": {"port": http_port},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    path.chmod(0o600)
    return path


def sites_stored(db: InfluxTestDB) -> dict[str, int]:
    return {row["site"]: int(row["count"]) for row in db.query("SELECT count(power) FROM meter GROUP BY site")}


def test_an_edge_cannot_write_for_another_site_and_nothing_of_it_reaches_influxdb(
    tmp_path: Path, auth: Auth, broker: Mosquitto, influx_db: InfluxTestDB, meter_server: Callable[..., MeterServer]
) -> None:
    """The real collector with the collector's credentials, the real edge agent of Gent with Gent's credentials
    but configured (wrongly, or by an attacker) as Brussels: the broker refuses every message, the edge says so
    in its log, and InfluxDB gets no Brussels point. Gent's own messages, sent the same way, are stored."""
    http_port = free_port()
    config = collector_yaml(tmp_path / "collector.yaml", auth.broker(broker, "collector"), influx_db, http_port)
    sdm120 = meter_server([meter(1, library().get("eastron-sdm120"))])  # type: ignore[arg-type]
    bus = {
        "name": "tcp",
        "tcp": f"127.0.0.1:{sdm120.port}",
        "devices": [{"id": "main", "unit_id": 1, "profile": "eastron-sdm120", "interval_s": 0.5}],
    }
    (tmp_path / "edge").mkdir()
    forged = write_config(
        tmp_path / "edge",
        broker.port,
        [bus],
        site=BRUSSELS,
        edge_id="gent-repair-pi",
        broker=auth.broker(broker, "gent-repair-pi"),
    )
    edge_log = tmp_path / "edge.log"
    with running(command("collector", "run", config), tmp_path / "collector.log"):
        wait_until(lambda: ready(http_port), 60, "collector ready with its generated credentials")
        with running(command("edge", "run", forged), edge_log):
            wait_until(lambda: edge_log.read_text().count("broker refused") >= 3, 30, "the edge's refusals logged")
        assert "check the broker ACL" in edge_log.read_text()

        # The same identity, on its own site's topics: accepted and stored, so the collector was listening.
        with client(auth.broker(broker, "gent-repair-pi"), "gent") as gent:
            assert (
                gent.publish(f"shopfloor/v1/{BRUSSELS}/main/reading", reading("gent-repair-pi", "main"))
                == NOT_AUTHORIZED
            )
            # Not even another edge's status within its own site.
            assert gent.publish(f"shopfloor/v1/{GENT}/other-pi/status", b"{}") == NOT_AUTHORIZED
            assert gent.publish(f"shopfloor/v1/{GENT}/main/reading", reading("gent-repair-pi", "main")) < 128
        wait_until(lambda: sites_stored(influx_db).get(GENT, 0) >= 1, 30, "Gent's reading stored")
    assert sites_stored(influx_db) == {GENT: 1}, "a refused message reached InfluxDB"


def test_a_wrong_password_an_unknown_user_and_no_credentials_are_refused(
    tmp_path: Path, auth: Auth, broker: Mosquitto
) -> None:
    assert connack(auth.broker(broker, "gent-repair-pi", "not-the-password")) == NOT_AUTHORIZED
    assert connack(auth.broker(broker, "intruder", "whatever")) == NOT_AUTHORIZED
    assert connack(auth.broker(broker, None)) == NOT_AUTHORIZED
    # Control: the right password is accepted, so the refusals above are about the credentials.
    assert connack(auth.broker(broker, "gent-repair-pi")) == 0
    # The edge agent with a wrong password says what to fix, and keeps what it has.
    wrong = auth.broker(broker, "gent-repair-pi", "not-the-password")
    edge_yaml = write_config(tmp_path, broker.port, [], site=GENT, edge_id="gent-repair-pi", broker=wrong)
    edge_log = tmp_path / "edge.log"
    with running(command("edge", "run", edge_yaml), edge_log):
        wait_until(lambda: "keeping readings in the outbox" in edge_log.read_text(), 30, "the edge's refusal")
    logged = edge_log.read_text()
    assert "the broker refused the connection (Not authorized). Fix: broker.username and broker.password" in logged
    assert "not-the-password" not in logged


def test_the_collector_reads_every_site_also_through_its_shared_subscription(auth: Auth, broker: Mosquitto) -> None:
    with (
        client(auth.broker(broker, "collector"), "collector") as collector,
        client(auth.broker(broker, "collector"), "collector-shared") as shared,
        client(auth.broker(broker, "gent-repair-pi"), "gent") as gent,
        client(auth.broker(broker, "brussels-textile-pi"), "brussels") as brussels,
    ):
        collector.subscribe("shopfloor/v1/+/+/+")
        shared.subscribe("$share/collectors/shopfloor/v1/+/+/+")
        assert gent.publish(f"shopfloor/v1/{GENT}/main/reading", reading("gent-repair-pi", "main")) == 0
        assert brussels.publish(f"shopfloor/v1/{BRUSSELS}/main/reading", reading("brussels-textile-pi", "main")) == 0
        for reader in (collector, shared):
            topics = sorted(topic for topic, _ in reader.wait_for(2))
            assert topics == [f"shopfloor/v1/{BRUSSELS}/main/reading", f"shopfloor/v1/{GENT}/main/reading"]
        # The collector only reads: it cannot inject a message either.
        assert collector.publish(f"shopfloor/v1/{GENT}/main/reading", reading("x", "main")) == NOT_AUTHORIZED


def test_a_plug_feeds_its_own_edge_only_and_cannot_write_contract_topics(auth: Auth, broker: Mosquitto) -> None:
    power = "shellies/shellyplug-s-AABBCC/relay/0/power"
    with (
        client(auth.broker(broker, "gent-repair-pi"), "gent") as gent,
        client(auth.broker(broker, "brussels-textile-pi"), "brussels") as brussels,
        client(auth.broker(broker, "shellyplug-s-AABBCC"), "plug") as plug,
    ):
        gent.subscribe(power)
        brussels.subscribe(power, "#")  # mosquitto grants the subscription, and delivers nothing the ACL denies
        assert plug.publish(power, b"23.5") < 128
        assert gent.wait_for(1) == [(power, b"23.5")]
        assert (
            plug.publish(f"shopfloor/v1/{GENT}/bench-1/reading", reading("gent-repair-pi", "bench-1")) == NOT_AUTHORIZED
        )
        assert gent.publish(power, b"99") == NOT_AUTHORIZED  # an edge cannot fake its own plug either
        assert plug.publish("shellies/shellyplug-s-DDEEFF/relay/0/power", b"1") == NOT_AUTHORIZED
        time.sleep(0.5)  # what would arrive has arrived by now: the broker delivered the plug's message at once
        assert brussels.messages == []


def test_the_identities_work_over_tls_with_the_test_ca(
    tmp_path: Path, auth: Auth, mosquitto_factory: Callable[..., Mosquitto]
) -> None:
    pki: Pki = make_pki(tmp_path / "pki")
    broker = mosquitto_factory(
        password_file=auth.dir / "passwd",
        acl_file=auth.dir / "acl",
        extra_config=pki.mosquitto_listener(require_client_certificate=False),
    )
    tls = {"tls": {"ca_file": str(pki.ca_file)}}
    with client(auth.broker(broker, "gent-repair-pi", **tls), "gent-tls") as gent:
        assert gent.publish(f"shopfloor/v1/{GENT}/main/reading", reading("gent-repair-pi", "main")) < 128
        assert (
            gent.publish(f"shopfloor/v1/{BRUSSELS}/main/reading", reading("gent-repair-pi", "main")) == NOT_AUTHORIZED
        )
    assert connack(auth.broker(broker, "gent-repair-pi", "wrong", **tls)) == NOT_AUTHORIZED
    with pytest.raises(MqttError, match="TLS handshake"):
        connack(auth.broker(broker, "gent-repair-pi", tls={"ca_file": str(pki.other_ca_file)}))


SHIPPED_CONF = REPO_ROOT / "deploy" / "mosquitto" / "mosquitto.conf"


def listeners(conf: str) -> list[dict[str, str]]:
    """Each listener's own settings (per_listener_settings: the lines after it, up to the next listener)."""
    found: list[dict[str, str]] = []
    for line in conf.splitlines():
        words = line.split(maxsplit=1)
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "listener":
            port, _, bind = words[1].partition(" ")
            found.append({"port": port, "bind": bind})
        elif found:
            found[-1].setdefault(words[0], words[1] if len(words) > 1 else "")
    return found


def assert_hardened(conf: str) -> None:
    assert "per_listener_settings true" in conf.splitlines()
    assert listeners(conf), "no listener"
    for listener in listeners(conf):
        assert listener["allow_anonymous"] == "false", listener
        assert listener.get("password_file") and listener.get("acl_file"), listener
        if "certfile" not in listener:
            assert listener["bind"] == "127.0.0.1", f"plain MQTT beyond loopback: {listener}"


def test_the_shipped_and_the_demo_broker_configs_are_hardened(tmp_path: Path) -> None:
    assert_hardened(SHIPPED_CONF.read_text())
    shipped_tls = [listener for listener in listeners(SHIPPED_CONF.read_text()) if "certfile" in listener]
    assert [listener["port"] for listener in shipped_tls] == ["8883"]
    demo = Mosquitto(tmp_path, password_file=tmp_path / "passwd", acl_file=tmp_path / "acl")
    assert_hardened(demo.config_text())
    with pytest.raises(AssertionError):  # the control: the anonymous broker of the other tests fails the check
        assert_hardened(Mosquitto(tmp_path / "anonymous").config_text())


class ShippedMosquitto(Mosquitto):
    """deploy/mosquitto/mosquitto.conf as shipped, with this machine's paths and free loopback ports."""

    def __init__(self, data_dir: Path, auth: Path, pki: Pki) -> None:
        super().__init__(data_dir)
        self.tls_port = free_port()
        self.replacements = {
            "listener 1883 127.0.0.1": f"listener {self.port} 127.0.0.1",
            "listener 8883\n": f"listener {self.tls_port} 127.0.0.1\n",
            "/mosquitto/auth/": f"{auth}/",
            "/mosquitto/certs/ca.pem": str(pki.ca_file),
            "/mosquitto/certs/broker.pem": str(pki.server_cert),
            "/mosquitto/certs/broker.key": str(pki.server_key),
            "/mosquitto/data/": f"{self.data_dir}/",
        }

    def config_text(self) -> str:
        text = SHIPPED_CONF.read_text()
        for shipped, here in self.replacements.items():
            assert shipped in text, shipped
            text = text.replace(shipped, here)
        assert not [line for line in text.splitlines() if "/mosquitto/" in line and not line.startswith("#")]
        # As root, mosquitto would become the 'mosquitto' user, who cannot read our 0600 files.
        return text + (f"user {getpass.getuser()}\n" if os.geteuid() == 0 else "")


def test_the_shipped_config_runs_on_mosquitto_tls_outside_loopback_only(tmp_path: Path, auth: Auth) -> None:
    pki = make_pki(tmp_path / "pki")
    with ShippedMosquitto(tmp_path / "broker", auth.dir, pki) as shipped:
        tls_port = shipped.tls_port
        tls = {"port": tls_port, "tls": {"ca_file": str(pki.ca_file)}}
        # No anonymous access on either listener.
        assert connack(auth.broker(shipped, None)) == NOT_AUTHORIZED
        assert connack(auth.broker(shipped, None, **tls)) == NOT_AUTHORIZED
        with client(auth.broker(shipped, "gent-repair-pi", **tls), "gent") as gent:
            assert gent.publish(f"shopfloor/v1/{GENT}/main/reading", reading("gent-repair-pi", "main")) < 128
            assert (
                gent.publish(f"shopfloor/v1/{BRUSSELS}/main/reading", reading("gent-repair-pi", "main"))
                == NOT_AUTHORIZED
            )
        # The compose health check (docker-compose.yml), with the monitor's identity; refused without it.
        health = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(shipped.port), "-t", "$SYS/broker/uptime"]
        health += ["-C", "1", "-W", "5"]
        monitor = subprocess.run([*health, "-u", "monitor", "-P", auth.password("monitor")], capture_output=True)
        assert monitor.returncode == 0 and monitor.stdout.endswith(b"seconds\n"), monitor
        assert subprocess.run(health, capture_output=True).returncode != 0
        # The TLS listener speaks only TLS: a plain client gets no CONNACK.
        with pytest.raises(AssertionError, match="no CONNACK"):
            connack(auth.broker(shipped, "gent-repair-pi", port=tls_port), timeout=2)


def dynsec_block() -> str:
    """The mosquitto_ctrl commands of docs/security.md, "the dynamic-security plugin"."""
    docs = (REPO_ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    section = docs[docs.index("## A fleet that changes often") :]
    return section[section.index("```sh\n") + 6 : section.index("```", section.index("```sh\n") + 6)]


def test_the_documented_dynamic_security_setup_confines_sites_too(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto]
) -> None:
    import glob
    import json

    (plugin,) = glob.glob("/usr/lib/*/mosquitto_dynamic_security.so") or ["mosquitto_dynamic_security.so missing"]
    rules = tmp_path / "dynamic-security.json"
    init = ["mosquitto_ctrl", "dynsec", "init", str(rules), "admin", "admin-Pw-1"]
    subprocess.run(init, check=True, capture_output=True)
    assert json.loads(rules.read_text())["clients"][0]["username"] == "admin"
    broker = mosquitto_factory(extra_config=f"plugin {plugin}\nplugin_opt_config_file {rules}\n")
    passwords = {"ADMIN_PASSWORD": "admin-Pw-1", "COLLECTOR_PASSWORD": "coll-Pw-2", "GENT_PASSWORD": "gent-Pw-3"}
    script = dynsec_block().replace("-p 1883 ", f"-p {broker.port} ")
    done = subprocess.run(["bash", "-euc", script], env={**os.environ, **passwords}, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr

    def as_user(user: str | None, password: str | None) -> dict[str, Any]:
        block: dict[str, Any] = {"host": broker.host, "port": broker.port}
        return block | ({"username": user, "password": password} if user else {})

    assert connack(as_user("gent-repair-pi", "wrong")) == NOT_AUTHORIZED
    with (
        client(as_user("collector", "coll-Pw-2"), "collector") as collector,
        client(as_user("collector", "coll-Pw-2"), "collector-shared") as shared,
        client(as_user("gent-repair-pi", "gent-Pw-3"), "gent") as gent,
        client(as_user(None, None), "anonymous") as anonymous,
    ):
        collector.subscribe("shopfloor/v1/+/+/+")
        shared.subscribe("$share/collectors/shopfloor/v1/+/+/+")
        assert gent.publish(f"shopfloor/v1/{GENT}/main/reading", reading("gent-repair-pi", "main")) < 128
        assert gent.publish(f"shopfloor/v1/{GENT}/gent-repair-pi/status", b"{}") < 128
        assert (
            gent.publish(f"shopfloor/v1/{BRUSSELS}/main/reading", reading("gent-repair-pi", "main")) == NOT_AUTHORIZED
        )
        assert gent.publish(f"shopfloor/v1/{GENT}/other-pi/status", b"{}") == NOT_AUTHORIZED
        assert collector.publish(f"shopfloor/v1/{GENT}/main/reading", b"{}") == NOT_AUTHORIZED
        assert anonymous.publish(f"shopfloor/v1/{GENT}/main/reading", b"{}") == NOT_AUTHORIZED
        for reader in (collector, shared):
            assert sorted(topic for topic, _ in reader.wait_for(2)) == [
                f"shopfloor/v1/{GENT}/gent-repair-pi/status",
                f"shopfloor/v1/{GENT}/main/reading",
            ]
