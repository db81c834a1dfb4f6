"""What ``shopfloor edge read`` and ``shopfloor edge probe`` tell a technician, against real pymodbus servers
(issue 16): read shows a float32 meter's 7 significant digits, exactly what the agent publishes; probe says
plainly when the register maps know the family but cannot tell the model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from simulator.meter_server import MeterServer
from simulator.services import Mosquitto
from tests.edge.helpers import library, meter, readings, running_agent, write_config
from tests.harness.cli import shopfloor
from tests.harness.mqtt import MqttProbe

pytestmark = pytest.mark.integration

# Values a meter's own display shows; each is 7 significant digits, as many as a float32 holds.
DISPLAY = {"energy_import": 18234.51, "voltage_l1": 230.1, "power": 1234.567, "frequency": 49.98}


def test_read_shows_the_meters_seven_digits_as_the_agent_publishes_them(
    tmp_path: Path, mosquitto: Mosquitto, meter_server: Callable[..., MeterServer]
) -> None:
    profile = library().get("eastron-sdm120")
    assert profile is not None
    server = meter_server([meter(5, profile, DISPLAY)])
    devices = [{"id": "bench-1", "unit_id": 5, "profile": "eastron-sdm120", "interval_s": 0.5}]
    config = write_config(
        tmp_path, mosquitto.port, [{"name": "tcp", "tcp": f"127.0.0.1:{server.port}", "devices": devices}]
    )

    result = shopfloor("edge", "read", str(config), "bench-1")
    assert result.returncode == 0, result.stderr
    table = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()[2:]}
    for quantity, shown in DISPLAY.items():
        assert table[quantity] == f"{shown}", (quantity, table[quantity])

    with MqttProbe(mosquitto.host, mosquitto.port, topics=("shopfloor/v1/test-site/#",)) as probe:
        with running_agent(config):
            probe.wait_for(1, timeout=20, topic_contains="/bench-1/reading")
        [published, *_] = [r for r in readings(probe.messages) if r["device"] == "bench-1"]
    # The text on the wire is the text in the table: what the technician compares is what is stored.
    wire = {name: json.dumps(value) for name, value in published["values"].items()}
    assert {quantity: table[quantity] for quantity in wire} == wire


def test_probe_says_the_family_is_known_and_the_model_is_not(meter_server: Callable[..., MeterServer]) -> None:
    lib = library()
    sdm120, sdm630, abb = lib.get("eastron-sdm120"), lib.get("eastron-sdm630"), lib.get("abb-b23")
    assert sdm120 is not None and sdm630 is not None and abb is not None
    server = meter_server([meter(1, sdm630), meter(2, sdm120), meter(3, abb)])
    result = shopfloor("edge", "probe", f"127.0.0.1:{server.port}", "--units", "1-3", "--timeout", "0.2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    family = (
        "Eastron SDM120 or SDM630 (230.1 V). The family is known, the model isn't: their register maps have no "
        "register that tells them apart. Use eastron-sdm120@1 or eastron-sdm630@1, as the meter's label says."
    )
    assert lines == [f"unit 1: {family}", f"unit 2: {family}", "unit 3: abb-b23@1 (230.1 V)"]
