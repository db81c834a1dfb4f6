"""Every shipped profile over Modbus TCP: a pymodbus server holds known values, mosquitto receives them.

Also checks that each poll costs exactly the planner's transactions, counted at the server.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.scheduler import device_plan
from edge.settings import DeviceSettings
from shopfloor.contract import QUANTITY_UNITS, MeterReading, decode
from simulator.meter_server import MeterServer
from simulator.services import Mosquitto, wait_until
from tests.edge.helpers import KNOWN_VALUES, library, meter, readings, running_agent, write_config
from tests.harness.mqtt import MqttProbe

pytestmark = pytest.mark.integration


def outbox_devices(path: Path) -> Counter[str]:
    with sqlite3.connect(path) as db:
        return Counter(json.loads(p)["device"] for (p,) in db.execute("SELECT payload FROM readings"))


def test_every_profile_over_tcp(tmp_path: Path, mosquitto: Mosquitto, meter_server: Callable[..., MeterServer]) -> None:
    lib = library()
    names = lib.names()
    profiles = {name: lib.get(name) for name in names}
    server = meter_server([meter(unit, profiles[name]) for unit, name in enumerate(names, start=1)])  # type: ignore[arg-type]
    devices = [
        {"id": name, "unit_id": unit, "profile": name, "interval_s": 0.5} for unit, name in enumerate(names, start=1)
    ]
    config = write_config(
        tmp_path, mosquitto.port, [{"name": "tcp", "tcp": f"127.0.0.1:{server.port}", "devices": devices}]
    )
    with MqttProbe(mosquitto.host, mosquitto.port, topics=("shopfloor/v1/test-site/#",)) as probe:
        with running_agent(config):
            for name in names:
                probe.wait_for(2, timeout=20, topic_contains=f"/{name}/reading")
        got = readings(probe.messages)
        transactions = {unit: server.count(unit) for unit in range(1, len(names) + 1)}

    for reading in got:  # every message is valid contract v1
        MeterReading.model_validate(reading)
    polls = Counter(r["device"] for r in got) + outbox_devices(tmp_path / "outbox.db")
    for unit, name in enumerate(names, start=1):
        profile = profiles[name]
        assert profile is not None
        mine = [r for r in got if r["device"] == name]
        assert mine[0]["profile"] == profile.ref
        assert mine[0]["quality"] == "ok"
        values = mine[0]["values"]
        assert set(values) == set(profile.fields)
        units = {quantity: v.unit for quantity, v in MeterReading.model_validate(mine[0]).values.items()}
        for quantity, value in values.items():
            # Canonical quantities travel as bare floats; the contract implies their unit.
            assert type(value) is float, (name, quantity, value)
            assert units[quantity] == QUANTITY_UNITS[quantity]
            assert value == pytest.approx(KNOWN_VALUES[quantity], rel=1e-6), (name, quantity)
        _, plan = device_plan(DeviceSettings(id=name, unit_id=unit, profile=name), profile)
        assert transactions[unit] == polls[name] * len(plan), name


def test_status_is_retained_online_then_offline(
    tmp_path: Path, mosquitto: Mosquitto, meter_server: Callable[..., MeterServer]
) -> None:
    profile = library().get("eastron-sdm120")
    assert profile is not None
    server = meter_server([meter(1, profile)])
    bus = {
        "name": "tcp",
        "tcp": f"127.0.0.1:{server.port}",
        "devices": [{"id": "m1", "unit_id": 1, "profile": "eastron-sdm120", "interval_s": 0.5}],
    }
    config = write_config(tmp_path, mosquitto.port, [bus], edge_id="status-edge")
    topic = "shopfloor/v1/test-site/status-edge/status"
    with running_agent(config), MqttProbe(mosquitto.host, mosquitto.port, topics=(topic,)) as probe:

        def online_with_device() -> bool:
            for m in probe.messages:
                status = decode(m.topic, m.payload).payload
                if status.state == "online" and status.devices.get("m1") == "ok":  # type: ignore[union-attr]
                    return True
            return False

        wait_until(online_with_device, 15, "online status with device quality")
    with MqttProbe(mosquitto.host, mosquitto.port, topics=(topic,)) as late:
        (retained,) = late.wait_for(1, timeout=10)
        status = decode(retained.topic, retained.payload).payload
        assert retained.retain
        assert status.state == "offline"  # type: ignore[union-attr]
        assert status.dropped == {"full": 0, "age": 0}  # type: ignore[union-attr]
