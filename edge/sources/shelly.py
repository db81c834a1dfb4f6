"""Shelly plugs and relays.

* Gen1 (Plug S, 1PM, 2.5): ``shellies/<id>/relay/<ch>/power`` carries watts as a plain number
  string (``"23.45"``); ``shellies/<id>/relay/<ch>/energy`` the total in **watt-minutes** as an
  integer string. Neither has a timestamp: the edge uses the receive time.
* Gen2 / Plus (Plus Plug S, Plus 1PM): ``<id>/status/switch:<ch>`` is the switch status JSON;
  ``apower`` is W and ``aenergy.total`` is Wh. ``aenergy.minute_ts`` is the start of the current
  minute, not the measurement time, so the receive time is used here too.
"""

from __future__ import annotations

from edge.sources.sample import PayloadError, Sample, json_object, number

WATT_MINUTES_PER_KWH = 60_000.0


def gen1_topics(device: str, channel: int = 0) -> list[str]:
    return [f"shellies/{device}/relay/{channel}/power", f"shellies/{device}/relay/{channel}/energy"]


def gen1_sample(topic: str, payload: bytes) -> Sample:
    text = payload.decode("utf-8", "replace").strip()
    if topic.endswith("/power"):
        return Sample(power_w=number(text, f"{topic} (W)"))
    if topic.endswith("/energy"):
        return Sample(energy_kwh=number(text, f"{topic} (watt-minutes)") / WATT_MINUTES_PER_KWH)
    raise PayloadError(f"{topic}: not a Shelly Gen1 power or energy topic")


def gen2_topics(device: str, channel: int = 0) -> list[str]:
    return [f"{device}/status/switch:{channel}"]


def gen2_sample(topic: str, payload: bytes) -> Sample:
    body = json_object(payload, topic)
    power = body.get("apower")
    energy = body.get("aenergy")
    if power is None and not isinstance(energy, dict):
        raise PayloadError(f"{topic}: no 'apower' or 'aenergy' (is power metering on for this switch?)")
    total = energy.get("total") if isinstance(energy, dict) else None
    return Sample(
        power_w=None if power is None else number(power, f"{topic} apower"),
        energy_kwh=None if total is None else number(total, f"{topic} aenergy.total") / 1000.0,
    )
