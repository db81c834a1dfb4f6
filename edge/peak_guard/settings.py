"""The ``peak_guard:`` section of edge.yaml (docs/peak-guard.md).

Cross-references (the meter is a polled device, a coil's bus exists) are checked with the rest
of edge.yaml in :func:`guard_problems`, in the same file / key / fix format.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from shopfloor.config import ConfigPath, Section
from shopfloor.contract.payloads import DeviceId
from shopfloor.kpi.opening_hours import TimeZoneName
from shopfloor.kpi.tariff import MIN_BILLED_PEAK_KW

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class TargetSettings(Section):
    """``fixed``: keep every quarter under ``kw``. ``month_peak``: never set a new monthly peak."""

    kind: Literal["fixed", "month_peak"] = "month_peak"
    kw: float | None = Field(default=None, gt=0, le=10_000, description="fixed: the quarter-hour average not to pass")
    floor_kw: float = Field(
        default=MIN_BILLED_PEAK_KW, ge=0, le=10_000, description="never aim below this: the tariff bills at least it"
    )
    margin_kw: float = Field(default=0.0, ge=0, le=1000, description="shed when the forecast passes target - margin")

    @model_validator(mode="after")
    def _kw_for_fixed(self) -> Self:
        if self.kind == "fixed" and self.kw is None:
            raise ValueError("a fixed target needs 'kw', e.g. kind: fixed, kw: 8.0")
        if self.kind == "month_peak" and self.kw is not None:
            raise ValueError("'kw' belongs to kind: fixed; month_peak follows the month's peak (and floor_kw)")
        return self


class CoilSettings(Section):
    bus: DeviceId = Field(description="a bus of this edge.yaml")
    unit_id: int = Field(ge=1, le=247)
    address: int = Field(ge=0, le=65_535, description="coil address, 0-based")
    on_is: bool = Field(
        default=True, description="the coil value that lets the load run (false: a normally-closed relay)"
    )


class RelaySettings(Section):
    """A Shelly or Tasmota relay on the site broker (``local_broker``, else ``broker``)."""

    format: Literal["shelly-gen1", "shelly-gen2", "tasmota"]
    device: str = Field(min_length=1, max_length=64, pattern=r"^[^/#+\s]+$", description="the id in its topics")
    channel: int = Field(default=0, ge=0, le=7)


def parse_window(window: str) -> tuple[int, int]:
    """'HH:MM-HH:MM' -> (start, end) minutes of the day; may wrap past midnight (22:00-06:00)."""
    found = _WINDOW.match(window.replace(" ", "").replace("–", "-"))
    if found is None:
        raise ValueError(f"{window!r} is not HH:MM-HH:MM, e.g. 11:30-13:30")
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end or end > 24 * 60:
        raise ValueError(f"{window!r} is empty or ends after 24:00")
    return start, end


class LoadSettings(Section):
    id: DeviceId
    kw: float = Field(gt=0, le=10_000, description="its power when running: what shedding it saves")
    min_on_s: float = Field(default=300, ge=0, le=86_400, description="once on, not shed again before this")
    max_off_s: float = Field(default=900, ge=60, le=86_400, description="shed at most this long, whatever the peak")
    never_between: list[str] = Field(default_factory=list, description="local HH:MM-HH:MM when it is never shed")
    coil: CoilSettings | None = None
    relay: RelaySettings | None = None

    @field_validator("never_between")
    @classmethod
    def _windows(cls, windows: list[str]) -> list[str]:
        for window in windows:
            parse_window(window)
        return windows

    @model_validator(mode="after")
    def _one_switch(self) -> Self:
        if (self.coil is None) == (self.relay is None):
            raise ValueError(
                "give exactly one of 'coil: {bus, unit_id, address}' or 'relay: {format: shelly-gen2, device}'"
            )
        return self

    def windows(self) -> list[tuple[int, int]]:
        return [parse_window(w) for w in self.never_between]


class PeakGuardSettings(Section):
    meter: DeviceId = Field(description="the main meter: a device of buses[] with power and/or energy_import")
    target: TargetSettings = TargetSettings()
    restore_margin_kw: float = Field(
        default=0.5, ge=0, le=1000, description="restore only when the forecast with the load stays this far under"
    )
    settle_s: float = Field(default=10.0, ge=0, le=600, description="after an action, wait this long before the next")
    stale_after_s: float = Field(default=30.0, ge=1, le=3600, description="meter silent this long: hold, do not act")
    timezone: TimeZoneName = "Europe/Brussels"
    # validate_default: the default file names, too, are relative to edge.yaml, not to the working directory.
    state_path: ConfigPath = Field(
        default=Path("peak_guard.json"), validate_default=True, description="kept across restarts; next to edge.yaml"
    )
    override_path: ConfigPath = Field(
        default=Path("peak_guard.override.json"),
        validate_default=True,
        description="written by 'shopfloor peak-guard override'",
    )
    loads: list[LoadSettings] = Field(min_length=1, description="most important first: the last one is shed first")
    tariff_eur_per_kw_year: float | None = Field(
        default=None, gt=0, le=10_000, description="capacity tariff, for 'shopfloor peak-guard replay'"
    )

    @model_validator(mode="after")
    def _unique_loads(self) -> Self:
        ids = [load.id for load in self.loads]
        for i, load_id in enumerate(ids):
            if load_id in ids[:i]:
                raise ValueError(f"loads[{i}].id {load_id!r} is used twice: give each load its own id")
        return self


def guard_problems(file_name: str, guard: PeakGuardSettings | None, devices: list[str], buses: list[str]) -> list[str]:
    if guard is None:
        return []
    problems = []
    if guard.meter not in devices:
        problems.append(
            f"{file_name}: peak_guard.meter: {guard.meter!r} is not a device of buses[]. "
            f"Fix: use one of {', '.join(devices) or '(no devices: add the main meter under buses)'}."
        )
    for i, load in enumerate(guard.loads):
        if load.coil is not None and load.coil.bus not in buses:
            problems.append(
                f"{file_name}: peak_guard.loads[{i}].coil.bus: no bus {load.coil.bus!r}. "
                f"Fix: use one of {', '.join(buses) or '(none: add the relay module under buses)'}."
            )
    return problems
