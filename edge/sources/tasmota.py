"""Tasmota plugs: ``tele/<id>/SENSOR`` every TelePeriod (300 s by default, 10 s minimum).

``ENERGY.Power`` is W, ``ENERGY.Total`` kWh since ``TotalStartTime``; ``Time`` is the plug's
local time **without a zone** (``2026-11-23T10:00:00``), so the device's time zone is configured
in edge.yaml. A plug without NTP reports 1970: such a time is replaced by the receive time.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from edge.sources.sample import PayloadError, Sample, json_object, number

_EARLIEST_PLAUSIBLE_MS = 946_684_800_000  # 2000-01-01: older means the clock was never set


def topics(device: str) -> list[str]:
    return [f"tele/{device}/SENSOR"]


def sample(topic: str, payload: bytes, timezone: str) -> Sample:
    body = json_object(payload, topic)
    energy = body.get("ENERGY")
    if not isinstance(energy, dict):
        raise PayloadError(f"{topic}: no ENERGY object (a SENSOR message of a plug without metering?)")
    power = energy.get("Power")
    total = energy.get("Total")
    if isinstance(power, list):  # multi-channel devices report one value per channel
        power = sum(number(p, f"{topic} ENERGY.Power") for p in power)
    if isinstance(total, list):
        total = sum(number(t, f"{topic} ENERGY.Total") for t in total)
    ts_ms: int | None = None
    stamp = body.get("Time")
    if isinstance(stamp, str):
        try:
            local = datetime.fromisoformat(stamp)
        except ValueError:
            raise PayloadError(f"{topic}: Time {stamp!r} is not an ISO date-time") from None
        if local.tzinfo is None:
            local = local.replace(tzinfo=ZoneInfo(timezone))
        ts_ms = int(local.timestamp() * 1000)
        if ts_ms < _EARLIEST_PLAUSIBLE_MS:
            ts_ms = None
    return Sample(
        power_w=None if power is None else number(power, f"{topic} ENERGY.Power"),
        energy_kwh=None if total is None else number(total, f"{topic} ENERGY.Total"),
        ts_ms=ts_ms,
    )
