"""The MQTT side: a persistent MQTT v5 session, QoS 1, manual acks, optionally a shared subscription.

paho runs its network loop in its own thread and hands each message to :class:`collector.ingest.pipeline.Ingest`.
Commits adapt to the traffic: when the socket holds no further message, what was received is committed (and
then acked) at once, in the network thread, so under light traffic a message waits for nothing. Under load
commits come at most every ``commit_interval_ms``, from a small commit thread, or every ``commit_every``
messages. The same thread is the safety net for a message that waits with none after it (a half-arrived
packet behind it, say).
"""

from __future__ import annotations

import logging
import select
import threading
from typing import Any

import paho.mqtt.client as paho

from collector.ingest.pipeline import Ingest
from collector.metrics import CollectorMetrics
from collector.settings import CollectorSettings
from shopfloor.contract import subscription
from shopfloor.mqtt import CLOSED_BEFORE_CONNACK, connect_in_background, connection_refused, new_client

log = logging.getLogger(__name__)


def subscription_filter(settings: CollectorSettings) -> str:
    topic = subscription(settings.broker.prefix)
    group = settings.subscription.shared_group
    return f"$share/{group}/{topic}" if group else topic


class MqttIn:
    def __init__(self, settings: CollectorSettings, metrics: CollectorMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.connected = threading.Event()
        self._accepted = False  # a CONNACK came on this connection
        self._refused = False  # and it refused us
        self._stop = threading.Event()
        self._ingest: Ingest | None = None
        self._timer: threading.Thread | None = None
        self.client = new_client(
            settings.broker,
            settings.collector_id,
            manual_ack=True,
            max_inflight=settings.subscription.receive_maximum,
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self, ingest: Ingest) -> None:
        self._ingest = ingest
        sub = self.settings.subscription
        # clean_start=False: the broker keeps our queue (and unacked messages) across restarts.
        connect_in_background(
            self.client,
            self.settings.broker,
            clean_start=False,
            session_expiry_s=sub.session_expiry_s,
            receive_maximum=sub.receive_maximum,
        )
        self._timer = threading.Thread(target=self._commit_timer, name="collector-commit", daemon=True)
        self._timer.start()

    def stop(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join(timeout=5)
        if self._ingest is not None:
            self._ingest.flush(wait=True)
        self.client.disconnect()
        self.client.loop_stop()

    def ack(self, acks: list[tuple[int, int]]) -> None:
        for mid, qos in acks:
            self.client.ack(mid, qos)

    def _commit_timer(self) -> None:
        safety_net_s = 4 * self.settings.spool.commit_interval_ms / 1000
        while not self._stop.is_set():
            if self._ingest is None:
                self._stop.wait(safety_net_s)
                continue
            try:
                self._ingest.commit_when_due(safety_net_s)
            except Exception:  # the one broad catch: the timer must survive a disk hiccup
                log.exception("spool commit failed; retrying")
                self._stop.wait(safety_net_s)

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._accepted = not reason.is_failure
        self._refused = reason.is_failure
        if reason.is_failure:
            log.error(
                "MQTT broker %s:%s: %s",
                self.settings.broker.host,
                self.settings.broker.port,
                connection_refused(reason),
            )
            return
        topic = subscription_filter(self.settings)
        client.subscribe(topic, qos=1)
        log.info(
            "connected to %s:%s (session present: %s), subscribing to %s",
            self.settings.broker.host,
            self.settings.broker.port,
            flags.session_present,
            topic,
        )

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, reasons: list[Any], props: Any) -> None:
        # Ready only on the SUBACK: until the broker has the subscription, what is published matches nothing.
        refused = [reason for reason in reasons if reason.is_failure]
        if refused:
            log.error(
                "MQTT broker refused the subscription to %s: %s; check the broker's ACL for this user",
                subscription_filter(self.settings),
                ", ".join(str(reason) for reason in refused),
            )
            return
        self.connected.set()
        self.metrics.broker_connected.set(1)
        log.info("subscribed to %s", subscription_filter(self.settings))

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connected.clear()
        self.metrics.broker_connected.set(0)
        accepted, self._accepted = self._accepted, False
        refused, self._refused = self._refused, False
        if self._stop.is_set() or refused:  # a refusal was logged with its own fix; no TLS hint after it
            return
        if accepted:
            log.warning("MQTT connection lost (%s); paho reconnects with back-off", reason)
        else:
            log.warning(
                "MQTT broker %s:%s: %s", self.settings.broker.host, self.settings.broker.port, CLOSED_BEFORE_CONNACK
            )

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        assert self._ingest is not None
        payload = bytes(message.payload)
        self._ingest.receive(message.topic, payload, message.mid, message.qos, more_waiting=self._more_waiting)

    def _more_waiting(self) -> bool:
        """Whether the socket already holds more (a zero-timeout poll: a system call, no wait)."""
        sock = self.client.socket()
        if sock is None:
            return False
        pending = getattr(sock, "pending", None)  # TLS: bytes decrypted and buffered, invisible to select
        if pending is not None and pending() > 0:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return bool(readable)
