"""Fixtures that start real servers on free loopback ports: mosquitto, influxd, Modbus meters.

Nothing is mocked here. Servers are polled until they answer (never slept for) and are
stopped in ``finally`` blocks, so a failing test does not leave them behind.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from simulator.meter_server import DeviceMap, MeterServer
from simulator.services import Influxd, Mosquitto
from tests.harness.influx import InfluxTestDB
from tests.harness.mqtt import MqttProbe
from tests.harness.serial_pair import pty_pair

REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with slow tests run first, so that with two workers the long scenarios overlap the short tests."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SHOPFLOOR_* variable of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("SHOPFLOOR"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """One broker shared by the tests that do not stop it. Use ``mosquitto_factory`` to stop one."""
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    with broker:
        yield broker


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """Private brokers a test may stop and restart (same port, same persistence)."""
    started: list[Mosquitto] = []

    def make(**kwargs: object) -> Mosquitto:
        broker = Mosquitto(tmp_path / f"mosquitto-{len(started)}", **kwargs)  # type: ignore[arg-type]
        started.append(broker)
        return broker.start()

    try:
        yield make
    finally:
        for broker in started:
            broker.stop()


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd]:
    server = Influxd(tmp_path_factory.mktemp("influxd"))
    with server:
        yield server


@pytest.fixture
def influxd_factory(tmp_path: Path) -> Iterator[Callable[[], Influxd]]:
    """Private influxd servers a test may stop and restart."""
    started: list[Influxd] = []

    def make() -> Influxd:
        server = Influxd(tmp_path / f"influxd-{len(started)}")
        started.append(server)
        return server.start()

    try:
        yield make
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def influx_db(influxd: Influxd) -> Iterator[InfluxTestDB]:
    """A fresh database on the shared influxd, dropped afterwards."""
    db = InfluxTestDB(influxd.url, f"test_{uuid.uuid4().hex[:10]}")
    db.create()
    try:
        yield db
    finally:
        db.drop()


@pytest.fixture
def mqtt_probe(mosquitto: Mosquitto) -> Iterator[MqttProbe]:
    with MqttProbe(mosquitto.host, mosquitto.port) as probe:
        yield probe


@pytest.fixture
def meter_server() -> Iterator[Callable[..., MeterServer]]:
    """Start Modbus servers (TCP, or RTU on a pty with ``serial_port=``) from register maps."""
    servers: list[MeterServer] = []

    def make(devices: list[DeviceMap], **kwargs: object) -> MeterServer:
        server = MeterServer(devices, **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server.start()

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def serial_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two linked ptys from socat: serve a meter on one end, poll it through the other."""
    with pty_pair(tmp_path) as pair:
        yield pair
