"""The harness itself: real influxd, real mosquitto, real Modbus over TCP and RTU."""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable

import pytest
from pymodbus.client import ModbusSerialClient, ModbusTcpClient

from simulator.meter_server import DeviceMap, MeterServer, Table
from simulator.services import Influxd, Mosquitto, port_open, wait_until
from tests.harness.influx import InfluxTestDB
from tests.harness.mqtt import MqttProbe

pytestmark = pytest.mark.integration


def test_influxd_write_then_read_back_with_influxql(influx_db: InfluxTestDB) -> None:
    ts = int(time.time() * 1000)
    influx_db.write(f"meter,site=gent,device=main power=1234.5,energy_import=42.25 {ts}")
    rows = influx_db.query("SELECT power, energy_import FROM meter WHERE site = 'gent'")
    assert rows == [{"time": ts, "power": 1234.5, "energy_import": 42.25}]


def test_mosquitto_qos1_publish_is_received(mosquitto: Mosquitto) -> None:
    with MqttProbe(mosquitto.host, mosquitto.port, topics=("harness/#",)) as probe:
        probe.publish("harness/hello", b'{"n": 1}', qos=1)
        [msg] = probe.wait_for(1, topic_contains="harness/hello")
    assert msg.payload == b'{"n": 1}'
    assert msg.qos == 1


def test_private_broker_can_stop_and_restart_on_same_port(mosquitto_factory: Callable[..., Mosquitto]) -> None:
    broker = mosquitto_factory()
    port = broker.port
    broker.stop()
    assert not port_open(broker.host, port)
    broker.start()
    assert broker.port == port and port_open(broker.host, port)


def test_private_influxd_restart_keeps_data(influxd_factory: Callable[[], Influxd]) -> None:
    server = influxd_factory()
    db = InfluxTestDB(server.url, "keep")
    db.create()
    db.write("m v=1 1700000000000")
    server.stop()
    server.start()
    assert db.scalar("SELECT count(v) FROM m") == 1


def _f32(value: float) -> list[int]:
    return list(struct.unpack(">HH", struct.pack(">f", value)))


def test_meter_server_serves_register_map_over_tcp(meter_server: Callable[..., MeterServer]) -> None:
    meter = DeviceMap(1)
    meter.set_words(Table.INPUT, 0x0000, _f32(231.5))
    server = meter_server([meter])
    client = ModbusTcpClient(server.host, port=server.port, timeout=2)
    assert client.connect()
    try:
        reply = client.read_input_registers(0, count=2, device_id=1)
        assert not reply.isError()
        (volts,) = struct.unpack(">f", struct.pack(">HH", *reply.registers))
        assert volts == pytest.approx(231.5)
        assert server.count(unit_id=1, function_code=4) == 1
    finally:
        client.close()


def test_meter_server_speaks_rtu_over_a_socat_pty_pair(
    meter_server: Callable[..., MeterServer], serial_pair: tuple[str, str]
) -> None:
    server_end, client_end = serial_pair
    meter = DeviceMap(7)
    meter.set_words(Table.HOLDING, 0x5B00, [0, 2305])
    server = meter_server([meter], serial_port=server_end, baudrate=19200)
    client = ModbusSerialClient(client_end, baudrate=19200, timeout=2)
    assert client.connect()
    try:
        reply = client.read_holding_registers(0x5B00, count=2, device_id=7)
        assert not reply.isError()
        assert reply.registers == [0, 2305]
        assert server.count(unit_id=7) == 1
    finally:
        client.close()


def test_persistent_session_survives_broker_restart(mosquitto_factory: Callable[..., Mosquitto]) -> None:
    """A QoS 1 message queued for an offline persistent session is still delivered after a broker restart."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    broker = mosquitto_factory()
    got: list[bytes] = []

    def subscriber() -> paho.Client:
        client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="durable", clean_session=False)
        client.on_message = lambda c, u, m: got.append(bytes(m.payload))
        client.connect(broker.host, broker.port)
        client.loop_start()
        return client

    sub = subscriber()
    subscribed = threading.Event()
    sub.on_subscribe = lambda *args: subscribed.set()
    sub.subscribe("durable/#", qos=1)
    # Publishing before the broker's SUBACK races the subscription: the warm-up would match nothing and be dropped.
    assert subscribed.wait(10), "no SUBACK from the broker"
    # The warm-up message round trip proves the session delivers to this client.
    with MqttProbe(broker.host, broker.port, topics=()) as probe:
        probe.publish("durable/warmup", b"0")
    wait_until(lambda: b"0" in got, 10, "warm-up message")
    sub.disconnect()
    sub.loop_stop()
    with MqttProbe(broker.host, broker.port, topics=()) as probe:
        probe.publish("durable/while-away", b"1")
    broker.stop()
    broker.start()
    sub = subscriber()
    try:
        wait_until(lambda: b"1" in got, 10, "message queued before the restart")
    finally:
        sub.disconnect()
        sub.loop_stop()


def test_free_port_block_skips_a_block_with_one_port_taken() -> None:
    import socket

    from simulator.services import free_port_block

    base = free_port_block(3, 0)
    assert free_port_block(3, base) == base
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base + 1))
        squatter.listen()
        other = free_port_block(3, base)
        assert other != base
        assert not any(port_open("127.0.0.1", other + i) for i in range(3))
