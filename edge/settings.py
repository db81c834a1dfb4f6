"""edge.yaml: the site, the broker, the Modbus buses and their devices, the outbox, the benches.

Loaded with :func:`load_settings`, which adds the checks pydantic cannot do alone (does the
profile exist, does it have that field, are ids unique) in the same error format: file,
key path, fix. Secrets come from the environment (``${VAR}`` or ``SHOPFLOOR_EDGE__BROKER__PASSWORD``).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from edge.peak_guard.settings import PeakGuardSettings, guard_problems
from edge.profiles import ProfileLibrary
from edge.station_settings import BenchSettings, MqttSourceSettings, StationIoSettings, bench_problems
from shopfloor.config import ConfigError, ConfigPath, Section, load_config, relative_to_config
from shopfloor.contract.payloads import DeviceId
from shopfloor.mqtt import BrokerSettings

ENV_PREFIX = "SHOPFLOOR_EDGE"


class DeviceSettings(Section):
    id: DeviceId = Field(description="device id on the wire: a topic level and an InfluxDB tag")
    unit_id: int = Field(ge=1, le=247, description="Modbus unit (slave) id")
    profile: str = Field(min_length=1, description="profile name, or name@version")
    interval_s: float = Field(default=5.0, ge=0.1, le=86_400, description="poll interval")
    fields: list[str] | None = Field(default=None, min_length=1, description="read only these quantities")
    max_registers: int = Field(default=125, ge=1, le=125, description="largest read; some meters accept less")
    max_gap: int = Field(default=64, ge=0, le=125, description="unread registers a read may bridge")
    one_request_per_field: bool = False
    request_delay_s: float = Field(default=0.0, ge=0, le=10, description="pause between two requests")


class BusSettings(Section):
    name: DeviceId
    serial: str | None = Field(default=None, description="serial port, e.g. /dev/ttyUSB0")
    tcp: str | None = Field(default=None, description="host:port of a Modbus TCP meter or gateway")
    baudrate: int = Field(default=9600, ge=300, le=921_600)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    timeout_s: float = Field(default=0.5, gt=0, le=30, description="answer timeout per request")
    devices: list[DeviceSettings] = Field(min_length=1)

    @field_validator("tcp")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError("must be host:port, e.g. 192.168.1.50:502")
        return value

    @model_validator(mode="after")
    def _one_transport(self) -> Self:
        if (self.serial is None) == (self.tcp is None):
            raise ValueError("give exactly one of 'serial: /dev/ttyUSB0' or 'tcp: host:502'")
        for i, device in enumerate(self.devices):
            if self.timeout_s >= device.interval_s:
                raise ValueError(
                    f"timeout_s ({self.timeout_s}) must be shorter than devices[{i}].interval_s "
                    f"({device.interval_s}): lower timeout_s or poll less often"
                )
        return self

    @property
    def host_port(self) -> tuple[str, int]:
        assert self.tcp is not None
        host, _, port = self.tcp.rpartition(":")
        return host, int(port)

    @property
    def address(self) -> str:
        return self.serial or self.tcp or ""


class OutboxSettings(Section):
    path: ConfigPath = Field(default=Path("outbox.db"), description="SQLite file; relative to edge.yaml")
    max_rows: int = Field(default=1_000_000, ge=100)
    max_age_s: float = Field(default=7 * 86_400, ge=60)
    checkpoint_interval_s: float = Field(default=30.0, ge=0.1, le=3600, description="how often the WAL is fsynced")


class PublishSettings(Section):
    batch_threshold: int = Field(default=20, ge=1, description="backlog size above which readings go in batches")
    batch_size: int = Field(default=200, ge=1, le=10_000)
    max_inflight: int = Field(default=20, ge=1, le=1000, description="messages awaiting PUBACK")
    require_subscriber: bool = Field(
        default=True,
        description="keep and resend readings the broker accepted but delivered to no one (PUBACK 'no matching "
        "subscribers'), as after a mosquitto restart with shared subscriptions",
    )


class EdgeSettings(Section):
    site: DeviceId
    edge_id: DeviceId
    broker: BrokerSettings = BrokerSettings()
    local_broker: BrokerSettings | None = Field(default=None, description="the site broker plugs publish to")
    profile_dirs: list[Path] = Field(default_factory=list, description="extra profile folders; relative to edge.yaml")
    buses: list[BusSettings] = Field(default_factory=list)
    outbox: OutboxSettings = OutboxSettings()
    publish: PublishSettings = PublishSettings()
    status_interval_s: float = Field(default=30.0, ge=1, le=3600)
    mqtt_sources: list[MqttSourceSettings] = Field(default_factory=list)
    stations_io: list[StationIoSettings] = Field(default_factory=list)
    benches: list[BenchSettings] = Field(default_factory=list)
    peak_guard: PeakGuardSettings | None = Field(default=None, description="optional: docs/peak-guard.md")

    @field_validator("profile_dirs")
    @classmethod
    def _dirs_relative_to_config(cls, dirs: list[Path], info: ValidationInfo) -> list[Path]:
        resolved = [relative_to_config(d, info) for d in dirs]
        for i, directory in enumerate(resolved):
            if not directory.is_dir():
                raise ValueError(f"[{i}] {directory} is not a folder: create it or remove the entry")
        return resolved

    def devices(self) -> list[tuple[BusSettings, DeviceSettings]]:
        return [(bus, device) for bus in self.buses for device in bus.devices]

    @property
    def source_broker(self) -> BrokerSettings:
        """Where plugs and button boxes publish: ``local_broker``, else ``broker``."""
        return self.local_broker or self.broker


def semantic_problems(settings: EdgeSettings, file_name: str, library: ProfileLibrary) -> list[str]:
    problems: list[str] = []
    seen_devices: dict[str, str] = {}
    seen_buses: dict[str, str] = {}
    seen_ports: dict[str, str] = {}
    for b, bus in enumerate(settings.buses):
        where_bus = f"buses[{b}]"
        if bus.name in seen_buses:
            problems.append(
                f"{file_name}: {where_bus}.name: bus {bus.name!r} is already used by {seen_buses[bus.name]}. "
                "Fix: give each bus its own name."
            )
        seen_buses.setdefault(bus.name, where_bus)
        if bus.serial is not None:
            if bus.serial in seen_ports:
                problems.append(
                    f"{file_name}: {where_bus}.serial: {bus.serial} is already {seen_ports[bus.serial]}. "
                    "Fix: put all meters of one RS-485 line under one bus, so their requests are serialised."
                )
            seen_ports.setdefault(bus.serial, f"{where_bus}.serial")
        units: dict[int, int] = {}
        for d, device in enumerate(bus.devices):
            where = f"{where_bus}.devices[{d}]"
            if device.id in seen_devices:
                problems.append(
                    f"{file_name}: {where}.id: {device.id!r} is already used by {seen_devices[device.id]}. "
                    "Fix: device ids must be unique within the edge."
                )
            seen_devices.setdefault(device.id, where)
            if device.unit_id in units:
                problems.append(
                    f"{file_name}: {where}.unit_id: unit {device.unit_id} is also devices[{units[device.unit_id]}] "
                    "on this bus. Fix: each meter on a bus needs its own unit id (set it on the meter's display)."
                )
            units.setdefault(device.unit_id, d)
            profile = library.get(device.profile)
            if profile is None:
                close = difflib.get_close_matches(device.profile, library.names(), n=1, cutoff=0.5)
                hint = f"did you mean {close[0]!r}? Known: " if close else "use one of "
                problems.append(
                    f"{file_name}: {where}.profile: unknown profile {device.profile!r}. "
                    f"Fix: {hint}{', '.join(library.names())}; or add a profile file to profile_dirs."
                )
                continue
            for f, quantity in enumerate(device.fields or []):
                if quantity not in profile.fields:
                    problems.append(
                        f"{file_name}: {where}.fields[{f}]: {profile.name} has no field {quantity!r}. "
                        f"Fix: use some of {', '.join(profile.fields)}."
                    )
    problems += bench_problems(
        file_name,
        settings.benches,
        settings.mqtt_sources,
        settings.stations_io,
        list(seen_devices),
        list(seen_buses),
    )
    problems += guard_problems(file_name, settings.peak_guard, list(seen_devices), list(seen_buses))
    return problems


def load_settings(path: Path | str, env: dict[str, str] | None = None) -> tuple[EdgeSettings, ProfileLibrary]:
    """Validate edge.yaml and everything it refers to, without connecting to anything."""
    path = Path(path)
    settings = load_config(path, EdgeSettings, env_prefix=ENV_PREFIX, env=env)
    library = ProfileLibrary.load(settings.profile_dirs)
    problems = semantic_problems(settings, path.name, library)
    if problems:
        raise ConfigError(path, problems)
    return settings, library
