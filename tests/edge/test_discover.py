"""`shopfloor edge discover` on a real broker: retained and live devices, and config that `edge check` accepts.

Payload sources: Shelly Gen1 API "MQTT" (relay/<i>/power, a plain number), ESPHome "MQTT Client
Component" (``<node>/sensor/<name>/state``, the state as a plain number, retained), Shelly Gen2 API
and Tasmota as listed in ``plug_payloads``; ``lab/...`` are custom JSON devices.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from simulator.services import Mosquitto
from tests.edge.plug_payloads import GEN2_DEVICE, TASMOTA_TOPIC, gen2_every_topic, tasmota_energy, tasmota_every_topic
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


def test_discover_suggests_each_plug_once(tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto]) -> None:
    """One Shelly Plus Plug S (rpc_ntf and status_ntf on) and one Tasmota plug, every topic they have.

    Payloads: Shelly Gen2 API and Tasmota EnergyShow()/MQTT docs, see plug_payloads. Before, the Gen2's
    events/rpc and the Tasmota's STATUS10 and EnergyTotal reply showed up as extra generic-JSON devices.
    """
    broker = mosquitto_factory()
    stop = threading.Event()
    energy = tasmota_energy(12.345, 0.2, 45)
    with MqttProbe(broker.host, broker.port, ()) as devices:
        retained = [(f"tele/{TASMOTA_TOPIC}/LWT", "Online"), (f"{GEN2_DEVICE}/online", "true")]
        for topic, payload in retained:  # both retain their LWT
            devices.publish(topic, payload, retain=True)

        def live() -> None:
            while not stop.wait(0.2):
                for topic, payload in gen2_every_topic(GEN2_DEVICE, 96.5, 1000.0) + tasmota_every_topic(
                    TASMOTA_TOPIC, energy
                ):
                    devices.publish(topic, payload)

        publisher = threading.Thread(target=live, daemon=True)
        publisher.start()
        try:
            result = shopfloor("discover", "--host", broker.host, "--port", str(broker.port), "--seconds", "2")
        finally:
            stop.set()
            publisher.join(5)
            for topic, _ in retained:
                devices.publish(topic, "", retain=True)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"# 2 device(s) seen on {broker.host}:{broker.port} in 2 s\n"), out
    assert out.count("  - id: ") == 2, out
    assert "generic-json" not in out
    for line in (
        "    format: shelly-gen2",
        f'    device: "{GEN2_DEVICE}"',
        "    format: tasmota",
        f'    device: "{TASMOTA_TOPIC}"',
    ):
        assert line in out.splitlines(), f"{line!r} missing in:\n{out}"

    config = tmp_path / "edge.yaml"
    config.write_text(f"site: gent\nedge_id: pi\n{out}", encoding="utf-8")
    checked = shopfloor("check", str(config))
    assert checked.returncode == 0, checked.stderr
