"""Plugs and button boxes on the site's local broker -> contract bench readings and station events.

One MQTT client (built by :func:`shopfloor.mqtt.new_client`) subscribes to every configured
source; paho's thread only hands messages to the asyncio loop. Each message is mapped by the
pure source modules, its energy total goes through the reset-safe counter (persisted with the
reading), and the result enters the outbox like a Modbus reading: it stays there until PUBACK.

Retained messages are old news: a retained button message is never a press, and a retained
plug value without a device timestamp is skipped (its receive time would be a lie).
A plug silent for longer than ``stale_after_s`` is published ``stale``, again every
``stale_after_s`` while it stays silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge.counters import CounterState, advance_channels
from edge.outbox import Outbox
from edge.scheduler import Poll
from edge.settings import EdgeSettings
from edge.sources import PayloadError, Sample, generic, shelly, tasmota
from edge.station_book import StationBook
from edge.station_settings import PROFILE_OF_FORMAT, MqttSourceSettings
from shopfloor.contract import Quality
from shopfloor.mqtt import connect_in_background, new_client

log = logging.getLogger(__name__)

ReadingSink = Callable[[Poll, tuple[str, str] | None], None]


def source_topics(source: MqttSourceSettings) -> list[str]:
    if source.format == "shelly-gen1":
        return shelly.gen1_topics(source.device or "", source.channel or 0)
    if source.format == "shelly-gen2":
        return shelly.gen2_topics(source.device or "", source.channel or 0)
    if source.format == "tasmota":
        return tasmota.topics(source.device or "", source.tasmota_full_topic)
    topics = [source.topic or ""]
    for spec in (source.power, source.energy):
        if spec is not None and spec.topic and spec.topic not in topics:
            topics.append(spec.topic)
    return topics


def silence_hint(source: MqttSourceSettings) -> str:
    """What to check on a device from which nothing has arrived since the edge started."""
    device, channel = source.device or "", source.channel or 0
    if source.format == "shelly-gen1":
        return shelly.gen1_silence_hint(device, channel)
    if source.format == "shelly-gen2":
        return shelly.gen2_silence_hint(device, channel)
    if source.format == "tasmota":
        return tasmota.silence_hint(device, source.tasmota_full_topic)
    return f"nothing on {', '.join(source_topics(source))}. Fix: check the device's MQTT topic and broker"


def parse_sample(source: MqttSourceSettings, topic: str, payload: bytes) -> Sample:
    """The pure mapping of one message of an energy source (Shelly Gen2: see :meth:`MqttSources._gen2`)."""
    if source.format == "shelly-gen1":
        return shelly.gen1_sample(topic, payload)
    if source.format == "shelly-gen2":
        update = shelly.gen2_update(topic, payload, source.channel or 0)
        if update is None:
            raise PayloadError(f"{topic}: nothing about switch:{source.channel or 0}")
        return shelly.gen2_sample(topic, update.status, update.ts_ms)
    if source.format == "tasmota":
        return tasmota.sample(topic, payload, source.timezone, source.channel)
    default = source.topic or ""
    power = energy = None
    if source.power is not None:
        power = (source.power.topic or default, source.power.path, generic.POWER_SCALE[source.power.unit])
    if source.energy is not None:
        energy = (source.energy.topic or default, source.energy.path, generic.ENERGY_SCALE[source.energy.unit])
    stamp = (source.timestamp.path, source.timestamp.format) if source.timestamp else None
    return generic.sample(topic, payload, power=power, energy=energy, timestamp=stamp)


def button_name(source: MqttSourceSettings, payload: bytes) -> str:
    text = payload.decode("utf-8", "replace").strip()
    if not source.path:
        return text
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        raise PayloadError(f"button message is not JSON: {text[:80]!r}") from None
    return str(generic.lookup(body, source.path, source.topic or ""))


@dataclass
class SourceState:
    settings: MqttSourceSettings
    counter: CounterState
    last_seen: float = field(default_factory=time.monotonic)
    last_stale: float = 0.0
    power_w: float | None = None
    energy_kwh: float | None = None
    quality: Quality | None = None
    last_press_ms: dict[str, int] = field(default_factory=dict)
    heard: bool = False  # any message since the edge started
    hinted: bool = False
    advised: bool = False
    gen2_status: dict[str, Any] = field(default_factory=dict)  # the last known switch status, overlaid
    gen2_key: tuple[Any, ...] | None = None  # what the last Gen2 reading said


def counter_key(source_id: str) -> str:
    return f"energy:{source_id}"


class MqttSources:
    def __init__(self, settings: EdgeSettings, outbox: Outbox, store: ReadingSink, book: StationBook) -> None:
        self.settings = settings
        self.store = store
        self.book = book
        self.sources = [
            SourceState(s, CounterState.loads(outbox.load_state(counter_key(s.id)))) for s in settings.mqtt_sources
        ]
        self.subscribed = threading.Event()  # set once the broker granted the subscriptions
        self.routes = [(topic, state) for state in self.sources for topic in source_topics(state.settings)]

    def qualities(self) -> dict[str, Quality]:
        return {s.settings.bench: s.quality for s in self.sources if s.quality is not None}

    def handle(self, topic: str, payload: bytes, received_ms: int, retained: bool) -> None:
        for pattern, state in self.routes:
            if generic.topic_matches(pattern, topic):
                try:
                    if state.settings.is_energy:
                        self._energy(state, topic, payload, received_ms, retained)
                    elif not retained:
                        self._button(state, payload, received_ms)
                except PayloadError as exc:
                    log.warning("source %s: %s", state.settings.id, exc)

    def _energy(self, state: SourceState, topic: str, payload: bytes, received_ms: int, retained: bool) -> None:
        if state.settings.format == "shelly-gen2":
            sample = self._gen2(state, topic, payload, retained)
            if sample is None:
                return
        else:
            sample = parse_sample(state.settings, topic, payload)
            if retained and sample.ts_ms is None:
                return
            state.last_seen, state.heard = time.monotonic(), True
        if sample.advice and not state.advised:
            state.advised = True
            log.warning("source %s: %s", state.settings.id, sample.advice)
        values: dict[str, tuple[float | None, str]] = {}
        counter: tuple[str, str] | None = None
        if sample.power_w is not None:
            state.power_w = sample.power_w
        if sample.energy_kwh is not None:
            before = state.counter.resets
            totals = sample.energy_channels_kwh or (sample.energy_kwh,)
            state.counter, state.energy_kwh = advance_channels(state.counter, totals)
            if state.counter.resets != before:
                log.warning("source %s: energy counter reset detected; the total continues", state.settings.id)
            counter = (counter_key(state.settings.id), state.counter.dumps())
        # A Gen1 plug sends power and energy separately: each reading carries the latest of both.
        if state.power_w is not None:
            values["power"] = (state.power_w, "W")
        if state.energy_kwh is not None:
            values["energy_import"] = (state.energy_kwh, "kWh")
        state.quality = Quality.OK
        profile = PROFILE_OF_FORMAT[state.settings.format]
        self.store(Poll(state.settings.bench, profile, sample.ts_ms or received_ms, Quality.OK, values), counter)

    def _gen2(self, state: SourceState, topic: str, payload: bytes, retained: bool) -> Sample | None:
        """Overlay the message on the switch's last known status; None when it brings nothing new."""
        update = shelly.gen2_update(topic, payload, state.settings.channel or 0)
        if update is None or (retained and update.ts_ms is None):
            return None
        state.last_seen, state.heard = time.monotonic(), True
        status = shelly.overlay(state.gen2_status, update.status)
        state.gen2_status = status
        key = shelly.reading_key(status)
        if key == state.gen2_key and state.quality is not Quality.STALE:
            return None  # the same status on the other topic, or only an attribute the edge does not publish
        if key[:2] == (None, None) and topic.endswith("/events/rpc"):
            return None  # a partial update (the temperature) before any metering value: nothing to publish yet
        sample = shelly.gen2_sample(topic, status, update.ts_ms)
        state.gen2_key = key
        return sample

    def _button(self, state: SourceState, payload: bytes, received_ms: int) -> None:
        name = button_name(state.settings, payload)
        button = next((b for b in state.settings.buttons if b.payload == name), None)
        if button is None:
            log.warning("source %s: unknown button %r", state.settings.id, name)
            return
        last = state.last_press_ms.get(name)
        state.last_press_ms[name] = received_ms
        if last is not None and received_ms - last < state.settings.debounce_ms:
            return
        self.book.act(
            state.settings.bench,
            button.action,
            received_ms,
            source="button",
            repair_status=button.repair_status,
            emit_state=state.settings.emit_state,
            timezone=state.settings.timezone,
            item_events=state.settings.item_events,
        )

    def check_stale(self, now: float, now_ms: int) -> None:
        for state in self.sources:
            limit = state.settings.stale_after_s
            if not state.settings.is_energy or now - state.last_seen < limit or now - state.last_stale < limit:
                continue
            state.last_stale, state.quality = now, Quality.STALE
            silent = now - state.last_seen
            if not state.heard and not state.hinted:
                state.hinted = True
                log.warning("source %s: %s", state.settings.id, silence_hint(state.settings))
            error = f"no message from {state.settings.device or state.settings.topic} for {silent:.0f} s"
            profile = PROFILE_OF_FORMAT[state.settings.format]
            self.store(Poll(state.settings.bench, profile, now_ms, Quality.STALE, {}, error), None)

    async def run(self, stop: asyncio.Event) -> None:
        if not self.sources:
            return
        loop = asyncio.get_running_loop()
        broker = self.settings.source_broker
        client = new_client(broker, f"shopfloor-edge-sources-{self.settings.site}-{self.settings.edge_id}"[:64])
        topics = sorted({topic for topic, _ in self.routes})

        def on_connect(c: Any, u: object, flags: object, reason: Any, p: object) -> None:
            if not reason.is_failure:
                c.subscribe([(t, 1) for t in topics])

        def on_message(c: Any, u: object, message: Any) -> None:
            received_ms = int(time.time() * 1000)
            loop.call_soon_threadsafe(
                self.handle, message.topic, bytes(message.payload), received_ms, bool(message.retain)
            )

        def on_subscribe(c: Any, u: object, mid: int, reasons: object, p: object) -> None:
            self.subscribed.set()

        client.on_connect = on_connect
        client.on_message = on_message
        client.on_subscribe = on_subscribe
        await asyncio.to_thread(connect_in_background, client, broker, clean_start=True, session_expiry_s=0)
        try:
            interval = min(1.0, min(s.settings.stale_after_s for s in self.sources) / 4)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval)
                self.check_stale(time.monotonic(), int(time.time() * 1000))
        finally:
            await asyncio.to_thread(_close, client)


def _close(client: Any) -> None:
    client.disconnect()
    client.loop_stop()
