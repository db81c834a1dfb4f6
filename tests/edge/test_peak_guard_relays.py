"""The guard in the running agent: a Tasmota relay over real mosquitto, decisions on the contract's guard topic."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from shopfloor.contract import GuardDecision, Kind, decode
from simulator.meter_server import MeterServer
from simulator.services import Mosquitto
from tests.edge.helpers import library, meter, running_agent, write_config
from tests.harness.mqtt import MqttProbe

pytestmark = pytest.mark.integration


def test_a_relay_load_is_switched_over_mqtt_and_the_decision_published(
    tmp_path: Path, mosquitto: Mosquitto, mqtt_probe: MqttProbe, meter_server: Callable[..., MeterServer]
) -> None:
    # The main meter shows 2345.6 W; a fixed 1 kW target (floor 0) must shed the relay at once.
    server = meter_server([meter(1, library().get("eastron-sdm630"))])  # type: ignore[arg-type]
    bus = {
        "name": "main-bus",
        "tcp": f"127.0.0.1:{server.port}",
        "devices": [{"id": "main", "unit_id": 1, "profile": "eastron-sdm630", "interval_s": 0.5}],
    }
    guard = {
        "meter": "main",
        "target": {"kind": "fixed", "kw": 1.0, "floor_kw": 0},
        "loads": [
            {"id": "boiler", "kw": 2.0, "relay": {"format": "tasmota", "device": "tasmota_1A2B3C"}},
            {"id": "press", "kw": 1.5, "relay": {"format": "shelly-gen2", "device": "shellypro1-AABB", "channel": 0}},
        ],
    }
    config = write_config(tmp_path, mosquitto.port, [bus], edge_id="relay-edge", peak_guard=guard)
    with running_agent(config):
        [shelly] = mqtt_probe.wait_for(1, 20, "shellypro1-AABB/rpc")
        [tasmota] = mqtt_probe.wait_for(1, 20, "cmnd/tasmota_1A2B3C/POWER1")
        decisions = mqtt_probe.wait_for(2, 20, "/relay-edge/guard")
    # The press is last in the list: shed first; 2.35 kW - 1.5 kW is still over 1 kW, so the boiler too.
    assert json.loads(shelly.payload)["method"] == "Switch.Set"
    assert json.loads(shelly.payload)["params"] == {"id": 0, "on": False}
    assert tasmota.payload == b"OFF"
    parsed = [decode(m.topic, m.payload) for m in decisions]
    assert all(p.topic.kind is Kind.GUARD for p in parsed)
    first = parsed[0].payload
    assert isinstance(first, GuardDecision)
    assert (first.action, first.load, first.target_kw) == ("shed", "press", 1.0)
    assert first.forecast_kw is not None and first.forecast_kw > 2.0
    assert "forecast" in first.reason
    assert (tmp_path / "peak_guard.json").exists()


def test_the_override_cli_forces_a_load_and_expires(tmp_path: Path) -> None:
    from edge.peak_guard.state import load_overrides
    from shopfloor.cli import main

    bus = {"name": "b", "tcp": "127.0.0.1:502", "devices": [{"id": "main", "unit_id": 1, "profile": "eastron-sdm630"}]}
    guard = {"meter": "main", "loads": [{"id": "kiln", "kw": 4, "relay": {"format": "tasmota", "device": "k"}}]}
    config = write_config(tmp_path, 1883, [bus], peak_guard=guard)
    assert main(["peak-guard", "override", str(config), "kiln", "on", "--for", "30m"]) == 0
    [(name, override)] = load_overrides(tmp_path / "peak_guard.override.json").items()
    assert name == "kiln" and override.on
    assert main(["peak-guard", "override", str(config), "oven", "off"]) == 2  # no such load: says which exist
    assert main(["peak-guard", "override", str(config), "kiln", "clear"]) == 0
    assert load_overrides(tmp_path / "peak_guard.override.json") == {}
