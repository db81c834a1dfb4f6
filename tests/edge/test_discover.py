"""`shopfloor edge discover` on a real broker: retained and live devices, and config that `edge check` accepts."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from simulator.services import Mosquitto
from tests.edge.test_sources import SHELLY_GEN2_STATUS, TASMOTA_SENSOR
from tests.harness.cli import shopfloor as run_cli
from tests.harness.mqtt import MqttProbe

pytestmark = pytest.mark.integration


def shopfloor(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("edge", *args)


def test_discover_lists_retained_and_live_devices(tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto]) -> None:
    broker = mosquitto_factory()
    stop = threading.Event()
    with MqttProbe(broker.host, broker.port, ()) as devices:
        devices.publish("tele/tasmota_1A2B3C/SENSOR", json.dumps(TASMOTA_SENSOR), retain=True)
        devices.publish("lab/bench5/meter", '{"power_w": 12.5, "energy_total": 3.2, "rssi": -60}', retain=True)
        devices.publish("lab/temperature", '{"celsius": 21.5}', retain=True)  # not a meter: not listed
        devices.publish("esp-sewing/sensor/sewing_power/state", "61.5", retain=True)  # ESPHome retains its states
        devices.publish("esp-sewing/sensor/sewing_energy/state", "4.25", retain=True)

        def live() -> None:  # plugs that only publish live, as Shellies do
            while not stop.wait(0.2):
                devices.publish("shellies/shellyplug-s-AABBCC/relay/0/power", "23.45")
                devices.publish("shellyplusplugs-b8d6/status/switch:0", json.dumps(SHELLY_GEN2_STATUS))

        publisher = threading.Thread(target=live, daemon=True)
        publisher.start()
        try:
            result = shopfloor("discover", "--host", broker.host, "--port", str(broker.port), "--seconds", "2")
        finally:
            stop.set()
            publisher.join(5)
            for topic in ("tele/tasmota_1A2B3C/SENSOR", "lab/bench5/meter", "lab/temperature"):
                devices.publish(topic, "", retain=True)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"# 5 device(s) seen on {broker.host}:{broker.port} in 2 s\n"), out
    for line in (
        "    format: tasmota",
        '    device: "tasmota_1A2B3C"',
        "    format: generic-json",
        '    topic: "lab/bench5/meter"',
        '    power: {path: "power_w", unit: W}   # check the unit',
        '    energy: {path: "energy_total", unit: kWh}   # check the unit',
        '    device: "shellyplug-s-AABBCC"',
        '    device: "shellyplusplugs-b8d6"',
        '    topic: "esp-sewing/sensor/sewing_power/state"',
        '    energy: {path: "", unit: kWh, topic: "esp-sewing/sensor/sewing_energy/state"}   # check the unit',
    ):
        assert line in out.splitlines(), f"{line!r} missing in:\n{out}"
    assert "temperature" not in out

    config = tmp_path / "edge.yaml"
    config.write_text(f"site: gent\nedge_id: pi\n{out}", encoding="utf-8")
    checked = shopfloor("check", str(config))
    assert checked.returncode == 0, checked.stderr
    assert "  bench-1: tasmota tasmota_1A2B3C on 127.0.0.1:1883" in checked.stdout.splitlines()


def test_discover_with_nothing_to_find(mosquitto_factory: Callable[..., Mosquitto]) -> None:
    broker = mosquitto_factory()
    result = shopfloor("discover", "--host", broker.host, "--port", str(broker.port), "--seconds", "0.5")
    assert result.returncode == 1
    assert "no plug or JSON device published" in result.stderr
