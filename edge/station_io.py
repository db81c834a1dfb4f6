"""Station buttons and lamps on a Modbus I/O module: poll fast, debounce, turn edges into events.

Coils (FC01), discrete inputs (FC02) or the bits of one holding register (FC03, a "state
word") are read every ``poll_ms``; each input goes through a :class:`Debouncer`, and a
debounced rising edge is a press of its action. An event carries the time the change began,
not the time it was confirmed. The debounced level of each input is persisted, so a button
held through a restart is not a new press. An I/O module on an RS-485 line shared with meters
uses that bus's connection and lock, so requests never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from edge.modbus import ModbusLink, ReadError
from edge.station_book import StationBook
from edge.station_settings import StationIoSettings
from edge.stations import Debouncer
from shopfloor.contract import Quality

log = logging.getLogger(__name__)

_FUNCTION = {"coils": 1, "discrete_inputs": 2, "holding_bitmask": 3}
RETRY_S = 1.0


class StationIo:
    def __init__(self, settings: StationIoSettings, link: ModbusLink, book: StationBook, own_link: bool) -> None:
        self.settings = settings
        self.link = link
        self.book = book
        self.own_link = own_link
        addresses = [i.address for i in settings.inputs]
        self.first = min(addresses)
        self.count = max(addresses) - self.first + 1
        self.debouncers: dict[int, Debouncer] = {}
        for spec in settings.inputs:
            level = book.input_level(settings.bench, self._name(spec.address))
            self.debouncers[spec.address] = Debouncer(settings.debounce_ms, bool(level), bool(level))
        self.failing = False
        self.quality: Quality | None = None

    def _name(self, address: int) -> str:
        return f"{self.settings.id}:{address}"

    async def read_levels(self) -> dict[int, bool]:
        s = self.settings
        function = _FUNCTION[s.table]
        async with self.link.lock:
            if function == 3:
                (word,) = await self.link.read(3, s.word_address, 1, s.unit_id)
                return {i.address: bool(word >> i.address & 1) for i in s.inputs}
            bits = await self.link.read_bits(function, self.first, self.count, s.unit_id)
        return {i.address: bits[i.address - self.first] for i in s.inputs}

    def apply(self, levels: dict[int, bool], now_ms: int) -> None:
        s = self.settings
        for spec in s.inputs:
            debouncer = self.debouncers[spec.address]
            before = debouncer.stable
            rising = debouncer.update(levels[spec.address] != spec.active_low, now_ms)
            if debouncer.stable == before:
                continue
            if rising:
                self.book.act(
                    s.bench,
                    spec.action,
                    debouncer.since_ms,
                    source="io",
                    repair_status=spec.repair_status,
                    emit_state=s.emit_state,
                    timezone=s.timezone,
                    item_events=s.item_events,
                )
            self.book.set_input_level(s.bench, self._name(spec.address), debouncer.stable)

    async def run(self, stop: asyncio.Event) -> None:
        period = self.settings.poll_ms / 1000
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                started = loop.time()
                try:
                    levels = await self.read_levels()
                except ReadError as exc:
                    self.quality = Quality.STALE if exc.no_answer else Quality.ERROR
                    if not self.failing:
                        log.warning("station I/O %s: %s", self.settings.id, exc)
                        self.failing = True
                    await _pause(stop, RETRY_S)
                    continue
                if self.failing:
                    log.warning("station I/O %s answers again", self.settings.id)
                    self.failing = False
                self.quality = Quality.OK
                self.apply(levels, int(time.time() * 1000))
                await _pause(stop, period - (loop.time() - started))
        finally:
            if self.own_link:
                self.link.close()


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    if seconds <= 0:
        await asyncio.sleep(0)
    elif seconds < 0.1:
        await asyncio.sleep(seconds)  # short poll gaps: checking ``stop`` each time is enough
    else:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
