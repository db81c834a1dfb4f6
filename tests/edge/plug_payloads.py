"""Plug messages in the shapes the vendors document, for the edge tests. Each builder names its source.

Shelly Gen2 API (shelly-api-docs.shelly.cloud/gen2):
* "Notifications": ``NotifyStatus`` carries ``params.ts`` (Unix time, UTC) and one object per
  changed component (``switch:0``) "with the same structure as the status object of the
  component. Some or all unchanged attributes of the status object may not be visible"; "the
  intended use ... is to overlay the changes from NotifyStatus over a known status". Over MQTT
  notifications arrive on ``<shelly-id>/events/rpc``.
* "RPC Protocol": a notification frame is ``{"src", "dst", "method", "params"}``.
* "MQTT" component: ``rpc_ntf`` (RPC notifications on ``<topic_prefix>/events/rpc``) and
  ``status_ntf`` (the entire status of each component on ``<topic_prefix>/status/<component:id>``).
* "Switch" component, status: ``apower`` W; ``aenergy.total`` Wh, ``aenergy.by_minute`` mWh for
  the last three minutes, ``aenergy.minute_ts`` "Unix timestamp of the first second of the last
  minute"; ``temperature`` {tC, tF}.
* "Sys" / "WiFi" / "Cloud" / "MQTT" components: the other ``status/<component>`` payloads.

Tasmota (tasmota.github.io/docs and the firmware, ``tasmota/tasmota_xdrv_driver/xdrv_03_energy.ino``):
* "MQTT": ``FullTopic`` default ``%prefix%/%topic%/``, ``%prefix%`` = Prefix1..3 (cmnd, stat,
  tele); telemetry goes to ``tele/<topic>/SENSOR`` and ``tele/<topic>/STATE``, the LWT to
  ``tele/<topic>/LWT``, command replies to ``stat/<topic>/RESULT`` (``SetOption4 1``: to
  ``stat/<topic>/<COMMAND>``), a ``Status 10`` reply to ``stat/<topic>/STATUS10``.
* ``EnergyShow()``: ``ENERGY`` is ``TotalStartTime``, ``Total``, ``Yesterday``, ``Today``,
  (``Period`` in telemetry), ``Power``, ``ApparentPower``, ``ReactivePower``, ``Factor``,
  ``Voltage``, ``Current``. With several channels ``Power`` and ``Current`` are lists; ``Total``,
  ``Yesterday`` and ``Today`` are one sum unless ``SetOption129 1`` ("Enable split total energy
  results"), then lists too. ``Voltage`` is one value when the channels share it.
* "Tasmota discovery" (SetOption19 0, the default since 9.3.1.2): retained
  ``tasmota/discovery/<MAC>/config`` (``t`` = Topic, ``ft`` = FullTopic, ``tp`` = prefixes) and
  ``tasmota/discovery/<MAC>/sensors`` (``{"sn": <the SENSOR JSON>, "ver": 1}``).
* Commands: ``EnergyTotal<x> 0`` resets meter x (1 = the first) to 0 Wh; "the new value
  represents start of day, and output for total includes the today value".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

GEN2_DEVICE = "shellyplusplugs-b8d61a8a1234"
TASMOTA_TOPIC = "tasmota_1A2B3C"
TS0 = 1795428000  # 2026-11-23T10:00:00Z


# --- Shelly Gen2 -----------------------------------------------------------------------------


def gen2_notify(prefix: str, ts: float, **components: dict[str, Any]) -> str:
    """A NotifyStatus frame as published on ``<prefix>/events/rpc`` (Notifications, RPC Protocol)."""
    params: dict[str, Any] = {"ts": ts}
    params.update({name.replace("_", ":"): status for name, status in components.items()})
    return json.dumps({"src": prefix, "dst": f"{prefix}/events", "method": "NotifyStatus", "params": params})


def gen2_event(prefix: str, ts: float) -> str:
    """A NotifyEvent frame (Notifications): events, not status; no reading."""
    event = {"component": "sys", "event": "scheduled_restart", "time_ms": 996, "ts": ts}
    return json.dumps(
        {"src": prefix, "dst": f"{prefix}/events", "method": "NotifyEvent", "params": {"ts": ts, "events": [event]}}
    )


def gen2_aenergy(total_wh: float, minute_ts: int, by_minute: tuple[float, float, float]) -> dict[str, Any]:
    """Switch status ``aenergy``: total Wh, the last three minutes in mWh, the minute's first second."""
    return {"total": total_wh, "by_minute": list(by_minute), "minute_ts": minute_ts}


def gen2_switch_status(apower: float, aenergy: dict[str, Any]) -> dict[str, Any]:
    """The whole switch status, as on ``<prefix>/status/switch:0`` with status_ntf on (Switch, status)."""
    return {
        "id": 0,
        "source": "init",
        "output": True,
        "apower": apower,
        "voltage": 230.4,
        "current": round(apower / 230.4, 3),
        "aenergy": aenergy,
        "temperature": {"tC": 38.2, "tF": 100.8},
    }


GEN2_SYS_STATUS = {  # Sys component status
    "mac": "B8D61A8A1234",
    "restart_required": False,
    "time": "10:00",
    "unixtime": TS0,
    "uptime": 3600,
    "ram_size": 246_844,
    "ram_free": 141_504,
    "fs_size": 458_752,
    "fs_free": 110_592,
    "cfg_rev": 12,
    "kvs_rev": 0,
    "schedule_rev": 0,
    "webhook_rev": 0,
    "available_updates": {},
    "reset_reason": 3,
}
GEN2_WIFI_STATUS = {"sta_ip": "192.168.1.50", "status": "got ip", "ssid": "workshop", "rssi": -58}


def gen2_every_topic(prefix: str, apower: float, total_wh: float) -> list[tuple[str, str]]:
    """What one Plus Plug S with rpc_ntf and status_ntf on publishes: every topic it has."""
    aenergy = gen2_aenergy(total_wh, TS0, (1950.0, 2010.5, 1998.2))
    return [
        (f"{prefix}/online", "true"),
        (f"{prefix}/events/rpc", gen2_notify(prefix, TS0 + 0.5, switch_0={"id": 0, "apower": apower})),
        (f"{prefix}/events/rpc", gen2_notify(prefix, TS0 + 1.5, switch_0={"id": 0, "aenergy": aenergy})),
        (f"{prefix}/events/rpc", gen2_notify(prefix, TS0 + 2.5, sys={"ram_free": 140_000, "uptime": 3602})),
        (f"{prefix}/events/rpc", gen2_event(prefix, TS0 + 3.5)),
        (f"{prefix}/status/switch:0", json.dumps(gen2_switch_status(apower, aenergy))),
        (f"{prefix}/status/sys", json.dumps(GEN2_SYS_STATUS)),
        (f"{prefix}/status/wifi", json.dumps(GEN2_WIFI_STATUS)),
        (f"{prefix}/status/cloud", json.dumps({"connected": False})),
        (f"{prefix}/status/mqtt", json.dumps({"connected": True})),
    ]


# --- Tasmota ---------------------------------------------------------------------------------


def tasmota_energy(
    total: float | list[float],
    today: float | list[float],
    power: float | list[float],
    *,
    period: bool = True,
) -> dict[str, Any]:
    """The ENERGY object of EnergyShow(); lists for a two-channel device (Total lists with SetOption129 1)."""

    def per_channel(values: float | list[float], fn: Callable[[float], float]) -> float | list[float]:
        return [fn(v) for v in values] if isinstance(values, list) else fn(values)

    energy: dict[str, Any] = {
        "TotalStartTime": "2026-01-05T09:12:44",
        "Total": total,
        "Yesterday": per_channel(today, lambda kwh: 0.31 if kwh else 0.0),
        "Today": today,
    }
    if period:
        energy["Period"] = per_channel(power, lambda w: round(w / 12))  # Wh in a 300 s TelePeriod
    energy["Power"] = power
    energy["ApparentPower"] = per_channel(power, lambda w: round(w * 1.1))
    energy["ReactivePower"] = per_channel(power, lambda w: round(w * 0.45))
    energy["Factor"] = per_channel(power, lambda w: 0.91 if w else 0.0)
    energy["Voltage"] = 231  # one value: the channels share the supply
    energy["Current"] = per_channel(power, lambda w: round(w / 231 / 0.91, 3))
    return energy


def tasmota_sensor(time: str, energy: dict[str, Any]) -> str:
    """``tele/<topic>/SENSOR`` every TelePeriod."""
    return json.dumps({"Time": time, "ENERGY": energy})


def tasmota_every_topic(topic: str, energy: dict[str, Any]) -> list[tuple[str, str]]:
    """What one metering Tasmota publishes on connect, every TelePeriod and in reply to commands."""
    status10 = {
        "StatusSNS": {"Time": "2026-11-23T10:00:05", "ENERGY": {k: v for k, v in energy.items() if k != "Period"}}
    }
    state = {
        "Time": "2026-11-23T10:00:00",
        "Uptime": "0T01:00:00",
        "UptimeSec": 3600,
        "Heap": 25,
        "SleepMode": "Dynamic",
        "Sleep": 50,
        "LoadAvg": 19,
        "MqttCount": 1,
        "POWER1": "ON",
        "POWER2": "ON",
        "Wifi": {"AP": 1, "SSId": "workshop", "Channel": 6, "Mode": "11n", "RSSI": 84, "Signal": -58, "LinkCount": 1},
    }
    energy_total_reply = {
        "EnergyTotal": {"Total": energy["Total"], "Yesterday": energy["Yesterday"], "Today": energy["Today"]}
    }
    discovery = {
        "ip": "192.168.1.51",
        "dn": "Tasmota",
        "fn": ["Tasmota", None, None, None, None, None, None, None],
        "hn": "tasmota-1A2B3C-0828",
        "mac": "A4CF121A2B3C",
        "md": "Generic",
        "ty": 0,
        "if": 0,
        "ofln": "Offline",
        "onln": "Online",
        "state": ["OFF", "ON", "TOGGLE", "HOLD"],
        "sw": "13.2.0",
        "t": topic,
        "ft": "%prefix%/%topic%/",
        "tp": ["cmnd", "stat", "tele"],
        "rl": [1, 0, 0, 0, 0, 0, 0, 0],
        "lk": 0,
        "ver": 1,
    }
    sensors = {"sn": {"Time": "2026-11-23T10:00:00", "ENERGY": energy}, "ver": 1}
    return [
        ("tasmota/discovery/A4CF121A2B3C/config", json.dumps(discovery)),
        ("tasmota/discovery/A4CF121A2B3C/sensors", json.dumps(sensors)),
        (f"tele/{topic}/LWT", "Online"),
        (
            f"tele/{topic}/INFO1",
            json.dumps(
                {
                    "Info1": {
                        "Module": "Generic",
                        "Version": "13.2.0(tasmota)",
                        "FallbackTopic": "cmnd/DVES_1A2B3C_fb/",
                        "GroupTopic": "cmnd/tasmotas/",
                    }
                }
            ),
        ),
        (
            f"tele/{topic}/INFO2",
            json.dumps(
                {"Info2": {"WebServerMode": "Admin", "Hostname": "tasmota-1A2B3C-0828", "IPAddress": "192.168.1.51"}}
            ),
        ),
        (f"tele/{topic}/INFO3", json.dumps({"Info3": {"RestartReason": "Software/System restart", "BootCount": 12}})),
        (f"tele/{topic}/STATE", json.dumps(state)),
        (f"tele/{topic}/SENSOR", tasmota_sensor("2026-11-23T10:00:00", energy)),
        (f"stat/{topic}/RESULT", json.dumps({"POWER1": "ON"})),
        (f"stat/{topic}/POWER1", "ON"),
        (f"stat/{topic}/STATUS10", json.dumps(status10)),
        (f"stat/{topic}/RESULT", json.dumps(energy_total_reply)),  # the reply to EnergyTotal
    ]
