"""The collector's PUBLISH decoder (``shopfloor.mqtt``) against paho's own, and through a real broker."""

from __future__ import annotations

import random
import threading
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt import _packet
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from shopfloor.mqtt import BrokerSettings, new_client
from simulator.services import Mosquitto


def decoders() -> tuple[Any, Any]:
    new_client(BrokerSettings(port=1883), "installs-the-decoder")
    lean = _packet.decode_publish
    assert getattr(lean, "_shopfloor_lean", False), "paho's decoder changed shape: the lean one is not installed"
    return lean, lean._paho


def packet(topic: bytes, mid: int | None, properties: bytes, payload: bytes) -> bytes:
    head = len(topic).to_bytes(2, "big") + topic + (b"" if mid is None else mid.to_bytes(2, "big"))
    return head + properties + payload


def outcome(decode: Any, header: int, raw: bytes, protocol: int) -> tuple[str, Any]:
    try:
        found = decode(header, raw, protocol)
    except Exception as exc:  # the error type and text, compared below
        return type(exc).__name__, str(exc)
    return "ok", (found._replace(properties=None), None if found.properties is None else str(found.properties))


def test_every_publish_decodes_as_paho_decodes_it() -> None:
    lean, paho_decode = decoders()
    rng = random.Random(7)
    user = Properties(PacketTypes.PUBLISH)
    user.UserProperty = ("k", "v")
    user.MessageExpiryInterval = 30
    with_properties = user.pack()
    checked = {"lean": 0, "paho": 0}
    for _ in range(5000):
        qos = rng.choice([0, 1, 2])
        header = 0x30 | (qos << 1) | rng.randint(0, 1) | (rng.randint(0, 1) << 3)
        topic = f"shopfloor/v1/gent/m{rng.randint(0, 99):02d}/reading".encode()
        properties = rng.choice([b"\x00", with_properties])
        body = bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 60)))
        raw = packet(topic, None if qos == 0 else rng.randint(1, 65535), properties, body)
        if rng.random() < 0.1:
            raw = raw[: rng.randint(0, len(raw))]  # malformed: cut anywhere
        protocol = rng.choice([paho.MQTTv5, paho.MQTTv311])
        if protocol == paho.MQTTv311 and properties != b"\x00":
            continue
        ours = outcome(lean, header, raw, protocol)
        assert ours == outcome(paho_decode, header, raw, protocol), (header, raw, protocol)
        if ours[0] == "ok" and protocol == paho.MQTTv5 and qos and properties == b"\x00":
            checked["lean"] += 1
        else:
            checked["paho"] += 1
    assert checked["lean"] > 500 and checked["paho"] > 500, checked  # both paths taken often


@pytest.mark.integration
def test_messages_with_and_without_properties_through_a_real_broker(mosquitto: Mosquitto) -> None:
    received: list[tuple[str, bytes, dict[str, Any]]] = []
    done = threading.Event()

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        props = message.properties
        kept = {name: getattr(props, name) for name in ("UserProperty", "ContentType") if hasattr(props, name)}
        received.append((message.topic, message.payload, kept))
        if len(received) == 3:
            done.set()

    subscribed = threading.Event()
    client = new_client(BrokerSettings(host=mosquitto.host, port=mosquitto.port), "lean-publish-test")
    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_connect = lambda c, *args: c.subscribe("lean/#", qos=1)
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    try:
        assert subscribed.wait(10)
        sender = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="lean-sender", protocol=paho.MQTTv5)
        sender.connect(mosquitto.host, mosquitto.port)
        sender.loop_start()
        tagged = Properties(PacketTypes.PUBLISH)
        tagged.UserProperty = ("edge", "e1")
        tagged.ContentType = "application/json"
        sender.publish("lean/a", b'{"x": 1}', qos=1).wait_for_publish(10)
        sender.publish("lean/b", b"", qos=1, properties=tagged).wait_for_publish(10)
        sender.publish("lean/c", b"\x00\xff", qos=0).wait_for_publish(10)
        sender.disconnect()
        sender.loop_stop()
        assert done.wait(10)
    finally:
        client.disconnect()
        client.loop_stop()
    assert sorted(received) == [
        ("lean/a", b'{"x": 1}', {}),
        ("lean/b", b"", {"UserProperty": [("edge", "e1")], "ContentType": "application/json"}),
        ("lean/c", b"\x00\xff", {}),
    ]
