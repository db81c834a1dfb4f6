"""``shopfloor edge discover``: which plugs publish on the local broker, as edge.yaml snippets.

:func:`classify` (pure) recognises a device from one message's topic and payload; the shell
subscribes to ``#`` for some seconds (retained messages arrive at once, live ones as they
come), merges every topic of one device (:func:`merged`) and :func:`snippet` prints one
``mqtt_sources`` entry per device (per switch of a multi-switch Shelly), ready to paste.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from shopfloor.mqtt import BrokerSettings, connect, new_client

_GEN1_FAMILY = re.compile(r"^shellies/([^/]+)/")
_GEN1 = re.compile(r"^shellies/([^/]+)/relay/(\d)/(power|energy)$")
_GEN2_STATUS = re.compile(r"^(.+)/status/([a-z0-9_]+(?::\d+)?)$")
_GEN2_SWITCH = re.compile(r"^switch:(\d)$")
_GEN2_RPC = re.compile(r"^(.+)/events/rpc$")
_TASMOTA_PREFIXES = ("tele", "stat")  # Prefix3 and Prefix2; cmnd is what others send to the plug
_TASMOTA_LAST = re.compile(r"^[A-Z][A-Z0-9_]*$")  # SENSOR, STATE, STATUS10, RESULT, INFO1, POWER1 ...
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
    full_topic: str | None = None  # Tasmota: its FullTopic, when not the default
    channels: int = 1  # Tasmota: how many metered channels it reports

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


def classify(topic: str, payload: bytes, contract_prefix: str = "shopfloor") -> list[Found]:
    """The metering devices one message shows (one per Shelly switch); [] for anything else.

    Every topic of a recognised family (Shelly Gen1 ``shellies/<id>/...``, Shelly Gen2
    ``<id>/status/...`` and ``<id>/events/rpc``, Tasmota ``tele|stat/<topic>/<UPPERCASE>`` and
    ``tasmota/discovery/<mac>/...``) is that device's, never a generic JSON device of its own:
    the same plug is suggested once.
    """
    if topic.startswith(("$", f"{contract_prefix}/")):
        return []
    if match := _GEN1.match(topic):
        seen = f"{match[3]} {payload.decode(errors='replace')[:20]}"
        return [Found("shelly-gen1", match[1], int(match[2]), seen=seen)]
    if _GEN1_FAMILY.match(topic):
        return []  # shellies/<id>/info, /relay/0, /temperature, /announce ...: the same plug
    if topic.startswith("tasmota/discovery/"):
        return []  # Tasmota's own discovery (SetOption19 0): config and sensors of a plug seen on its SENSOR
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return []
    if (match := _ESPHOME.match(topic)) and isinstance(body, int | float) and not isinstance(body, bool):
        if _POWER_KEY.search(match[2]):
            return [Found("generic-json", match[1], power_topic=topic, seen=f"{match[2]} {body}")]
        if _ENERGY_KEY.search(match[2]):
            return [Found("generic-json", match[1], energy_topic=topic, seen=f"{match[2]} {body}")]
        return []
    if not isinstance(body, dict):
        return []
    if (match := _GEN2_RPC.match(topic)) and "method" in body:
        return _gen2_notification(match[1], body)
    if match := _GEN2_STATUS.match(topic):
        switch = _GEN2_SWITCH.match(match[2])
        if switch and _metered(body):
            return [Found("shelly-gen2", match[1], int(switch[1]), seen=_gen2_seen(body))]
        if switch or "mac" in body or match[2] in ("sys", "wifi", "cloud", "mqtt", "ble", "ws"):
            return []  # the plug's other components
    tasmota = _tasmota(topic, body)
    if tasmota is not None:
        return tasmota
    leaves = _numeric_leaves(body)
    power = next((path for path, _ in leaves if _POWER_KEY.search(path.rsplit(".", 1)[-1])), None)
    energy = next((path for path, _ in leaves if _ENERGY_KEY.search(path.rsplit(".", 1)[-1])), None)
    if power is None and energy is None:
        return []
    device = topic.replace("/", "-")
    return [Found("generic-json", device, topic=topic, power_path=power, energy_path=energy, seen="JSON")]


def _metered(status: Any) -> bool:
    return isinstance(status, dict) and ("apower" in status or isinstance(status.get("aenergy"), dict))


def _gen2_seen(status: dict[str, Any]) -> str:
    if "apower" in status:
        return f"apower {status['apower']} W"
    return f"aenergy.total {status['aenergy'].get('total')} Wh"


def _gen2_notification(prefix: str, body: dict[str, Any]) -> list[Found]:
    """A NotifyStatus names each component that changed: one suggestion per metered switch."""
    params = body.get("params")
    if body.get("method") not in ("NotifyStatus", "NotifyFullStatus") or not isinstance(params, dict):
        return []
    found = []
    for component, status in params.items():
        if (switch := _GEN2_SWITCH.match(component)) and _metered(status):
            found.append(Found("shelly-gen2", prefix, int(switch[1]), seen=_gen2_seen(status)))
    return found


def _tasmota(topic: str, body: dict[str, Any]) -> list[Found] | None:
    """None: not a Tasmota topic. []: a Tasmota topic without metering (STATE, INFO1, RESULT ...)."""
    levels = topic.split("/")
    if len(levels) < 3 or not _TASMOTA_LAST.match(levels[-1]):
        return None
    at = next((i for i, level in enumerate(levels[:-1]) if level in _TASMOTA_PREFIXES), None)
    if at is None:
        return None
    others = [i for i in range(len(levels) - 1) if i != at]
    energy = body.get("ENERGY")
    status = body.get("StatusSNS")
    if not isinstance(energy, dict) and isinstance(status, dict):
        energy = status.get("ENERGY")  # stat/<topic>/STATUS10 (or STATUS8 before 9.x): a Status 10 reply
    if not isinstance(energy, dict) or levels[-1] not in ("SENSOR", "STATUS8", "STATUS10"):
        return []
    device_at = others[-1]  # %topic% is the last level that is not %prefix%: FullTopic ends %topic%/ by default
    template = [("%prefix%" if i == at else "%topic%" if i == device_at else level) for i, level in enumerate(levels)]
    full_topic = "/".join(template[:-1]) + "/"
    power = energy.get("Power")
    channels = len(power) if isinstance(power, list) else 1
    seen = f"Power {power} W"
    return [
        Found(
            "tasmota",
            levels[device_at],
            seen=seen,
            full_topic=None if full_topic == "%prefix%/%topic%/" else full_topic,
            channels=channels,
        )
    ]


def merged(known: Found | None, new: Found) -> Found:
    """One device seen on several topics: an ESPHome node's two sensors, a Tasmota's SENSOR and STATUS10."""
    if known is None:
        return new
    return replace(
        known,
        power_topic=known.power_topic or new.power_topic,
        energy_topic=known.energy_topic or new.energy_topic,
        full_topic=known.full_topic or new.full_topic,
        channels=max(known.channels, new.channels),
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
            if device.full_topic:
                lines.append(f"    full_topic: {json.dumps(device.full_topic)}   # the plug's FullTopic")
            if device.channels > 1:
                lines.append(
                    f"    # {device.channels} channels, summed; channel: 0..{device.channels - 1} meters one "
                    "(needs SetOption129 1 on the plug)"
                )
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
        devices = classify(message.topic, bytes(message.payload), broker.prefix.split("/")[0])
        with lock:
            for device in devices:
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
