"""An MQTT probe for tests: subscribe, collect what arrives, publish with QoS 1 and wait for the ack."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import paho.mqtt.client as paho


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool


class MqttProbe:
    def __init__(self, host: str, port: int, topics: tuple[str, ...] = ("#",), qos: int = 1) -> None:
        self.host, self.port = host, port
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._topics = topics
        self._qos = qos
        self._subscribed = threading.Event()
        self.client = paho.Client(
            callback_api_version=paho.CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message

    def _on_connect(self, client: paho.Client, userdata: object, flags: object, rc: object, props: object) -> None:
        if self._topics:
            client.subscribe([(t, self._qos) for t in self._topics])
        else:
            self._subscribed.set()

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))
            self._cond.notify_all()

    def start(self) -> Self:
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("probe did not subscribe")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def wait_for(self, count: int, timeout: float = 10.0, topic_contains: str = "") -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                matching = [m for m in self.messages if topic_contains in m.topic]
                if len(matching) >= count:
                    return matching
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"got {len(matching)} of {count} messages matching {topic_contains!r}")
                self._cond.wait(remaining)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=10)
        assert info.is_published(), f"publish to {topic} not acknowledged"
