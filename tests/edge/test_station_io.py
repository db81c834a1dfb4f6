"""Station buttons on a real pymodbus I/O server and a real MQTT button box -> station events in order.

The presses bounce: 20 ms of contact chatter before the level settles, on press and on release.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from edge.agent import Agent
from shopfloor.contract import StationEvent, decode
from simulator.meter_server import DeviceMap, MeterServer, Table
from simulator.services import Mosquitto, wait_until
from tests.edge.helpers import Subscriber, running_agent, write_config
from tests.harness.mqtt import MqttProbe

pytestmark = pytest.mark.integration

UNIT = 5
INPUTS = [
    {"address": 0, "action": "start"},
    {"address": 1, "action": "pause"},
    {"address": 2, "action": "done", "repair_status": "Fixed"},
    {"address": 3, "action": "done", "repair_status": "End of life"},
]
TABLE_OF = {"coils": Table.COILS, "discrete_inputs": Table.DISCRETE_INPUTS, "holding_bitmask": Table.HOLDING}


class IoModule:
    """The I/O module's points as the test flips them, with contact bounce."""

    def __init__(self, server: MeterServer, table: str) -> None:
        self.device = server.devices[UNIT]
        self.table = table

    def set(self, address: int, level: bool) -> None:
        if self.table == "holding_bitmask":
            word = self.device.words(Table.HOLDING).get(0, 0)
            word = word | 1 << address if level else word & ~(1 << address)
            self.device.set_words(Table.HOLDING, 0, [word])
        else:
            self.device.set_bits(TABLE_OF[self.table], address, [level])

    def bounce_to(self, address: int, level: bool) -> None:
        for k in range(5):  # 5 x 4 ms = 20 ms of chatter, ending on the new level
            self.set(address, level if k % 2 == 0 else not level)
            time.sleep(0.004)  # stimulus timing, not a wait for a result
        self.set(address, level)

    def press(self, agent: Agent, station: str, io_id: str, address: int) -> None:
        name = f"{io_id}:{address}"
        self.bounce_to(address, True)
        wait_until(lambda: agent.book.input_level(station, name) is True, 5, f"press of input {address} seen")
        self.bounce_to(address, False)
        wait_until(lambda: agent.book.input_level(station, name) is False, 5, f"release of input {address} seen")


def io_server(meter_server: Callable[..., MeterServer]) -> MeterServer:
    tables: dict[Table, dict[int, int]] = {
        Table.COILS: dict.fromkeys(range(4), 0),
        Table.DISCRETE_INPUTS: dict.fromkeys(range(4), 0),
        Table.HOLDING: {0: 0},
    }
    return meter_server([DeviceMap(UNIT, tables)])


def io_config(tmp_path: Path, broker: Mosquitto, server: MeterServer, table: str, station: str, **extra: Any) -> Path:
    io = {
        "id": "io-1",
        "bench": station,
        "tcp": f"127.0.0.1:{server.port}",
        "unit_id": UNIT,
        "table": table,
        "inputs": INPUTS,
        "poll_ms": 10,
        "debounce_ms": 50,
        **extra,
    }
    return write_config(tmp_path, broker.port, [], stations_io=[io])


def events(probe: MqttProbe | Subscriber, station: str) -> list[StationEvent]:
    out = []
    for message in list(probe.messages):
        if message.topic.endswith(f"/{station}/event"):
            decoded = decode(message.topic, message.payload)
            assert isinstance(decoded.payload, StationEvent)
            out.append(decoded.payload)
    return out


@contextmanager
def watching(broker: Mosquitto) -> Iterator[MqttProbe]:
    with MqttProbe(broker.host, broker.port, ("shopfloor/v1/+/+/event",)) as probe:
        yield probe


@pytest.mark.parametrize("table", ["coils", "discrete_inputs", "holding_bitmask"])
def test_bouncing_presses_become_events_in_order(
    tmp_path: Path, mosquitto: Mosquitto, meter_server: Callable[..., MeterServer], table: str
) -> None:
    server = io_server(meter_server)
    module = IoModule(server, table)
    station = f"bench-io-{table.replace('_', '-')}"
    config = io_config(tmp_path, mosquitto, server, table, station)
    with watching(mosquitto) as probe, running_agent(config) as agent:
        for address in (0, 1, 1, 2):  # start, pause, pause again (= resume), done (Fixed)
            module.press(agent, station, "io-1", address)
        wait_until(lambda: len(events(probe, station)) >= 4, 10, "four events")
        assert agent.publisher.qualities()["io-1"] == "ok"  # the edge status lists the module
    got = events(probe, station)
    item = got[0].item_id
    assert item is not None and item.startswith(f"{station}-20") and item.endswith("-1")
    assert [(e.event_id, e.type.value, e.item_id, e.source) for e in got] == [
        (f"{station}-1", "started", item, "io"),
        (f"{station}-2", "paused", item, "io"),
        (f"{station}-3", "resumed", item, "io"),
        (f"{station}-4", "finished", item, "io"),
    ]
    assert got[-1].repair_status == "Fixed"
    assert [e.ts_ms for e in got] == sorted(e.ts_ms for e in got)


def test_counters_survive_a_restart(
    tmp_path: Path, mosquitto: Mosquitto, meter_server: Callable[..., MeterServer]
) -> None:
    """Event and item numbers continue after the agent restarts; a button held through it is no new press."""
    server = io_server(meter_server)
    module = IoModule(server, "discrete_inputs")
    station = "bench-io-restart"
    config = io_config(tmp_path, mosquitto, server, "discrete_inputs", station, emit_state=True)
    with watching(mosquitto) as probe:
        with running_agent(config) as agent:
            module.press(agent, station, "io-1", 0)
            module.press(agent, station, "io-1", 3)  # done: End of life
            module.bounce_to(0, True)  # start pressed, and still held when the agent stops
            wait_until(lambda: agent.book.input_level(station, "io-1:0") is True, 5, "held start seen")
            wait_until(lambda: len(events(probe, station)) >= 6, 10, "six events")
        with running_agent(config) as agent:
            module.bounce_to(0, False)
            wait_until(lambda: agent.book.input_level(station, "io-1:0") is False, 5, "release seen")
            module.press(agent, station, "io-1", 2)  # done: Fixed
            wait_until(lambda: len(events(probe, station)) >= 8, 10, "eight events")
    got = [(e.event_id, e.type.value, e.state.value if e.state else None) for e in events(probe, station)]
    assert got == [
        (f"{station}-1", "started", None),
        (f"{station}-2", "state", "working"),
        (f"{station}-3", "finished", None),
        (f"{station}-4", "state", "idle"),
        (f"{station}-5", "started", None),
        (f"{station}-6", "state", "working"),
        (f"{station}-7", "finished", None),
        (f"{station}-8", "state", "idle"),
    ]
    items = [e.item_id for e in events(probe, station) if e.type.value in ("started", "finished")]
    assert [i.rsplit("-", 1)[1] if i else None for i in items] == ["1", "1", "2", "2"]
    assert [e.repair_status for e in events(probe, station) if e.type.value == "finished"] == ["End of life", "Fixed"]


def test_button_box_over_mqtt(tmp_path: Path, mosquitto: Mosquitto) -> None:
    station = "bench-box"
    box = {
        "id": "box-1",
        "format": "button-box",
        "bench": station,
        "topic": "buttonbox/bench-box/press",
        "path": "button",
        "buttons": [
            {"payload": "green", "action": "start"},
            {"payload": "yellow", "action": "pause"},
            {"payload": "fixed", "action": "done", "repair_status": "Fixed"},
            {"payload": "eol", "action": "done", "repair_status": "End of life"},
        ],
    }
    config = write_config(tmp_path, mosquitto.port, [], mqtt_sources=[box])
    with watching(mosquitto) as probe, MqttProbe(mosquitto.host, mosquitto.port, ()) as esp32:
        esp32.publish("buttonbox/bench-box/press", '{"button":"green"}', retain=True)  # old news: no press
        try:
            with running_agent(config) as agent:
                wait_until(agent.sources.subscribed.is_set, 10, "agent subscribed")
                for name in ("green", "green", "yellow", "yellow", "eol"):
                    esp32.publish("buttonbox/bench-box/press", f'{{"button":"{name}"}}')
                    time.sleep(0.08)  # a technician's pace, longer than debounce_ms
                wait_until(lambda: len(events(probe, station)) >= 4, 10, "four events")
        finally:
            esp32.publish("buttonbox/bench-box/press", "", retain=True)
    got = events(probe, station)
    assert [(e.type.value, e.source) for e in got] == [
        ("started", "button"),
        ("paused", "button"),
        ("resumed", "button"),
        ("finished", "button"),
    ]
    assert got[-1].repair_status == "End of life"


def test_events_wait_in_the_outbox_through_a_broker_outage(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], meter_server: Callable[..., MeterServer]
) -> None:
    """The I/O module shares a bus with a meter; presses during an outage are delivered after it, in order."""
    from tests.edge.helpers import library, meter

    profile = library().get("eastron-sdm120")
    assert profile is not None
    io_device = DeviceMap(UNIT, {Table.COILS: dict.fromkeys(range(4), 0)})
    server = meter_server([meter(1, profile), io_device])
    module = IoModule(server, "coils")
    broker = mosquitto_factory()
    station = "bench-outage"
    bus = {
        "name": "line",
        "tcp": f"127.0.0.1:{server.port}",
        "devices": [{"id": "bench-outage", "unit_id": 1, "profile": "eastron-sdm120", "interval_s": 0.5}],
    }
    io = {"id": "io-1", "bench": station, "bus": "line", "unit_id": UNIT, "table": "coils", "inputs": INPUTS}
    config = write_config(tmp_path, broker.port, [bus], stations_io=[io])
    # A persistent session: the broker keeps what arrives while the subscriber reconnects.
    # Subscribed to everything, as the collector is: the edge keeps readings that reach no subscriber.
    with Subscriber(broker.host, broker.port) as probe, running_agent(config) as agent:
        wait_until(lambda: agent.publisher.connected, 10, "publisher connected")
        probe.pause()
        broker.stop()
        wait_until(lambda: not agent.publisher.connected, 10, "outage noticed")
        for address in (0, 1, 2):  # start, pause, done
            module.press(agent, station, "io-1", address)
        stored = agent.outbox.depth
        broker.start()
        probe.resume()
        wait_until(lambda: len(events(probe, station)) >= 3, 20, "the outage's events")
        wait_until(lambda: agent.outbox.depth == 0, 20, "outbox drained")
    assert stored >= 3  # the events (and the meter's readings) waited on disk
    assert [(e.event_id, e.type.value) for e in events(probe, station)] == [
        (f"{station}-1", "started"),
        (f"{station}-2", "paused"),
        (f"{station}-3", "finished"),
    ]
    assert server.count(1, 4) > 0 and server.count(UNIT, 1) > 0  # meter and I/O polled over one link
    # Events take their place in the edge's sequence, shared with its readings: gaps stay detectable.
    got = events(probe, station)
    assert {e.edge for e in got} == {"test-edge"}
    seqs = [e.seq for e in got]
    assert all(seq is not None for seq in seqs) and seqs == sorted(seqs) and len(set(seqs)) == 3
