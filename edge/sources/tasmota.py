"""Tasmota plugs: ``tele/<topic>/SENSOR`` every TelePeriod (300 s by default, 10 s minimum).

``ENERGY.Power`` is W, ``ENERGY.Total`` kWh since ``TotalStartTime``; ``Time`` is the plug's
local time **without a zone** (``2026-11-23T10:00:00``), so the device's time zone is configured
in edge.yaml. A plug without NTP reports 1970: such a time is replaced by the receive time.

A device with several metered channels (a Shelly 2.5 or a Sonoff Dual R3 running Tasmota)
reports ``Power`` as a list, one value per channel, and ``Total`` as one sum, or as a list too
with ``SetOption129 1``. ``EnergyTotal<x> 0`` resets channel x alone, so only the list lets the
edge find such a reset (see :func:`edge.counters.advance_channels`).

The topic is the plug's ``FullTopic`` (default ``%prefix%/%topic%/``) with ``%prefix%`` = the
telemetry prefix (``Prefix3``, default ``tele``) and ``%topic%`` = its ``Topic``, then ``SENSOR``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from edge.sources.sample import PayloadError, Sample, json_object, number, plausible_ms

DEFAULT_FULL_TOPIC = "%prefix%/%topic%/"
TELEMETRY_PREFIX = "tele"
TOKENS = ("%prefix%", "%topic%")
SPLIT_TOTALS = "SetOption129 1"


def sensor_topic(device: str, full_topic: str = DEFAULT_FULL_TOPIC) -> str:
    base = full_topic.replace("%prefix%", TELEMETRY_PREFIX).replace("%topic%", device)
    return base.rstrip("/") + "/SENSOR"


def topics(device: str, full_topic: str = DEFAULT_FULL_TOPIC) -> list[str]:
    return [sensor_topic(device, full_topic)]


def silence_hint(device: str, full_topic: str = DEFAULT_FULL_TOPIC) -> str:
    return (
        f"nothing on {sensor_topic(device, full_topic)}. Fix: in the plug's Configuration > Configure MQTT, "
        f"check Topic ({device}) and Full Topic ({full_topic}, as full_topic: in edge.yaml); "
        "TelePeriod must be below stale_after_s"
    )


def _values(value: Any, what: str) -> list[float]:
    if isinstance(value, list):
        return [number(v, what) for v in value]
    return [number(value, what)]


def sample(topic: str, payload: bytes, timezone: str, channel: int | None = None) -> Sample:
    """``channel`` None: the device's channels summed; else channel ``channel`` alone (0 = the first)."""
    body = json_object(payload, topic)
    energy = body.get("ENERGY")
    if not isinstance(energy, dict):
        raise PayloadError(f"{topic}: no ENERGY object (a SENSOR message of a plug without metering?)")
    power = energy.get("Power")
    total = energy.get("Total")
    powers = None if power is None else _values(power, f"{topic} ENERGY.Power")
    totals = None if total is None else _values(total, f"{topic} ENERGY.Total")
    summed_totals = isinstance(power, list) and len(power) > 1 and total is not None and not isinstance(total, list)
    advice = None
    power_w: float | None
    energy_kwh: float | None
    channels: tuple[float, ...] = ()
    if channel is None:
        power_w = None if powers is None else sum(powers)
        energy_kwh = None if totals is None else sum(totals)
        if totals is not None and len(totals) > 1:
            channels = tuple(totals)
        if summed_totals:
            advice = (
                f"{topic} reports one Total for {len(powers or [])} channels, so a reset of one channel "
                f"('EnergyTotal<x> 0') looks like a reset of all. Fix: '{SPLIT_TOTALS}' on the plug"
            )
    else:
        if summed_totals:
            raise PayloadError(
                f"{topic}: ENERGY.Total is one sum of {len(powers or [])} channels, so channel: {channel} "
                f"cannot be read from it. Fix: '{SPLIT_TOTALS}' on the plug (a Total per channel)"
            )
        power_w = None if powers is None else _channel(powers, channel, topic, "Power")
        energy_kwh = None if totals is None else _channel(totals, channel, topic, "Total")
    return Sample(
        power_w=power_w,
        energy_kwh=energy_kwh,
        ts_ms=_local_time_ms(body.get("Time"), timezone, topic),
        energy_channels_kwh=channels,
        advice=advice,
    )


def _channel(values: list[float], channel: int, topic: str, key: str) -> float:
    if channel >= len(values):
        have = "one channel (0)" if len(values) == 1 else f"channels 0..{len(values) - 1}"
        raise PayloadError(f"{topic}: ENERGY.{key} has {have}, no channel {channel}. Fix: channel: in edge.yaml")
    return values[channel]


def _local_time_ms(stamp: Any, timezone: str, topic: str) -> int | None:
    if not isinstance(stamp, str):
        return None
    try:
        local = datetime.fromisoformat(stamp)
    except ValueError:
        raise PayloadError(f"{topic}: Time {stamp!r} is not an ISO date-time") from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(timezone))
    return plausible_ms(int(local.timestamp() * 1000))
