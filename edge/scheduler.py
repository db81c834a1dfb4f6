"""Polling: one serialised queue per bus, buses in parallel, each meter on its own schedule.

* RS-485 is half-duplex and shared, so all meters of a bus are polled one after another by
  one task; a Modbus TCP host:port (a meter or a gateway) is a bus of its own, and buses run
  concurrently.
* Start times are staggered over the interval, so a bus is not hit by every meter at once.
* A failing meter is isolated: it alone backs off (interval x 2, x 4, ... up to
  ``max_backoff_s``) and is published ``stale`` on every failed attempt; the others keep
  their schedule. The failure is logged once, and so is the recovery.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.decode import DecodeError, PlanDecoder
from edge.modbus import ModbusLink, ReadError
from edge.plan import FieldSpan, ReadRequest, plan_reads
from edge.profiles import Profile, ProfileLibrary, ResolvedField
from edge.settings import BusSettings, DeviceSettings, EdgeSettings
from shopfloor.backoff import backoff_s
from shopfloor.contract import Quality

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0


@dataclass(frozen=True, slots=True)
class Poll:
    """The outcome of polling one device once; ``values`` is empty unless quality is ok."""

    device: str
    profile: str
    ts_ms: int
    quality: Quality
    values: dict[str, tuple[float | None, str]]
    error: str | None = None


@dataclass
class DeviceTask:
    bus: BusSettings
    settings: DeviceSettings
    profile: Profile
    fields: list[ResolvedField]
    plan: list[ReadRequest]
    next_due: float = 0.0
    failures: int = 0
    quality: Quality | None = None
    # Worked out once: a poll only reads, cuts and decodes.
    decoder: PlanDecoder = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.decoder = PlanDecoder(self.fields, self.plan)


def device_plan(device: DeviceSettings, profile: Profile) -> tuple[list[ResolvedField], list[ReadRequest]]:
    fields = profile.resolved(device.fields)
    spans = [FieldSpan(f.quantity, f.function, f.address, f.count) for f in fields]
    plan = plan_reads(
        spans, max_registers=device.max_registers, max_gap=device.max_gap, one_per_field=device.one_request_per_field
    )
    return fields, plan


def link_for(bus: BusSettings) -> ModbusLink:
    if bus.serial is not None:
        return ModbusLink(
            serial=bus.serial,
            baudrate=bus.baudrate,
            parity=bus.parity,
            stopbits=bus.stopbits,
            bytesize=bus.bytesize,
            timeout_s=bus.timeout_s,
        )
    host, port = bus.host_port
    return ModbusLink(host=host, port=port, timeout_s=bus.timeout_s)


async def poll_device(link: ModbusLink, task: DeviceTask) -> Poll:
    """Read every request of the device's plan and decode; failures become a stale/error Poll."""
    ts_ms = int(time.time() * 1000)
    answers: list[list[int]] = []
    unit_id, delay = task.settings.unit_id, task.settings.request_delay_s
    try:
        for request in task.plan:
            if answers and delay:
                await asyncio.sleep(delay)
            async with link.lock:
                answers.append(await link.read(request.function, request.address, request.count, unit_id))
        values = task.decoder.readings(answers)
    except ReadError as exc:
        quality = Quality.STALE if exc.no_answer else Quality.ERROR
        return Poll(task.settings.id, task.profile.ref, ts_ms, quality, {}, str(exc)[:500])
    except DecodeError as exc:
        return Poll(task.settings.id, task.profile.ref, ts_ms, Quality.ERROR, {}, str(exc)[:500])
    return Poll(task.settings.id, task.profile.ref, ts_ms, Quality.OK, values)


class Scheduler:
    def __init__(self, settings: EdgeSettings, library: ProfileLibrary, sink: Callable[[Poll], None]) -> None:
        self.sink = sink
        self.buses: list[tuple[BusSettings, list[DeviceTask]]] = []
        self._bus_settings = {bus.name: bus for bus in settings.buses}
        self._links: dict[str, ModbusLink] = {}
        for bus in settings.buses:
            tasks = []
            for device in bus.devices:
                profile = library.get(device.profile)
                assert profile is not None, "load_settings checked the profile"
                fields, plan = device_plan(device, profile)
                tasks.append(DeviceTask(bus, device, profile, fields, plan))
            self.buses.append((bus, tasks))

    def link(self, bus_name: str) -> ModbusLink:
        """The one connection of a bus, shared with station I/O modules on the same line."""
        found = self._links.get(bus_name)
        if found is None:
            found = self._links[bus_name] = link_for(self._bus_settings[bus_name])
        return found

    def qualities(self) -> dict[str, Quality]:
        return {t.settings.id: t.quality for _, tasks in self.buses for t in tasks if t.quality is not None}

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop``; the caller closes the links (:meth:`close`) once everything stopped."""
        async with asyncio.TaskGroup() as group:
            for bus, tasks in self.buses:
                group.create_task(self._run_bus(bus, tasks, stop))

    async def _run_bus(self, bus: BusSettings, tasks: list[DeviceTask], stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        link = self.link(bus.name)
        start = loop.time()
        for i, task in enumerate(tasks):
            task.next_due = start + task.settings.interval_s * i / len(tasks)
        while not stop.is_set():
            task = min(tasks, key=lambda t: t.next_due)
            delay = task.next_due - loop.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                    return
                except TimeoutError:
                    pass
            poll = await poll_device(link, task)
            self._record(task, poll, loop.time())
            self.sink(poll)

    def close(self) -> None:
        """Close every bus connection; after all users of the links (station I/O too) stopped."""
        for link in self._links.values():
            link.close()

    def _record(self, task: DeviceTask, poll: Poll, now: float) -> None:
        interval = task.settings.interval_s
        name = task.settings.id
        if poll.quality is Quality.OK:
            if task.failures:
                log.warning("device %s answers again after %d failed poll(s)", name, task.failures)
            task.failures = 0
            task.next_due += interval
            if task.next_due <= now:
                # Late (a slow bus): skip the missed slots instead of bursting to catch up.
                task.next_due += ((now - task.next_due) // interval + 1) * interval
        else:
            if not task.failures:
                log.warning("device %s (unit %d on %s): %s", name, task.settings.unit_id, task.bus.address, poll.error)
            task.failures += 1
            backoff = backoff_s(task.failures - 1, interval, max(MAX_BACKOFF_S, interval), rand=None)
            task.next_due = now + backoff
        task.quality = poll.quality
