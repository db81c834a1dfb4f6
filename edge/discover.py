"""``shopfloor edge discover``: which plugs publish on the local broker, as edge.yaml snippets.

:func:`classify` (pure) recognises a device from one message's topic and payload; the shell
subscribes to ``#`` for some seconds (retained messages arrive at once, live ones as they
come) and :func:`snippet` prints one ``mqtt_sources`` entry per device, ready to paste.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from shopfloor.mqtt import BrokerSettings, connect, new_client

_GEN1 = re.compile(r"^shellies/([^/]+)/relay/(\d)/(power|energy)$")
_GEN2 = re.compile(r"^([^/]+)/status/switch:(\d)$")
_TASMOTA = re.compile(r"^tele/([^/]+)/SENSOR$")
_ESPHOME = re.compile(r"^([^/]+)/sensor/([^/]+)/state$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_POWER_KEY = re.compile(r"power|watt", re.IGNORECASE)
_ENERGY_KEY = re.compile(r"energy|kwh|total", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Found:
    format: str
    device: str
    channel: int = 0
    topic: str | None = None
    power_path: str | None = None
    energy_path: str | None = None
    seen: str = ""
    power_topic: str | None = None  # ESPHome: one topic per sensor, a plain number on each
    energy_topic: str | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return self.format, self.device, self.channel


def _numeric_leaves(node: Any, prefix: str = "") -> list[tuple[str, float]]:
    leaves: list[tuple[str, float]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            leaves += _numeric_leaves(value, f"{prefix}{key}.")
    elif isinstance(node, int | float) and not isinstance(node, bool):
        leaves.append((prefix.rstrip("."), float(node)))
    return leaves


def classify(topic: str, payload: bytes, contract_prefix: str = "shopfloor") -> Found | None:
    if topic.startswith(("$", f"{contract_prefix}/")):
        return None
    if match := _GEN1.match(topic):
        return Found("shelly-gen1", match[1], int(match[2]), seen=f"{match[3]} {payload.decode(errors='replace')[:20]}")
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if (match := _ESPHOME.match(topic)) and isinstance(body, int | float) and not isinstance(body, bool):
        if _POWER_KEY.search(match[2]):
            return Found("generic-json", match[1], power_topic=topic, seen=f"{match[2]} {body}")
        if _ENERGY_KEY.search(match[2]):
            return Found("generic-json", match[1], energy_topic=topic, seen=f"{match[2]} {body}")
        return None
    if not isinstance(body, dict):
        return None
    if (match := _GEN2.match(topic)) and "apower" in body:
        return Found("shelly-gen2", match[1], int(match[2]), seen=f"apower {body['apower']} W")
    if (match := _TASMOTA.match(topic)) and isinstance(body.get("ENERGY"), dict):
        return Found("tasmota", match[1], seen=f"Power {body['ENERGY'].get('Power')} W")
    leaves = _numeric_leaves(body)
    power = next((path for path, _ in leaves if _POWER_KEY.search(path.rsplit(".", 1)[-1])), None)
    energy = next((path for path, _ in leaves if _ENERGY_KEY.search(path.rsplit(".", 1)[-1])), None)
    if power is None and energy is None:
        return None
    device = topic.replace("/", "-")
    return Found("generic-json", device, topic=topic, power_path=power, energy_path=energy, seen="JSON")


def merged(known: Found | None, new: Found) -> Found:
    """An ESPHome node's power and energy arrive on two topics: one device, both topics."""
    if known is None:
        return new
    return replace(
        known,
        power_topic=known.power_topic or new.power_topic,
        energy_topic=known.energy_topic or new.energy_topic,
    )


def _source_id(device: str) -> str:
    cleaned = _UNSAFE.sub("-", device).strip("-_.") or "device"
    return cleaned[:64]


def snippet(found: list[Found]) -> str:
    """An ``mqtt_sources:`` block; ``bench:`` placeholders are numbered so the block is valid as is."""
    lines = ["mqtt_sources:"]
    for n, device in enumerate(found, start=1):
        lines.append(f"  - id: {_source_id(device.device)}   # {device.format}; seen: {device.seen}")
        lines.append(f"    format: {device.format}")
        lines.append(f"    bench: bench-{n}   # the bench or station this device meters")
        if device.format == "generic-json" and device.topic is None:
            topic = device.power_topic or device.energy_topic
            lines.append(f"    topic: {json.dumps(topic)}")
            if device.power_topic:
                lines.append('    power: {path: "", unit: W}   # check the unit')
            if device.energy_topic:
                own = "" if device.energy_topic == topic else f", topic: {json.dumps(device.energy_topic)}"
                lines.append(f'    energy: {{path: "", unit: kWh{own}}}   # check the unit')
        elif device.format == "generic-json":
            lines.append(f"    topic: {json.dumps(device.topic)}")
            if device.power_path:
                lines.append(f"    power: {{path: {json.dumps(device.power_path)}, unit: W}}   # check the unit")
            if device.energy_path:
                lines.append(f"    energy: {{path: {json.dumps(device.energy_path)}, unit: kWh}}   # check the unit")
        else:
            lines.append(f"    device: {json.dumps(device.device)}")
            if device.channel:
                lines.append(f"    channel: {device.channel}")
        if device.format == "tasmota":
            lines.append("    timezone: Europe/Brussels   # the plug's time zone: its Time has none")
    return "\n".join(lines) + "\n"


def listen(broker: BrokerSettings, seconds: float) -> list[Found]:
    """Every device seen on ``broker`` within ``seconds``, in order of first appearance."""
    found: dict[tuple[str, str, int], Found] = {}
    lock = threading.Lock()
    client = new_client(broker, f"shopfloor-discover-{int(time.time() * 1000) % 100_000}")

    def on_connect(c: Any, u: object, flags: object, reason: Any, p: object) -> None:
        c.subscribe("#", qos=0)

    def on_message(c: Any, u: object, message: Any) -> None:
        device = classify(message.topic, bytes(message.payload), broker.prefix.split("/")[0])
        if device is not None:
            with lock:
                found[device.key] = merged(found.get(device.key), device)

    client.on_connect = on_connect
    client.on_message = on_message
    connect(client, broker, clean_start=True, session_expiry_s=0)
    client.loop_start()
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
    finally:
        client.disconnect()
        client.loop_stop()
    with lock:
        return list(found.values())
