"""Run simulated workshops: Modbus meters that follow the workshop's load, and bench events over MQTT.

Live: every second each site's meters get fresh registers (encoded with the same profiles the
edge decodes with), and bench events whose time has come are published as contract events.
Backfill: history is generated faster than real time and published as contract batches, so
it flows through the collector like an edge agent's backlog after an outage.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.decode import encode_value
from edge.profiles import Profile, ProfileLibrary
from shopfloor.contract import (
    DEFAULT_PREFIX,
    Kind,
    MeterReading,
    Quality,
    ReadingBatch,
    Value,
    build_topic,
    encode,
)
from simulator.meter_server import DeviceMap, MeterServer, Table
from simulator.sites import SiteSpec
from simulator.workshop import EnergyIntegrator, Workshop, noise

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes], None]

_PHASE_SPLIT = (0.42, 0.33, 0.25)


def meter_quantities(power_w: float, energy_kwh: float, three_phase: bool, seed: int, ts_ms: int) -> dict[str, float]:
    """Every quantity a meter shows, in canonical units, consistent with its power and energy."""
    wobble = noise(seed, ts_ms // 1000)
    voltage = round(229.0 + 3.0 * wobble, 2)
    pf = round(0.9 + 0.08 * noise(seed + 1, ts_ms // 60_000), 3)
    apparent = power_w / pf if pf else 0.0
    values = {
        "power": round(power_w, 1),
        "power_factor": pf,
        "frequency": round(49.98 + 0.04 * noise(seed + 2, ts_ms // 1000), 3),
        "energy_import": round(energy_kwh, 3),
        "energy_export": 0.0,
        "apparent_power": round(apparent, 1),
        "reactive_power": round(math.sqrt(max(apparent**2 - power_w**2, 0.0)), 1),
    }
    if three_phase:
        for n, share in enumerate(_PHASE_SPLIT, start=1):
            v = round(voltage + n - 2, 2)
            values[f"voltage_l{n}"] = v
            values[f"power_l{n}"] = round(power_w * share, 1)
            values[f"current_l{n}"] = round(power_w * share / (v * pf), 3)
        values["current_total"] = round(sum(values[f"current_l{n}"] for n in (1, 2, 3)), 3)
    else:
        values["voltage_l1"] = voltage
        values["current_l1"] = round(power_w / (voltage * pf), 3)
    return values


@dataclass
class _Meter:
    device: str
    unit_id: int
    profile: Profile
    registers: DeviceMap


class SimulatedSite:
    """One workshop: its Modbus server (one unit id per meter, like a TCP gateway) and its timeline."""

    def __init__(
        self,
        spec: SiteSpec,
        library: ProfileLibrary,
        *,
        seed: int,
        epoch_ms: int,
        modbus_host: str = "127.0.0.1",
        modbus_port: int | None = None,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self.spec = spec
        self.seed = seed
        self.prefix = prefix
        self.workshop = Workshop(spec, seed)
        self.energy = EnergyIntegrator(self.workshop, epoch_ms)
        self.meters: list[_Meter] = []
        for device, unit_id, profile_name in [
            (spec.main_meter_id, spec.main_unit_id, spec.main_profile),
            *((b.id, b.unit_id, b.profile) for b in spec.benches),
        ]:
            profile = library.get(profile_name)
            if profile is None:
                raise ValueError(f"site {spec.id}: no meter profile {profile_name!r}")
            self.meters.append(_Meter(device, unit_id, profile, DeviceMap(unit_id)))
        self.server = MeterServer([m.registers for m in self.meters], host=modbus_host, port=modbus_port)
        self._history_seq = 0

    def quantities(self, meter: _Meter, ts_ms: int) -> dict[str, float]:
        power = self.workshop.power_w(meter.device, ts_ms)
        three_phase = "voltage_l3" in meter.profile.fields
        values = meter_quantities(power, self.energy.kwh[meter.device], three_phase, self.seed + meter.unit_id, ts_ms)
        return {q: v for q, v in values.items() if q in meter.profile.fields}

    def update_registers(self, ts_ms: int) -> None:
        self.energy.advance(ts_ms, step_ms=1000 if ts_ms - self.energy.ts_ms < 120_000 else 60_000)
        for meter in self.meters:
            values = self.quantities(meter, ts_ms)
            for spec in meter.profile.resolved(list(values)):
                table = Table.INPUT if spec.function == 4 else Table.HOLDING
                meter.registers.set_words(table, spec.address, encode_value(values[spec.quantity], spec))

    # ---- history
    def history(self, start_ms: int, end_ms: int, step_ms: int, batch_size: int = 1000) -> list[tuple[str, bytes]]:
        """Contract messages (topic, payload) for [start_ms, end_ms): reading batches, then events."""
        edge = f"{self.spec.id}-history"
        messages: list[tuple[str, bytes]] = []
        batch: list[MeterReading] = []
        if self.energy.ts_ms > start_ms:
            raise ValueError("history must start at or after the energy counters' epoch")
        self.energy.advance(start_ms, step_ms)
        ts = start_ms
        while ts < end_ms:
            self.energy.advance(ts, step_ms)
            for meter in self.meters:
                values = self.quantities(meter, ts)
                batch.append(
                    MeterReading(
                        ts_ms=ts,
                        seq=self._history_seq,
                        edge=edge,
                        device=meter.device,
                        profile=meter.profile.ref,
                        quality=Quality.OK,
                        values={q: Value(value=v, unit=meter.profile.fields[q].unit) for q, v in values.items()},
                    )
                )
                self._history_seq += 1
                if len(batch) >= batch_size:
                    messages.append((self._topic(edge, Kind.BATCH), encode(ReadingBatch(edge=edge, readings=batch))))
                    batch = []
            ts += step_ms
        if batch:
            messages.append((self._topic(edge, Kind.BATCH), encode(ReadingBatch(edge=edge, readings=batch))))
        messages.extend(self.event_messages(start_ms, end_ms))
        return messages

    def event_messages(self, start_ms: int, end_ms: int) -> list[tuple[str, bytes]]:
        return [(self._topic(e.station, Kind.EVENT), encode(e)) for e in self.workshop.events_between(start_ms, end_ms)]

    def _topic(self, source: str, kind: Kind) -> str:
        return build_topic(self.spec.id, source, kind, prefix=self.prefix)


class Simulation:
    """Several sites, live: registers every second, events as their time comes."""

    def __init__(self, sites: list[SimulatedSite], publish: Publish, tick_s: float = 1.0) -> None:
        self.sites = sites
        self.publish = publish
        self.tick_s = tick_s
        self._stop = threading.Event()

    def start_servers(self) -> None:
        now = int(time.time() * 1000)
        for site in self.sites:
            site.update_registers(now)
            site.server.start()
            log.info("site %s: meters on Modbus TCP %s:%d", site.spec.id, site.server.host, site.server.port)

    def stop(self) -> None:
        self._stop.set()

    def run(self, until: Callable[[], bool] | None = None) -> None:
        last = int(time.time() * 1000)
        try:
            while not self._stop.is_set() and not (until and until()):
                self._stop.wait(self.tick_s)
                now = int(time.time() * 1000)
                for site in self.sites:
                    site.update_registers(now)
                    for topic, payload in site.event_messages(last, now):
                        self.publish(topic, payload)
                last = now
        finally:
            for site in self.sites:
                site.server.stop()
