"""Test traffic for the collector: contract messages from simulated devices, published fast at QoS 1."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

from collector.settings import CollectorSettings
from shopfloor.contract import Kind, build_topic

SITE = "test-site"
FIELDS = (
    "power",
    "power_l1",
    "power_l2",
    "power_l3",
    "voltage_l1",
    "voltage_l2",
    "voltage_l3",
    "current_l1",
    "frequency",
    "energy_import",
)


def base_ts_ms() -> int:
    """Recent, whole hour: inside any retention policy, and distinct between tests."""
    return (int(time.time()) // 3600 - 24) * 3_600_000


def reading(device: int, i: int, t0: int, edge: str = "edge-1") -> dict[str, Any]:
    return {
        "ts_ms": t0 + i * 1000,
        "seq": i,
        "edge": edge,
        "device": f"m{device:02d}",
        "profile": "eastron-sdm630@1",
        "quality": "ok",
        # As edges send them: canonical quantities as bare numbers (their units are implied).
        "values": {name: float(i % 1000) + device / 100 + k for k, name in enumerate(FIELDS)},
    }


def readings(devices: int, per_device: int, t0: int, start: int = 0) -> Iterator[tuple[str, bytes]]:
    """Interleaved across devices, as live traffic is."""
    for i in range(start, start + per_device):
        for device in range(devices):
            body = reading(device, i, t0)
            yield build_topic(SITE, body["device"], Kind.READING), json.dumps(body).encode()


def malformed(n: int, t0: int) -> Iterator[tuple[str, bytes]]:
    """Distinct bad messages of several sorts (each needs its own reason)."""
    for i in range(n):
        sort = i % 4
        body = reading(0, i, t0)
        if sort == 0:
            yield build_topic(SITE, "m00", Kind.READING), b"{not json " + str(i).encode()
        elif sort == 1:
            body["values"]["power"] = {"value": body["values"]["power"], "unit": "kW"}
            yield build_topic(SITE, "m00", Kind.READING), json.dumps(body).encode()
        elif sort == 2:
            body["device"] = "elsewhere"
            yield build_topic(SITE, "m00", Kind.READING), json.dumps(body).encode()
        else:
            yield f"shopfloor/v1/{SITE}/m00/nonsense", json.dumps(body).encode()


def mix(good: list[tuple[str, bytes]], bad: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Bad messages spread evenly through the good ones."""
    if not bad:
        return list(good)
    step = max(1, len(good) // len(bad))
    out: list[tuple[str, bytes]] = []
    bi = 0
    for i, item in enumerate(good):
        out.append(item)
        if i % step == step - 1 and bi < len(bad):
            out.append(bad[bi])
            bi += 1
    out.extend(bad[bi:])
    return out


class Publisher:
    """paho QoS 1 with a wide in-flight window; ``publish_all`` returns when every PUBACK arrived."""

    def __init__(self, host: str, port: int, inflight: int = 1000) -> None:
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
        self.client.max_inflight_messages_set(inflight)
        self.window = inflight
        self._acked = 0
        self._cond = threading.Condition()
        self.client.on_publish = self._on_publish
        self.client.connect(host, port, keepalive=60)
        self.client.loop_start()

    def _on_publish(self, *args: object) -> None:
        with self._cond:
            self._acked += 1
            self._cond.notify_all()

    def publish_all(self, messages: Iterable[tuple[str, bytes]], timeout: float = 120) -> int:
        with self._cond:
            start = self._acked
        sent = 0
        deadline = time.monotonic() + timeout
        for topic, payload in messages:
            # paho walks its whole queue on every PUBACK: keep the queue at the in-flight window.
            if sent - (self._acked - start) >= self.window:
                with self._cond:
                    self._cond.wait_for(
                        lambda n=sent: n - (self._acked - start) < self.window, deadline - time.monotonic()
                    )
            self.client.publish(topic, payload, qos=1)
            sent += 1
        with self._cond:
            while self._acked - start < sent:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._acked - start} of {sent} publishes acknowledged")
                self._cond.wait(left)
        return sent

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def collector_yaml(
    path: Path,
    *,
    collector_id: str,
    broker_port: int,
    influx_url: str,
    database: str,
    shared_group: str | None = None,
    http_port: int = 0,
    extra_influx: str = "",
) -> Path:
    group = f"\n  shared_group: {shared_group}" if shared_group else ""
    path.write_text(
        f"""collector_id: {collector_id}
broker:
  port: {broker_port}
  reconnect_min_s: 0.5
  reconnect_max_s: 2
subscription:
  session_expiry_s: 300{group}
influx:
  version: 1
  url: {influx_url}
  database: {database}
  retry_max_s: 2{extra_influx}
spool:
  path: {collector_id}-spool.sqlite
dead_letters:
  path: {collector_id}-dead.sqlite
http:
  port: {http_port}
"""
    )
    return path


def load(path: Path) -> CollectorSettings:
    from collector.settings import load_settings

    return load_settings(path)
