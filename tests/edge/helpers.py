"""Shared pieces of the edge tests: meters with known values, edge.yaml files, an agent in a thread."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from edge.agent import Agent
from edge.decode import registers_for
from edge.profiles import Profile, ProfileLibrary
from edge.settings import load_settings
from simulator.meter_server import DeviceMap, Table

# Values every meter shows in the tests, chosen to be exact after each profile's scaling.
KNOWN_VALUES: dict[str, float] = {
    "voltage_l1": 230.1,
    "voltage_l2": 231.2,
    "voltage_l3": 229.3,
    "current_l1": 5.12,
    "current_l2": 4.25,
    "current_l3": 3.5,
    "current_total": 12.87,
    "power": 2345.6,
    "power_l1": 1000.5,
    "power_l2": 800.2,
    "power_l3": 544.8,
    "apparent_power": 2500.5,
    "reactive_power": -120.5,
    "power_factor": 0.937,
    "frequency": 50.0,
    "energy_import": 12345.6,
    "energy_export": 78.9,
}

_TABLE = {3: Table.HOLDING, 4: Table.INPUT}


def library() -> ProfileLibrary:
    return ProfileLibrary.load()


def meter(unit_id: int, profile: Profile, values: dict[str, float] | None = None) -> DeviceMap:
    image = registers_for(profile.resolved(), values or KNOWN_VALUES)
    return DeviceMap(unit_id, {_TABLE[fc]: words for fc, words in image.items()})


def set_values(device: DeviceMap, profile: Profile, values: dict[str, float]) -> None:
    for fc, words in registers_for(profile.resolved(), values).items():
        for address, word in words.items():
            device.words(_TABLE[fc])[address] = word


def write_config(directory: Path, broker_port: int, buses: list[dict[str, Any]], **extra: Any) -> Path:
    buses = [{"timeout_s": 0.3, **bus} for bus in buses]
    config = {
        "site": "test-site",
        "edge_id": "test-edge",
        "broker": {"host": "127.0.0.1", "port": broker_port, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
        "outbox": {"path": str(directory / "outbox.db"), "checkpoint_interval_s": 1},
        "status_interval_s": 1,
        "buses": buses,
        **extra,
    }
    path = directory / "edge.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@contextmanager
def running_agent(config: Path) -> Iterator[Agent]:
    """The agent on its own event loop in a thread, as `shopfloor edge run` runs it."""
    settings, lib = load_settings(config)
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def main() -> None:
        async def go() -> None:
            agent = Agent(settings, lib)
            holder["agent"], holder["loop"] = agent, asyncio.get_running_loop()
            ready.set()
            await agent.run()

        try:
            asyncio.run(go())
        except BaseException as exc:
            holder["error"] = exc
            ready.set()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    ready.wait(10)
    if "error" in holder:
        raise holder["error"]
    agent: Agent = holder["agent"]
    try:
        yield agent
    finally:
        if thread.is_alive():
            holder["loop"].call_soon_threadsafe(agent.stop.set)
        thread.join(15)
        assert not thread.is_alive(), "agent did not stop on request"
    if "error" in holder:
        raise holder["error"]


def readings(messages: list[Any]) -> list[dict[str, Any]]:
    """Every MeterReading in the received messages, batches unpacked, in arrival order."""
    out: list[dict[str, Any]] = []
    for message in messages:
        body = json.loads(message.payload)
        if message.topic.endswith("/batch"):
            out.extend(body["readings"])
        elif message.topic.endswith("/reading"):
            out.append(body)
    return out


class Subscriber:
    """A persistent-session subscriber (clean_session=False): the broker keeps its messages across
    a broker restart and while it reconnects, so a test can count every reading."""

    def __init__(self, host: str, port: int, topic: str = "shopfloor/v1/#") -> None:
        import paho.mqtt.client as paho

        self.messages: list[Any] = []
        self._lock = threading.Lock()
        self.client = paho.Client(
            callback_api_version=paho.CallbackAPIVersion.VERSION2,
            client_id=f"edge-test-{port}-{threading.get_ident() % 10_000}",
            clean_session=False,
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self._subscribed = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.on_message = self._on_message
        self.host, self.port = host, port

    def _on_message(self, client: object, userdata: object, msg: Any) -> None:
        from tests.harness.mqtt import Received

        with self._lock:
            self.messages.append(Received(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))

    def __enter__(self) -> Subscriber:
        self.resume()
        return self

    def __exit__(self, *exc: object) -> None:
        self.pause()

    def pause(self) -> None:
        """Go away (before a broker stops); the broker queues our messages in the session."""
        self.client.disconnect()
        self.client.loop_stop()

    def resume(self) -> None:
        """Connect and return once the broker has acknowledged the subscription: a message published
        before the SUBACK of a first subscription matches nothing and is dropped."""
        self._subscribed.clear()
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError(f"no SUBACK from the broker at {self.host}:{self.port}")

    def readings(self, edge: str) -> list[dict[str, Any]]:
        with self._lock:
            messages = list(self.messages)
        return [r for r in readings(messages) if r["edge"] == edge]

    def seqs(self, edge: str) -> list[int]:
        """Sequence numbers in order of first arrival (duplicates of at-least-once removed)."""
        seen: dict[int, None] = {}
        for reading in self.readings(edge):
            seen.setdefault(int(reading["seq"]), None)
        return list(seen)
