"""edge.yaml sections of bench stations: plugs and button boxes over MQTT, Modbus I/O, benches.

Checked with the rest of edge.yaml by :func:`edge.settings.load_settings`; cross-references
(a bench naming a source, an I/O module naming a bus) are checked in :func:`bench_problems`.
"""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from edge.sources.tasmota import DEFAULT_FULL_TOPIC
from edge.stations import Action
from shopfloor.config import Section
from shopfloor.contract import RepairStatus
from shopfloor.contract.payloads import DeviceId
from shopfloor.kpi.opening_hours import TimeZoneName, parse_hours

MqttFormat = Literal["shelly-gen1", "shelly-gen2", "tasmota", "generic-json", "button-box"]
ENERGY_FORMATS = ("shelly-gen1", "shelly-gen2", "tasmota", "generic-json")
PROFILE_OF_FORMAT = {f: f"{f}@1" for f in ENERGY_FORMATS}
CHANNEL_FORMATS = ("shelly-gen1", "shelly-gen2", "tasmota")


class ValuePath(Section):
    """Where a generic device puts one value."""

    path: str = Field(default="", description="dot path in the JSON payload; '' = the payload is the number")
    unit: str = Field(description="W or kW for power; Wh, kWh or Wmin for energy")
    topic: str | None = Field(default=None, description="its own topic (ESPHome: one topic per sensor)")


class TimestampPath(Section):
    path: str = Field(min_length=1)
    format: Literal["epoch_s", "epoch_ms", "iso"] = "epoch_s"


class ButtonSettings(Section):
    payload: str = Field(min_length=1, description="the message text (or JSON value at 'path') of this button")
    action: Action
    repair_status: RepairStatus = RepairStatus.UNKNOWN


class MqttSourceSettings(Section):
    id: DeviceId = Field(description="name of this source in edge.yaml (benches refer to it)")
    format: MqttFormat
    bench: DeviceId = Field(description="the bench/station id its readings or events are published under")
    device: str | None = Field(default=None, description="the device's own id: shellyplug-s-AABBCC, tasmota_1A2B3C")
    channel: int | None = Field(
        default=None,
        ge=0,
        le=7,
        description="Shelly: relay/switch channel (default 0); Tasmota: one channel of a multi-channel device "
        "(default: all channels summed); 0 = the first",
    )
    full_topic: str | None = Field(
        default=None, description="tasmota: the plug's FullTopic, if not the default %prefix%/%topic%/"
    )
    topic: str | None = Field(default=None, description="generic-json / button-box: topic (MQTT wildcards allowed)")
    power: ValuePath | None = None
    energy: ValuePath | None = None
    timestamp: TimestampPath | None = None
    timezone: TimeZoneName = Field(default="UTC", description="tasmota: the plug's time zone (its Time has none)")
    stale_after_s: float = Field(default=600.0, ge=1, le=86_400, description="silence after which it is stale")
    path: str = Field(default="", description="button-box: JSON path of the button name; '' = whole payload")
    buttons: list[ButtonSettings] = Field(default_factory=list)
    debounce_ms: int = Field(default=50, ge=0, le=5000, description="button-box: a repeat within this is ignored")
    emit_state: bool = False
    item_events: bool = Field(
        default=True, description="false: presses only send state events; the bench page owns the items"
    )

    @model_validator(mode="after")
    def _keys_fit_the_format(self) -> Self:
        needs_device = self.format in ("shelly-gen1", "shelly-gen2", "tasmota")
        if needs_device and not self.device:
            raise ValueError(
                f"format {self.format} needs 'device', the id in the plug's topics "
                "(e.g. shellyplug-s-AABBCC or tasmota_1A2B3C; 'shopfloor edge discover' lists them)"
            )
        if self.format in ("generic-json", "button-box") and not self.topic:
            raise ValueError(f"format {self.format} needs 'topic'")
        if self.format == "generic-json":
            if self.power is None and self.energy is None:
                raise ValueError("generic-json needs 'power' and/or 'energy': {path: ..., unit: ...}")
            if self.power is not None and self.power.unit not in ("W", "kW"):
                raise ValueError(f"power.unit must be W or kW, got {self.power.unit!r}")
            if self.energy is not None and self.energy.unit not in ("Wh", "kWh", "Wmin"):
                raise ValueError(f"energy.unit must be Wh, kWh or Wmin, got {self.energy.unit!r}")
        elif self.power or self.energy or self.timestamp:
            raise ValueError("power/energy/timestamp paths belong to format generic-json only")
        if self.channel is not None and self.format not in CHANNEL_FORMATS:
            fix = (
                "point the power/energy path at the channel's value (e.g. path: ENERGY.Power.1)"
                if self.format == "generic-json"
                else "remove channel:"
            )
            raise ValueError(
                f"channel: {self.channel} cannot be honoured by format {self.format}: only "
                f"{', '.join(CHANNEL_FORMATS)} read one channel of a device. Fix: {fix}"
            )
        if self.full_topic is not None:
            if self.format != "tasmota":
                raise ValueError("full_topic belongs to format tasmota only (the plug's FullTopic)")
            _check_full_topic(self.full_topic)
        if self.format == "button-box":
            if not self.buttons:
                raise ValueError("a button-box needs 'buttons': [{payload: start, action: start}, ...]")
            seen = [b.payload for b in self.buttons]
            if len(seen) != len(set(seen)):
                raise ValueError("two buttons share one payload: give each button its own payload")
        elif self.buttons:
            raise ValueError("'buttons' belong to format button-box only")
        return self

    @property
    def is_energy(self) -> bool:
        return self.format in ENERGY_FORMATS

    @property
    def tasmota_full_topic(self) -> str:
        return self.full_topic or DEFAULT_FULL_TOPIC


def _check_full_topic(full_topic: str) -> None:
    unknown = sorted(set(re.findall(r"%[a-z]+%", full_topic)) - {"%prefix%", "%topic%"})
    if unknown:
        raise ValueError(
            f"full_topic {full_topic!r}: {', '.join(unknown)} is only known to the plug. "
            "Fix: write its value in its place (e.g. the plug's hostname for %hostname%); "
            "%prefix% and %topic% (= device) are filled in by the edge"
        )
    if any(c in full_topic for c in "+#"):
        raise ValueError(f"full_topic {full_topic!r}: no MQTT wildcards. Fix: copy the plug's Full Topic as it is")


class InputSettings(Section):
    address: int = Field(ge=0, le=65535, description="coil / discrete input number; bit 0..15 of the state word")
    action: Action
    repair_status: RepairStatus = RepairStatus.UNKNOWN
    active_low: bool = Field(default=False, description="a normally-closed contact: pressed reads 0")


class StationIoSettings(Section):
    id: DeviceId = Field(description="name of this I/O module in edge.yaml")
    bench: DeviceId = Field(description="the station id its events are published under")
    bus: str | None = Field(default=None, description="name of a bus in 'buses' (shares its line and lock)")
    tcp: str | None = Field(default=None, description="host:port of the I/O module")
    timeout_s: float = Field(default=0.3, gt=0, le=10)
    unit_id: int = Field(ge=1, le=247)
    table: Literal["coils", "discrete_inputs", "holding_bitmask"]
    word_address: int = Field(default=0, ge=0, le=65535, description="holding_bitmask: the state word's address")
    inputs: list[InputSettings] = Field(min_length=1)
    poll_ms: int = Field(default=15, ge=5, le=1000, description="how often the inputs are read")
    debounce_ms: int = Field(default=50, ge=0, le=5000, description="how long a change must be stable to count")
    emit_state: bool = False
    item_events: bool = Field(
        default=True, description="false: presses only send state events; the bench page owns the items"
    )
    timezone: TimeZoneName = "UTC"

    @model_validator(mode="after")
    def _checks(self) -> Self:
        if (self.bus is None) == (self.tcp is None):
            raise ValueError("give exactly one of 'bus: <name of a bus>' or 'tcp: host:502'")
        if self.tcp is not None:
            host, sep, port = self.tcp.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError("tcp must be host:port, e.g. 192.168.1.60:502")
        addresses = [i.address for i in self.inputs]
        if len(addresses) != len(set(addresses)):
            raise ValueError("two inputs share one address: each input needs its own")
        if self.table == "holding_bitmask" and max(addresses) > 15:
            raise ValueError("holding_bitmask inputs are bits 0..15 of the register: address must be <= 15")
        return self


class BenchSettings(Section):
    id: DeviceId
    energy: str = Field(default="none", description="a mqtt_sources id, a Modbus device id (= the bench id), or none")
    events: str = Field(default="none", description="a button-box mqtt_sources id, a stations_io id, page, or none")
    opening_hours: str | None = Field(default=None, description="e.g. 'mon-fri 09:00-17:00; sat 10:00-14:00'")
    timezone: TimeZoneName = "Europe/Brussels"

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, hours: str | None) -> str | None:
        if hours is not None:
            parse_hours(hours)
        return hours


def bench_problems(
    file_name: str,
    benches: list[BenchSettings],
    sources: list[MqttSourceSettings],
    stations_io: list[StationIoSettings],
    modbus_devices: list[str],
    bus_names: list[str],
) -> list[str]:
    problems: list[str] = []
    by_id: dict[str, str] = {}
    for where, name in [(f"mqtt_sources[{i}]", s.id) for i, s in enumerate(sources)] + [
        (f"stations_io[{i}]", s.id) for i, s in enumerate(stations_io)
    ]:
        if name in by_id or name in modbus_devices:
            problems.append(
                f"{file_name}: {where}.id: {name!r} is already used by {by_id.get(name, 'a Modbus device')}. "
                "Fix: give each source its own id."
            )
        by_id.setdefault(name, where)
    for i, io in enumerate(stations_io):
        if io.bus is not None and io.bus not in bus_names:
            problems.append(
                f"{file_name}: stations_io[{i}].bus: no bus named {io.bus!r}. "
                f"Fix: use one of {', '.join(bus_names) or '(none: add a bus, or give tcp: host:port)'}."
            )
    energy = {s.id: s for s in sources if s.is_energy}
    problems += _shared_benches(file_name, sources, modbus_devices)
    events: dict[str, str] = {s.id: s.bench for s in sources if not s.is_energy}
    events.update({s.id: s.bench for s in stations_io})
    seen: set[str] = set()
    for i, bench in enumerate(benches):
        where = f"{file_name}: benches[{i}]"
        if bench.id in seen:
            problems.append(f"{where}.id: bench {bench.id!r} is listed twice. Fix: list each bench once.")
        seen.add(bench.id)
        if bench.energy != "none":
            plug = energy.get(bench.energy)
            if plug is not None and plug.bench != bench.id:
                problems.append(
                    f"{where}.energy: {bench.energy} publishes as {plug.bench!r}, not {bench.id!r}. "
                    f"Fix: set bench: {bench.id} on that mqtt_sources entry."
                )
            elif plug is None and bench.energy in modbus_devices and bench.energy != bench.id:
                problems.append(
                    f"{where}.energy: the Modbus device {bench.energy!r} must be named {bench.id!r}, because the KPIs "
                    f"find a bench's energy by device id. Fix: rename the device to {bench.id}."
                )
            elif plug is None and bench.energy not in modbus_devices:
                known = sorted([*energy, *modbus_devices])
                problems.append(
                    f"{where}.energy: no energy source {bench.energy!r}. "
                    f"Fix: use none or one of {', '.join(known) or '(none declared)'}."
                )
        if bench.events == "page":
            for where_source, source in [
                (f"mqtt_sources[{j}]", s) for j, s in enumerate(sources) if not s.is_energy
            ] + [(f"stations_io[{j}]", s) for j, s in enumerate(stations_io)]:
                if source.bench == bench.id and source.item_events:
                    problems.append(
                        f"{where}.events: the bench page owns this bench's items, but {where_source} ({source.id}) "
                        "would start items of its own. Fix: set item_events: false on it (its presses then "
                        "send working/paused/idle), or set events: " + source.id + "."
                    )
        if bench.events not in ("none", "page"):
            station = events.get(bench.events)
            if station is None:
                known = sorted(events)
                problems.append(
                    f"{where}.events: no event source {bench.events!r}. "
                    f"Fix: use none, page, or one of {', '.join(known) or '(none declared)'}."
                )
            elif station != bench.id:
                problems.append(
                    f"{where}.events: {bench.events} publishes as {station!r}, not {bench.id!r}. "
                    f"Fix: set bench: {bench.id} on that source."
                )
    return problems


def _shared_benches(file_name: str, sources: list[MqttSourceSettings], modbus_devices: list[str]) -> list[str]:
    """Two energy sources publishing as one bench give it two counters in one series: refused."""
    problems: list[str] = []
    first: dict[str, str] = {}
    for i, source in enumerate(sources):
        if not source.is_energy:
            continue
        where = f"mqtt_sources[{i}]"
        other = first.get(source.bench)
        if other is not None:
            problems.append(
                f"{file_name}: {where}.bench: {source.id} would publish energy as {source.bench!r}, which already "
                f"gets its energy from {other}. Fix: one energy source per bench: remove one (two entries for one "
                "plug, as an older 'shopfloor edge discover' printed, are one device), or give it its own bench id."
            )
        elif source.bench in modbus_devices:
            problems.append(
                f"{file_name}: {where}.bench: {source.id} would publish energy as {source.bench!r}, which is the "
                f"Modbus device {source.bench!r}. Fix: one energy source per bench: remove the plug or the meter, "
                "or give the plug its own bench id."
            )
        first.setdefault(source.bench, f"{where} ({source.id})")
    return problems
