"""Shelly plugs and relays.

* Gen1 (Plug S, 1PM, 2.5): ``shellies/<id>/relay/<ch>/power`` carries watts as a plain number
  string (``"23.45"``); ``shellies/<id>/relay/<ch>/energy`` the total in **watt-minutes** as an
  integer string. Neither has a timestamp: the edge uses the receive time.
* Gen2 / Plus (Plus Plug S, Plus 1PM) publish the switch's status in two ways (Shelly Gen2 API,
  "MQTT" and "Notifications"):

  - ``<id>/status/switch:<ch>``: the whole status, only with *Generic status update over MQTT*
    (``status_ntf``, off by default);
  - ``<id>/events/rpc``: ``{"method": "NotifyStatus", "params": {"ts": ..., "switch:0": {...}}}``
    with *RPC status notifications over MQTT* (``rpc_ntf``, on by default), carrying only the
    attributes that changed (only ``apower``, or only ``aenergy``). The receiver overlays them on
    the last known status (:func:`overlay`).

  ``apower`` is W and ``aenergy.total`` is Wh. ``params.ts`` is the device's time of the
  notification; the status topic has none, so it gets the receive time. ``aenergy.minute_ts``
  names the minute ``aenergy`` belongs to: the same status arriving on both topics, or a status
  in which only the voltage changed, is recognised as a repeat (:func:`reading_key`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.sources.sample import PayloadError, Sample, json_object, number, plausible_ms

WATT_MINUTES_PER_KWH = 60_000.0
NOTIFICATIONS = ("NotifyStatus", "NotifyFullStatus")


def gen1_topics(device: str, channel: int = 0) -> list[str]:
    return [f"shellies/{device}/relay/{channel}/power", f"shellies/{device}/relay/{channel}/energy"]


def gen1_sample(topic: str, payload: bytes) -> Sample:
    text = payload.decode("utf-8", "replace").strip()
    if topic.endswith("/power"):
        return Sample(power_w=number(text, f"{topic} (W)"))
    if topic.endswith("/energy"):
        return Sample(energy_kwh=number(text, f"{topic} (watt-minutes)") / WATT_MINUTES_PER_KWH)
    raise PayloadError(f"{topic}: not a Shelly Gen1 power or energy topic")


def gen1_silence_hint(device: str, channel: int = 0) -> str:
    return (
        f"nothing on shellies/{device}/relay/{channel}/power or .../energy. Fix: in the plug's web page, "
        "Internet & Security > Advanced - Developer Settings, enable MQTT with this broker; "
        f"its Will Topic must name the device {device}"
    )


def gen2_topics(device: str, channel: int = 0) -> list[str]:
    return [f"{device}/status/switch:{channel}", f"{device}/events/rpc"]


def gen2_silence_hint(device: str, channel: int = 0) -> str:
    return (
        f"nothing on {device}/status/switch:{channel} or {device}/events/rpc. Fix: in the plug's web page, "
        "Settings > MQTT, enable MQTT with this broker and keep 'RPC status notifications over MQTT' on "
        f"(or turn on 'Generic status update over MQTT'); its 'MQTT prefix' must be {device}"
    )


@dataclass(frozen=True, slots=True)
class Gen2Update:
    """The attributes of one switch in one message (all of them, or only the changed ones)."""

    status: dict[str, Any]
    ts_ms: int | None = None


def gen2_update(topic: str, payload: bytes, channel: int = 0) -> Gen2Update | None:
    """None: a message of the plug that says nothing about this switch (another component, an event)."""
    body = json_object(payload, topic)
    if not topic.endswith("/events/rpc"):
        return Gen2Update(body)
    if body.get("method") not in NOTIFICATIONS:
        return None  # NotifyEvent (a button, a restart) carries no status
    params = body.get("params")
    if not isinstance(params, dict):
        raise PayloadError(f"{topic}: {body.get('method')} without params")
    part = params.get(f"switch:{channel}")
    if part is None:
        return None
    if not isinstance(part, dict):
        raise PayloadError(f"{topic}: switch:{channel} is not an object")
    ts = params.get("ts")
    ts_ms = None if ts is None else plausible_ms(int(number(ts, f"{topic} params.ts") * 1000))
    return Gen2Update(part, ts_ms)


def overlay(known: dict[str, Any], changed: dict[str, Any]) -> dict[str, Any]:
    """``known`` with ``changed`` laid over it, nested objects (``aenergy``) key by key."""
    merged = dict(known)
    for key, value in changed.items():
        old = merged.get(key)
        merged[key] = overlay(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return merged


def reading_key(status: dict[str, Any]) -> tuple[Any, Any, Any]:
    """What a reading of this status says: a status with the same key is a repeat, not news."""
    energy = status.get("aenergy")
    energy = energy if isinstance(energy, dict) else {}
    return status.get("apower"), energy.get("total"), energy.get("minute_ts")


def gen2_sample(topic: str, status: dict[str, Any], ts_ms: int | None = None) -> Sample:
    power = status.get("apower")
    energy = status.get("aenergy")
    if power is None and not isinstance(energy, dict):
        raise PayloadError(f"{topic}: no 'apower' or 'aenergy' (is power metering on for this switch?)")
    total = energy.get("total") if isinstance(energy, dict) else None
    return Sample(
        power_w=None if power is None else number(power, f"{topic} apower"),
        energy_kwh=None if total is None else number(total, f"{topic} aenergy.total") / 1000.0,
        ts_ms=ts_ms,
    )
