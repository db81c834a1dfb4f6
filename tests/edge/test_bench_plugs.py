"""Smart plugs on a real site broker -> contract bench readings on the collector's broker.

Two real mosquitto brokers: the site's local one, where the plugs publish in their own
formats, and the upstream one, where the agent publishes contract v1.

Payload sources: Shelly Gen1 API, "MQTT" (``shellies/<id>/relay/<i>/power`` W and ``.../energy``
watt-minutes, plain numbers); Shelly Gen2 API and Tasmota as listed in ``plug_payloads`` (and the
constants of ``test_sources``); the generic-json device is custom firmware, so its shape is ours.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shopfloor.contract import MeterReading, decode
from simulator.services import Mosquitto, wait_until
from tests.edge.helpers import running_agent, write_config
from tests.edge.plug_payloads import (
    TASMOTA_TOPIC,
    TS0,
    gen2_aenergy,
    gen2_event,
    gen2_notify,
    gen2_switch_status,
    tasmota_energy,
    tasmota_sensor,
)
from tests.edge.test_sources import SHELLY_GEN2_STATUS, TASMOTA_SENSOR
from tests.harness.mqtt import MqttProbe

pytestmark = pytest.mark.integration

SOURCES: list[dict[str, Any]] = [
    {"id": "plug-gen1", "format": "shelly-gen1", "device": "shellyplug-s-AABBCC", "bench": "bench-1"},
    {"id": "plug-gen2", "format": "shelly-gen2", "device": "shellyplusplugs-b8d6", "bench": "bench-2"},
    {"id": "plug-tasmota", "format": "tasmota", "device": "tasmota_1A2B3C", "bench": "bench-3", "timezone": "UTC"},
    {
        "id": "esp-bench-4",
        "format": "generic-json",
        "topic": "workshop/bench4/meter",
        "bench": "bench-4",
        "power": {"path": "sensors.power", "unit": "W"},
        "energy": {"path": "sensors.energy", "unit": "Wh"},
        "timestamp": {"path": "ts", "format": "epoch_ms"},
    },
]


def bench_readings(probe: MqttProbe, bench: str) -> list[MeterReading]:
    out = []
    for message in list(probe.messages):
        if message.topic.endswith(f"/{bench}/reading"):
            decoded = decode(message.topic, message.payload)
            assert isinstance(decoded.payload, MeterReading)
            out.append(decoded.payload)
    return out


def values(reading: MeterReading) -> dict[str, float | None]:
    return {q: v.value for q, v in reading.values.items()}


@pytest.fixture
def upstream(mosquitto_factory: Callable[..., Mosquitto]) -> Mosquitto:
    return mosquitto_factory()


def config_for(tmp_path: Path, upstream: Mosquitto, local: Mosquitto, sources: list[dict[str, Any]]) -> Path:
    return write_config(
        tmp_path,
        upstream.port,
        [],
        local_broker={"host": local.host, "port": local.port, "reconnect_min_s": 0.2, "reconnect_max_s": 1},
        mqtt_sources=sources,
    )


def test_every_plug_format_reaches_the_collector_broker(
    tmp_path: Path, mosquitto: Mosquitto, upstream: Mosquitto
) -> None:
    config = config_for(tmp_path, upstream, mosquitto, SOURCES)
    with (
        MqttProbe(upstream.host, upstream.port, ("shopfloor/v1/#",)) as collector,
        MqttProbe(mosquitto.host, mosquitto.port, ()) as plugs,
        running_agent(config) as agent,
    ):
        wait_until(agent.sources.subscribed.is_set, 10, "agent subscribed on the local broker")
        plugs.publish("shellies/shellyplug-s-AABBCC/relay/0/power", "23.45")
        plugs.publish("shellies/shellyplug-s-AABBCC/relay/0/energy", "123000")
        plugs.publish("shellyplusplugs-b8d6/status/switch:0", json.dumps(SHELLY_GEN2_STATUS))
        plugs.publish("tele/tasmota_1A2B3C/SENSOR", json.dumps(TASMOTA_SENSOR))
        generic = {"sensors": {"power": 61.5, "energy": 4250}, "ts": 1795428000000}
        plugs.publish("workshop/bench4/meter", json.dumps(generic))
        wait_until(lambda: len(bench_readings(collector, "bench-4")) >= 1, 10, "the generic reading upstream")
        wait_until(lambda: len(bench_readings(collector, "bench-1")) >= 2, 10, "both Gen1 readings upstream")

    gen1 = bench_readings(collector, "bench-1")
    assert [values(r) for r in gen1] == [{"power": 23.45}, {"power": 23.45, "energy_import": 2.05}]
    assert {r.profile for r in gen1} == {"shelly-gen1@1"}
    (gen2,) = bench_readings(collector, "bench-2")
    assert (gen2.profile, values(gen2)) == ("shelly-gen2@1", {"power": 23.4, "energy_import": 1.234567})
    (tas,) = bench_readings(collector, "bench-3")
    assert (tas.profile, values(tas)) == ("tasmota@1", {"power": 45.0, "energy_import": 12.345})
    assert tas.ts_ms == 1795428000000  # 2026-11-23T10:00:00 in UTC, the device's time
    (gen,) = bench_readings(collector, "bench-4")
    assert (gen.profile, values(gen), gen.ts_ms) == (
        "generic-json@1",
        {"power": 61.5, "energy_import": 4.25},
        1795428000000,
    )
    assert {(q, v.unit) for r in (gen2, tas, gen) for q, v in r.values.items()} == {
        ("power", "W"),
        ("energy_import", "kWh"),
    }


def gen2_status(total_wh: float, power_w: float) -> str:
    return json.dumps(
        {**SHELLY_GEN2_STATUS, "apower": power_w, "aenergy": {**SHELLY_GEN2_STATUS["aenergy"], "total": total_wh}}
    )  # type: ignore[dict-item]


def test_counter_reset_mid_series_keeps_the_day_total(
    tmp_path: Path, mosquitto: Mosquitto, upstream: Mosquitto
) -> None:
    """A Gen2 plug loses power mid-day (its total restarts at 0), and the edge restarts too.

    Plug totals (Wh): 1000, 1100, 1250 | edge restart | 1300, power cut -> 0, 50, 200.
    Energy used: 300 Wh before the cut + 200 Wh after = 0.5 kWh. Checked at the contract level:
    the published counter must rise by exactly that, never fall, never jump.
    """
    config = config_for(tmp_path, upstream, mosquitto, [SOURCES[1]])
    series = [[1000, 1100, 1250], [1300, 0, 50, 200]]
    with (
        MqttProbe(upstream.host, upstream.port, ("shopfloor/v1/#",)) as collector,
        MqttProbe(mosquitto.host, mosquitto.port, ()) as plug,
    ):
        sent = 0
        for run in series:
            with running_agent(config) as agent:
                wait_until(agent.sources.subscribed.is_set, 10, "agent subscribed")
                for total in run:
                    plug.publish("shellyplusplugs-b8d6/status/switch:0", gen2_status(total, 300.0))
                    sent += 1
                    wait_until(lambda n=sent: len(bench_readings(collector, "bench-2")) >= n, 10, "the reading")
    counter = [float(values(r)["energy_import"] or 0) for r in bench_readings(collector, "bench-2")]
    assert counter == [1.0, 1.1, 1.25, 1.3, 1.3, 1.35, 1.5]
    assert min(b - a for a, b in itertools.pairwise(counter)) >= 0
    assert counter[-1] - counter[0] == pytest.approx(0.5)


def test_silent_plug_is_published_stale(tmp_path: Path, mosquitto: Mosquitto, upstream: Mosquitto) -> None:
    source = {**SOURCES[2], "stale_after_s": 1}
    config = config_for(tmp_path, upstream, mosquitto, [source])
    with (
        MqttProbe(upstream.host, upstream.port, ("shopfloor/v1/#",)) as collector,
        MqttProbe(mosquitto.host, mosquitto.port, ()) as plug,
        running_agent(config) as agent,
    ):
        wait_until(agent.sources.subscribed.is_set, 10, "agent subscribed")
        plug.publish("tele/tasmota_1A2B3C/SENSOR", json.dumps(TASMOTA_SENSOR))
        wait_until(lambda: any(r.quality == "stale" for r in bench_readings(collector, "bench-3")), 10, "stale")
        wait_until(lambda: agent.publisher.connected, 5, "publisher connected")
    readings = bench_readings(collector, "bench-3")
    assert readings[0].quality == "ok"
    stale = next(r for r in readings if r.quality == "stale")
    assert stale.values == {}
    assert stale.error is not None and stale.error.startswith("no message from tasmota_1A2B3C for ")


def test_retained_plug_value_without_timestamp_is_skipped(
    tmp_path: Path, mosquitto: Mosquitto, upstream: Mosquitto
) -> None:
    """A retained Gen1 power value is from an unknown time: it must not be published as 'now'."""
    source = {**SOURCES[0], "device": "shellyplug-retained", "bench": "bench-9"}
    config = config_for(tmp_path, upstream, mosquitto, [source])
    with (
        MqttProbe(upstream.host, upstream.port, ("shopfloor/v1/#",)) as collector,
        MqttProbe(mosquitto.host, mosquitto.port, ()) as plug,
    ):
        plug.publish("shellies/shellyplug-retained/relay/0/power", "99.9", retain=True)
        try:
            with running_agent(config) as agent:
                wait_until(agent.sources.subscribed.is_set, 10, "agent subscribed")
                plug.publish("shellies/shellyplug-retained/relay/0/power", "12.5")
                wait_until(lambda: len(bench_readings(collector, "bench-9")) >= 1, 10, "the live reading")
        finally:
            plug.publish("shellies/shellyplug-retained/relay/0/power", "", retain=True)
    assert [values(r) for r in bench_readings(collector, "bench-9")] == [{"power": 12.5}]


def test_gen2_with_notifications_only_gives_w_and_kwh_in_every_reading(
    tmp_path: Path, mosquitto: Mosquitto, upstream: Mosquitto
) -> None:
    """status_ntf off: nothing on status/switch:0, NotifyStatus on events/rpc with only what changed.

    Payloads: Shelly Gen2 API, "Notifications" (NotifyStatus/NotifyEvent frames, partial
    component objects) and "Switch" status (apower W, aenergy Wh/mWh/minute_ts); see plug_payloads.
    Partial updates alternate between apower and aenergy; a sys notification, an event and a
    temperature-only change carry nothing to publish. Each reading must carry the overlaid status.
    """
    device = "shellyplusplugs-b8d6"
    source = {"id": "plug-gen2", "format": "shelly-gen2", "device": device, "bench": "bench-2"}
    config = config_for(tmp_path, upstream, mosquitto, [source])
    minute = TS0 - TS0 % 60
    updates: list[tuple[float, dict[str, Any]]] = [
        (TS0 + 1.2, {"switch_0": {"id": 0, "apower": 120.0}}),
        (TS0 + 3.0, {"sys": {"ram_free": 139_500, "uptime": 3603}}),
        (minute + 60.1, {"switch_0": {"id": 0, "aenergy": gen2_aenergy(1000.0, minute + 60, (0.0, 2000.0, 1990.0))}}),
        (minute + 71.4, {"switch_0": {"id": 0, "apower": 80.5}}),
        (minute + 90.0, {"switch_0": {"id": 0, "temperature": {"tC": 39.1, "tF": 102.4}}}),
        (minute + 120.1, {"switch_0": {"id": 0, "aenergy": gen2_aenergy(1001.6, minute + 120, (0.0, 1600.0, 2000.0))}}),
        (minute + 133.9, {"switch_0": {"id": 0, "apower": 0.0}}),
        (minute + 180.1, {"switch_0": {"id": 0, "aenergy": gen2_aenergy(1001.9, minute + 180, (0.0, 300.0, 1600.0))}}),
    ]
    expected = [
        (TS0 + 1.2, {"power": 120.0}),
        (minute + 60.1, {"power": 120.0, "energy_import": 1.0}),
        (minute + 71.4, {"power": 80.5, "energy_import": 1.0}),
        (minute + 120.1, {"power": 80.5, "energy_import": 1.0016}),
        (minute + 133.9, {"power": 0.0, "energy_import": 1.0016}),
        (minute + 180.1, {"power": 0.0, "energy_import": 1.0019}),
    ]
    with (
        MqttProbe(upstream.host, upstream.port, ("shopfloor/v1/#",)) as collector,
        MqttProbe(mosquitto.host, mosquitto.port, ()) as plug,
        running_agent(config) as agent,
    ):
        wait_until(agent.sources.subscribed.is_set, 10, "agent subscribed on the local broker")
        plug.publish(f"{device}/online", "true")
        for n, (ts, components) in enumerate(updates):
            plug.publish(f"{device}/events/rpc", gen2_notify(device, ts, **components))
            if n == 4:
                plug.publish(f"{device}/events/rpc", gen2_event(device, ts))
        wait_until(lambda: len(bench_readings(collector, "bench-2")) >= len(expected), 10, "every reading")
        plug.publish(f"{device}/events/rpc", gen2_notify(device, minute + 181, switch_0={"id": 0, "apower": 5.0}))
        wait_until(lambda: len(bench_readings(collector, "bench-2")) > len(expected), 10, "the last reading")
    readings = bench_readings(collector, "bench-2")
    got = [(r.ts_ms, values(r)) for r in readings[: len(expected)]]
    assert got == [(int(ts * 1000), want) for ts, want in expected]  # the device's params.ts, not receive time
    assert values(readings[len(expected)]) == {"power": 5.0, "energy_import": 1.0019}
    assert len(readings) == len(expected) + 1  # sys, event and temperature-only notifications made none


def test_gen2_with_both_topics_on_publishes_each_change_once(
    tmp_path: Path, mosquitto: Mosquitto, upstream: Mosquitto
) -> None:
    """rpc_ntf and status_ntf on: each change comes as NotifyStatus and as the whole status/switch:0."""
    device = "shellyplusplugs-b8d6"
    source = {"id": "plug-gen2", "format": "shelly-gen2", "device": device, "bench": "bench-2"}
    config = config_for(tmp_path, upstream, mosquitto, [source])
    minute = TS0 - TS0 % 60
    with (
        MqttProbe(upstream.host, upstream.port, ("shopfloor/v1/#",)) as collector,
        MqttProbe(mosquitto.host, mosquitto.port, ()) as plug,
        running_agent(config) as agent,
    ):
        wait_until(agent.sources.subscribed.is_set, 10, "agent subscribed on the local broker")
        for n, (power, total) in enumerate([(60.0, 500.0), (62.5, 501.0), (0.0, 502.0)]):
            aenergy = gen2_aenergy(total, minute + 60 * n, (0.0, 1000.0, 1000.0))
            plug.publish(
                f"{device}/events/rpc",
                gen2_notify(device, minute + 60 * n + 0.1, switch_0={"id": 0, "apower": power, "aenergy": aenergy}),
            )
            plug.publish(f"{device}/status/switch:0", json.dumps(gen2_switch_status(power, aenergy)))
        plug.publish(
            f"{device}/status/switch:0",
            json.dumps(gen2_switch_status(1.0, gen2_aenergy(502.0, minute + 180, (0.0, 0.0, 1000.0)))),
        )
        wait_until(lambda: any(values(r).get("power") == 1.0 for r in bench_readings(collector, "bench-2")), 10, "last")
    assert [values(r) for r in bench_readings(collector, "bench-2")] == [
        {"power": 60.0, "energy_import": 0.5},
        {"power": 62.5, "energy_import": 0.501},
        {"power": 0.0, "energy_import": 0.502},
        {"power": 1.0, "energy_import": 0.502},
    ]


def test_silent_gen2_plug_says_once_what_to_enable(
    tmp_path: Path, mosquitto: Mosquitto, upstream: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    source = {"id": "plug-gen2", "format": "shelly-gen2", "device": "shellyplusplugs-b8d6", "bench": "bench-2"}
    config = config_for(tmp_path, upstream, mosquitto, [{**source, "stale_after_s": 1}])
    caplog.set_level(logging.WARNING, logger="edge.mqtt_sources")
    with MqttProbe(upstream.host, upstream.port, ("shopfloor/v1/#",)) as collector, running_agent(config):
        wait_until(lambda: sum(r.quality == "stale" for r in bench_readings(collector, "bench-2")) >= 2, 10, "stale")
    hints = [r.getMessage() for r in caplog.records if "events/rpc" in r.getMessage()]
    assert hints == [
        "source plug-gen2: nothing on shellyplusplugs-b8d6/status/switch:0 or shellyplusplugs-b8d6/events/rpc. "
        "Fix: in the plug's web page, Settings > MQTT, enable MQTT with this broker and keep 'RPC status "
        "notifications over MQTT' on (or turn on 'Generic status update over MQTT'); its 'MQTT prefix' must be "
        "shellyplusplugs-b8d6"
    ]


def test_tasmota_dual_channel_reset_channel_and_full_topic(
    tmp_path: Path, mosquitto: Mosquitto, upstream: Mosquitto
) -> None:
    """A two-channel Tasmota with SetOption129 1 (Total per channel); channel 2 reset with EnergyTotal2 0.

    Payloads: Tasmota EnergyShow() (xdrv_03_energy.ino), see plug_payloads. EnergyTotal2 0 sets the
    channel's total to 0 Wh plus its Today (0 here). The sum must go 3.067 -> 3.074, never jump;
    channel: 1 publishes the second channel only; a plug with FullTopic %topic%/%prefix%/ is read.
    """
    sources: list[dict[str, Any]] = [
        {"id": "dual", "format": "tasmota", "device": TASMOTA_TOPIC, "bench": "bench-3", "timezone": "UTC"},
        {"id": "dual-2", "format": "tasmota", "device": TASMOTA_TOPIC, "bench": "bench-4", "channel": 1},
        {
            "id": "custom",
            "format": "tasmota",
            "device": "tasmota_5D6E7F",
            "bench": "bench-5",
            "full_topic": "%topic%/%prefix%/",
        },
    ]
    config = config_for(tmp_path, upstream, mosquitto, sources)
    sensors = [
        ("2026-11-23T10:00:00", tasmota_energy([2.813, 0.254], [0.120, 0.0], [25, 0])),
        ("2026-11-23T10:05:00", tasmota_energy([2.820, 0.0], [0.127, 0.0], [25, 0])),  # after EnergyTotal2 0
        ("2026-11-23T10:10:00", tasmota_energy([2.830, 0.005], [0.137, 0.005], [25, 60])),
    ]
    with (
        MqttProbe(upstream.host, upstream.port, ("shopfloor/v1/#",)) as collector,
        MqttProbe(mosquitto.host, mosquitto.port, ()) as plug,
        running_agent(config) as agent,
    ):
        wait_until(agent.sources.subscribed.is_set, 10, "agent subscribed on the local broker")
        for time_, energy in sensors:
            plug.publish(f"tele/{TASMOTA_TOPIC}/SENSOR", tasmota_sensor(time_, energy))
        plug.publish("tasmota_5D6E7F/tele/SENSOR", tasmota_sensor("2026-11-23T10:00:00", tasmota_energy(7.5, 0.1, 12)))
        wait_until(lambda: len(bench_readings(collector, "bench-4")) >= 3, 10, "the channel-2 readings")
        wait_until(lambda: len(bench_readings(collector, "bench-5")) >= 1, 10, "the custom FullTopic reading")
        wait_until(lambda: len(bench_readings(collector, "bench-3")) >= 3, 10, "the summed readings")
    summed = [values(r) for r in bench_readings(collector, "bench-3")]
    assert summed == [
        {"power": 25.0, "energy_import": 3.067},
        {"power": 25.0, "energy_import": 3.074},
        {"power": 85.0, "energy_import": 3.089},
    ]
    assert [values(r) for r in bench_readings(collector, "bench-4")] == [
        {"power": 0.0, "energy_import": 0.254},
        {"power": 0.0, "energy_import": 0.254},
        {"power": 60.0, "energy_import": 0.259},
    ]
    assert [values(r) for r in bench_readings(collector, "bench-5")] == [{"power": 12.0, "energy_import": 7.5}]


def test_gen2_back_from_stale_with_an_unchanged_status_is_ok_again(
    tmp_path: Path, mosquitto: Mosquitto, upstream: Mosquitto
) -> None:
    """A repeat is no news, except after a stale reading: then it says the plug is back."""
    device = "shellyplusplugs-b8d6"
    source = {"id": "plug-gen2", "format": "shelly-gen2", "device": device, "bench": "bench-2", "stale_after_s": 1}
    config = config_for(tmp_path, upstream, mosquitto, [source])
    status = json.dumps(gen2_switch_status(40.0, gen2_aenergy(700.0, TS0, (0.0, 660.0, 670.0))))
    with (
        MqttProbe(upstream.host, upstream.port, ("shopfloor/v1/#",)) as collector,
        MqttProbe(mosquitto.host, mosquitto.port, ()) as plug,
        running_agent(config) as agent,
    ):
        wait_until(agent.sources.subscribed.is_set, 10, "agent subscribed on the local broker")
        plug.publish(f"{device}/status/switch:0", status)
        wait_until(lambda: any(r.quality == "stale" for r in bench_readings(collector, "bench-2")), 10, "stale")
        plug.publish(f"{device}/status/switch:0", status)
        wait_until(lambda: bench_readings(collector, "bench-2")[-1].quality == "ok", 10, "ok again")
    qualities = [r.quality for r in bench_readings(collector, "bench-2")]
    assert qualities[0] == "ok" and "stale" in qualities and qualities[-1] == "ok"
    assert values(bench_readings(collector, "bench-2")[-1]) == {"power": 40.0, "energy_import": 0.7}
