"""The edge agent: scheduler, MQTT sources, station I/O -> outbox -> publisher; stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from edge.modbus import ModbusLink
from edge.outbox import Outbox, Outgoing
from edge.profiles import ProfileLibrary
from edge.publisher import Publisher
from edge.scheduler import Poll, Scheduler
from edge.settings import EdgeSettings
from edge.station_book import StationBook
from edge.station_io import StationIo
from shopfloor.contract import QUANTITY_UNITS, Kind, MeterReading, Quality, StationEvent, Value, encode
from shopfloor.contract.fastpath import valid_reading

if TYPE_CHECKING:
    from edge.mqtt_sources import MqttSources
    from edge.peak_guard.shell import GuardShell

log = logging.getLogger(__name__)

EXPIRE_INTERVAL_S = 60.0


def reading_payload(edge_id: str, poll: Poll, seq: int) -> str:
    """The reading as contract v1 JSON: canonical quantities as bare numbers (docs/contract.md).

    Built as a plain dict and checked by the contract's fast path, which says "valid" only when
    :class:`MeterReading` would accept it unchanged; anything else goes through the model, the
    authority, which words the error. The model took 67 µs for an SDM630 reading, the fast path 19.
    """
    values: dict[str, object] = {
        q: v if QUANTITY_UNITS.get(q) == u else {"value": v, "unit": u} for q, (v, u) in poll.values.items()
    }
    body: dict[str, object] = {
        "ts_ms": poll.ts_ms,
        "seq": seq,
        "edge": edge_id,
        "device": poll.device,
        "profile": poll.profile,
        "quality": poll.quality.value,
        "values": values,
    }
    if poll.error is not None:
        body["error"] = poll.error
    if valid_reading(body, edge_id):
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return reading_payload_checked(edge_id, poll, seq)


def reading_payload_checked(edge_id: str, poll: Poll, seq: int) -> str:
    """The reading through :class:`MeterReading`: raises its ValidationError for what the contract refuses."""
    reading = MeterReading(
        ts_ms=poll.ts_ms,
        seq=seq,
        edge=edge_id,
        device=poll.device,
        profile=poll.profile,
        quality=poll.quality,
        values={q: Value(value=v, unit=u) for q, (v, u) in poll.values.items()},
        error=poll.error,
    )
    return encode(reading).decode()


def _with_seq(event: StationEvent, edge_id: str) -> Callable[[int], str]:
    """Render an event with the edge's id and its outbox ``seq`` (it stays idempotent by its event_id)."""
    return lambda seq: encode(event.model_copy(update={"edge": edge_id, "seq": seq})).decode()


class Agent:
    def __init__(self, settings: EdgeSettings, library: ProfileLibrary) -> None:
        self.settings = settings
        box = settings.outbox
        self.outbox = Outbox(box.path, max_rows=box.max_rows, max_age_s=box.max_age_s)
        self.scheduler = Scheduler(settings, library, self._store)
        self.book = StationBook(self.outbox, self._store_events)
        self.sources: MqttSources | None = None
        if settings.mqtt_sources:
            from edge.mqtt_sources import MqttSources  # only when plugs are configured, like the guard below

            self.sources = MqttSources(settings, self.outbox, self._store, self.book)
        self.publisher = Publisher(settings, self.outbox, self._qualities)
        self.station_ios: list[StationIo] = []
        self.guard: GuardShell | None = None
        if settings.peak_guard is not None:
            # Imported only when configured: the guard and the KPI maths it shares with the collector
            # (shopfloor.kpi.energy) are RSS an agent without a guard need not hold (docs/performance.md).
            from edge.peak_guard.shell import GuardShell

            self.guard = GuardShell(
                settings.peak_guard, settings.edge_id, settings.source_broker, self.scheduler.link, self._store_guard
            )
        self.stop = asyncio.Event()

    def _qualities(self) -> dict[str, Quality]:
        ios = {io.settings.id: io.quality for io in self.station_ios if io.quality is not None}
        sources = self.sources.qualities() if self.sources is not None else {}
        return {**self.scheduler.qualities(), **sources, **ios}

    def _store(self, poll: Poll, state: tuple[str, str] | None = None) -> None:
        edge_id = self.settings.edge_id
        self.outbox.append(
            Outgoing(poll.ts_ms, Kind.READING, poll.device, lambda seq: reading_payload(edge_id, poll, seq)), state
        )
        self.publisher.wake()
        if self.guard is not None:
            self.guard.observe(poll)

    def _store_guard(self, ts_ms: int, render: Callable[[int], str]) -> None:
        # A guard decision travels on the edge's own ``guard`` topic (docs/contract.md).
        self.outbox.append(Outgoing(ts_ms, Kind.GUARD, self.settings.edge_id, render))
        self.publisher.wake()

    def _store_events(self, events: list[StationEvent], state: tuple[str, str]) -> None:
        # Events share the readings' sequence: each carries its seq, so gaps stay detectable.
        edge_id = self.settings.edge_id
        self.outbox.append_many(
            [Outgoing(event.ts_ms, Kind.EVENT, event.station, _with_seq(event, edge_id)) for event in events], state
        )
        self.publisher.wake()

    def _station_ios(self) -> list[StationIo]:
        ios = []
        for io in self.settings.stations_io:
            if io.bus is not None:
                ios.append(StationIo(io, self.scheduler.link(io.bus), self.book, own_link=False))
            else:
                host, _, port = (io.tcp or "").rpartition(":")
                link = ModbusLink(host=host, port=int(port), timeout_s=io.timeout_s)
                ios.append(StationIo(io, link, self.book, own_link=True))
        return ios

    async def _housekeeping(self) -> None:
        box = self.settings.outbox
        next_expire = time.monotonic()
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=box.checkpoint_interval_s)
            self.outbox.checkpoint()
            if time.monotonic() >= next_expire:
                dropped = self.outbox.expire(int(time.time() * 1000))
                if dropped:
                    log.warning("dropped %d reading(s) older than %.0f s from the outbox", dropped, box.max_age_s)
                next_expire = time.monotonic() + EXPIRE_INTERVAL_S

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.stop.set)
        log.info(
            "edge %s of site %s: %d device(s) on %d bus(es), %d MQTT source(s), %d station I/O module(s), "
            "%d message(s) waiting in the outbox",
            self.settings.edge_id,
            self.settings.site,
            sum(len(b.devices) for b in self.settings.buses),
            len(self.settings.buses),
            len(self.settings.mqtt_sources),
            len(self.settings.stations_io),
            self.outbox.depth,
        )
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.scheduler.run(self.stop))
                if self.sources is not None:
                    group.create_task(self.sources.run(self.stop))
                self.station_ios = self._station_ios()
                for io in self.station_ios:
                    group.create_task(io.run(self.stop))
                group.create_task(self.publisher.run(self.stop))
                if self.guard is not None:
                    group.create_task(self.guard.run(self.stop))
                group.create_task(self._housekeeping())
        finally:
            self.scheduler.close()
            self.outbox.close()


def run_agent(settings: EdgeSettings, library: ProfileLibrary) -> None:
    async def main() -> None:
        await Agent(settings, library).run()

    asyncio.run(main())
