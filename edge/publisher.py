"""Publishing: drain the outbox to MQTT with QoS 1, deleting a reading only on its PUBACK.

paho runs its network loop in its own thread; its callbacks only hand events to the asyncio
loop (``call_soon_threadsafe``), so the outbox is touched from one thread.

Each connection attempt uses a fresh paho client: when a connection drops, everything not
acknowledged is simply sent again from the outbox, oldest first, so the broker receives the
readings in ``seq`` order (at least once; a duplicate carries the same ``seq``). Reconnects
back off exponentially with full jitter, so a site's edges do not reconnect in lockstep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode

from edge.outbox import Outbox, Row
from edge.settings import EdgeSettings
from shopfloor import __version__
from shopfloor.contract import EdgeState, EdgeStatus, Kind, Quality, build_topic, encode
from shopfloor.mqtt import CLOSED_BEFORE_CONNACK, MqttError, connect, new_client

log = logging.getLogger(__name__)


def backoff_delay(attempt: int, minimum: float, maximum: float, rand: Callable[[], float] = random.random) -> float:
    """Exponential back-off with jitter: uniform in [cap/2, cap], cap = min * 2^attempt (<= max)."""
    cap = min(maximum, minimum * (2 ** min(attempt, 30)))
    return float(cap / 2 + rand() * cap / 2)


def is_event(payload: str) -> bool:
    # Events are encoded by the agent: a StationEvent's first key is always event_id, and a
    # peak guard's GuardDecision's is decision_id. Both go alone, to their own topic.
    return payload.startswith(('{"event_id"', '{"decision_id"'))


def batchable(rows: list[Row]) -> list[Row]:
    """The leading rows that can go in one message: one event alone, or readings up to the next event."""
    if is_event(rows[0].payload):
        return rows[:1]
    for i, row in enumerate(rows):
        if is_event(row.payload):
            return rows[:i]
    return rows


class Publisher:
    def __init__(self, settings: EdgeSettings, outbox: Outbox, qualities: Callable[[], dict[str, Quality]]) -> None:
        self.settings = settings
        self.outbox = outbox
        self.qualities = qualities
        self.connected = False
        self._wake = asyncio.Event()
        self._inflight: dict[int, list[int]] = {}
        self._cursor = -1
        self._rejected = 0
        self._generation = 0
        prefix, site, edge = settings.broker.prefix, settings.site, settings.edge_id
        self._status_topic = build_topic(site, edge, Kind.STATUS, prefix)
        self._batch_topic = build_topic(site, edge, Kind.BATCH, prefix)
        self._reading_topics: dict[str, str] = {}

    def wake(self) -> None:
        self._wake.set()

    def _status(self, state: EdgeState) -> bytes:
        dropped = self.outbox.dropped()
        if self._rejected:
            dropped["rejected"] = self._rejected
        return encode(
            EdgeStatus(
                edge=self.settings.edge_id,
                state=state,
                ts_ms=int(time.time() * 1000),
                version=__version__[:32],
                buffer_depth=self.outbox.depth,
                oldest_buffered_ts_ms=self.outbox.oldest_ts_ms(),
                dropped=dropped,
                devices=self.qualities() if state is EdgeState.ONLINE else {},
            )
        )

    def _single_topic(self, payload: str) -> str:
        """A reading goes to its device's ``reading`` topic, a station event to its station's ``event``."""
        body = json.loads(payload)
        if payload.startswith('{"decision_id"'):
            source, kind = body["edge"], Kind.GUARD
        elif is_event(payload):
            source, kind = body["station"], Kind.EVENT
        else:
            source, kind = body["device"], Kind.READING
        topic = self._reading_topics.get(f"{kind}/{source}")
        if topic is None:
            topic = build_topic(self.settings.site, str(source), kind, self.settings.broker.prefix)
            self._reading_topics[f"{kind}/{source}"] = topic
        return topic

    def _acked(self, generation: int, mid: int, failed: bool) -> None:
        if generation != self._generation:
            return  # a late ack of a dropped connection; its readings are being resent
        seqs = self._inflight.pop(mid, None)
        if seqs is None:
            return
        if failed:
            # The broker refused the message (e.g. its ACL): resending would loop forever.
            self._rejected += len(seqs)
            log.warning("broker refused %d reading(s) (seq %d..%d); check the broker ACL", len(seqs), seqs[0], seqs[-1])
        self.outbox.remove(seqs)
        self._wake.set()

    def _client(self, loop: asyncio.AbstractEventLoop, events: asyncio.Queue[str]) -> paho.Client:
        self._generation += 1
        generation = self._generation
        client_id = f"shopfloor-edge-{self.settings.site}-{self.settings.edge_id}"[:64]
        client = new_client(self.settings.broker, client_id, max_inflight=self.settings.publish.max_inflight)
        client.will_set(self._status_topic, self._status(EdgeState.OFFLINE), qos=1, retain=True)

        def on_connect(c: paho.Client, u: object, flags: object, reason: ReasonCode, p: object) -> None:
            loop.call_soon_threadsafe(events.put_nowait, "up" if not reason.is_failure else f"refused: {reason}")

        def on_disconnect(c: paho.Client, u: object, flags: object, reason: object, p: object) -> None:
            loop.call_soon_threadsafe(events.put_nowait, "down")

        def on_publish(c: paho.Client, u: object, mid: int, reason: ReasonCode, p: object) -> None:
            loop.call_soon_threadsafe(self._acked, generation, mid, reason.is_failure)

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_publish = on_publish
        return client

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        broker = self.settings.broker
        attempt = 0
        outage_logged = False
        while not stop.is_set():
            events: asyncio.Queue[str] = asyncio.Queue()
            client = self._client(loop, events)
            problem = ""
            try:
                await asyncio.to_thread(connect, client, broker, clean_start=True, session_expiry_s=0)
                client.loop_start()
                event = await asyncio.wait_for(events.get(), timeout=broker.keepalive_s)
                if event == "down":
                    problem = CLOSED_BEFORE_CONNACK
                elif event != "up":
                    problem = event
            except MqttError as exc:
                problem = str(exc)
            except TimeoutError:
                problem = "no CONNACK from the broker"
            if not problem:
                if outage_logged:
                    log.warning("MQTT broker %s:%s reachable again", broker.host, broker.port)
                else:
                    log.info("connected to MQTT broker %s:%s", broker.host, broker.port)
                attempt, outage_logged = 0, False
                self.connected = True
                await self._pump(client, events, stop)
                self.connected = False
            elif not outage_logged:
                log.warning("MQTT broker %s:%s: %s; keeping readings in the outbox", broker.host, broker.port, problem)
                outage_logged = True
            # The offline status is rendered here, on the loop: the outbox is only ever touched from
            # this thread. (A worker thread reading it could race the agent closing it on shutdown.)
            offline = self._status(EdgeState.OFFLINE) if stop.is_set() else None
            await asyncio.to_thread(self._close, client, offline)
            self._inflight.clear()
            self._cursor = -1  # resend everything not acknowledged, oldest first
            if stop.is_set():
                return
            delay = backoff_delay(attempt, broker.reconnect_min_s, broker.reconnect_max_s)
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)

    def _close(self, client: paho.Client, offline_status: bytes | None) -> None:
        """Network only (runs in a worker thread): say goodbye when stopping, then disconnect."""
        if offline_status is not None and client.is_connected():
            info = client.publish(self._status_topic, offline_status, qos=1, retain=True)
            info.wait_for_publish(timeout=3)
        client.disconnect()
        client.loop_stop()

    async def _pump(self, client: paho.Client, events: asyncio.Queue[str], stop: asyncio.Event) -> None:
        publish = self.settings.publish
        client.publish(self._status_topic, self._status(EdgeState.ONLINE), qos=1, retain=True)
        next_status = time.monotonic() + self.settings.status_interval_s
        down = asyncio.ensure_future(self._until_down(events))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not down.done() and not stopping.done():
                self._fill(client, publish.max_inflight, publish.batch_threshold, publish.batch_size)
                if time.monotonic() >= next_status:
                    client.publish(self._status_topic, self._status(EdgeState.ONLINE), qos=1, retain=True)
                    next_status = time.monotonic() + self.settings.status_interval_s
                self._wake.clear()
                woken = asyncio.ensure_future(self._wake.wait())
                timeout = max(0.0, next_status - time.monotonic())
                await asyncio.wait({woken, down, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
        finally:
            down.cancel()
            stopping.cancel()

    @staticmethod
    async def _until_down(events: asyncio.Queue[str]) -> None:
        while await events.get() != "down":
            pass

    def _fill(self, client: paho.Client, max_inflight: int, threshold: int, batch_size: int) -> None:
        while len(self._inflight) < max_inflight:
            in_flight = sum(len(s) for s in self._inflight.values())
            backlog = self.outbox.depth - in_flight
            rows = self.outbox.after(self._cursor, batch_size if backlog > threshold else 1)
            if not rows:
                return
            rows = batchable(rows)
            topic, payload = self._message(rows)
            info = client.publish(topic, payload, qos=1)
            if info.rc != paho.MQTT_ERR_SUCCESS:
                return  # connection lost; the reconnect resends from the outbox
            self._inflight[info.mid] = [row.seq for row in rows]
            self._cursor = rows[-1].seq

    def _message(self, rows: list[Row]) -> tuple[str, str]:
        if len(rows) == 1:
            return self._single_topic(rows[0].payload), rows[0].payload
        body = ",".join(row.payload for row in rows)
        return self._batch_topic, f'{{"edge":{json.dumps(self.settings.edge_id)},"readings":[{body}]}}'
