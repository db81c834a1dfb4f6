"""Plug payloads in the devices' published shapes -> values in contract units; reset-safe counters."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from edge.counters import CounterState, advance, advance_channels
from edge.discover import classify, merged, snippet
from edge.sources import PayloadError, generic, shelly, tasmota
from tests.edge.plug_payloads import (
    GEN2_DEVICE,
    TASMOTA_TOPIC,
    TS0,
    gen2_aenergy,
    gen2_event,
    gen2_every_topic,
    gen2_notify,
    tasmota_energy,
    tasmota_every_topic,
    tasmota_sensor,
)

# Shelly Gen2 API, Switch component status, as on <id>/status/switch:0 with status_ntf on.
SHELLY_GEN2_STATUS = {
    "id": 0,
    "source": "timer",
    "output": True,
    "apower": 23.4,
    "voltage": 230.1,
    "current": 0.12,
    "aenergy": {"total": 1234.567, "by_minute": [390.5, 391.2, 389.9], "minute_ts": 1763892000},
    "temperature": {"tC": 41.2, "tF": 106.2},
}
# Tasmota tele/<topic>/SENSOR of a one-channel plug (EnergyShow() in xdrv_03_energy.ino).
TASMOTA_SENSOR = {
    "Time": "2026-11-23T10:00:00",
    "ENERGY": {
        "TotalStartTime": "2026-01-05T09:12:44",
        "Total": 12.345,
        "Yesterday": 0.5,
        "Today": 0.2,
        "Period": 1,
        "Power": 45,
        "ApparentPower": 50,
        "ReactivePower": 20,
        "Factor": 0.9,
        "Voltage": 231,
        "Current": 0.2,
    },
}


def test_shelly_gen1_power_and_watt_minutes() -> None:
    assert shelly.gen1_topics("shellyplug-s-AABBCC") == [
        "shellies/shellyplug-s-AABBCC/relay/0/power",
        "shellies/shellyplug-s-AABBCC/relay/0/energy",
    ]
    power = shelly.gen1_sample("shellies/shellyplug-s-AABBCC/relay/0/power", b"23.45")
    assert (power.power_w, power.energy_kwh, power.ts_ms) == (23.45, None, None)
    energy = shelly.gen1_sample("shellies/shellyplug-s-AABBCC/relay/0/energy", b"123000")
    assert energy.energy_kwh == pytest.approx(2.05)  # 123000 Wmin / 60000
    with pytest.raises(PayloadError, match="not a number"):
        shelly.gen1_sample("shellies/x/relay/0/power", b"on")


def test_shelly_gen2_switch_status() -> None:
    assert shelly.gen2_topics("shellyplusplugs-b8d61a8a1234") == [
        "shellyplusplugs-b8d61a8a1234/status/switch:0",
        "shellyplusplugs-b8d61a8a1234/events/rpc",
    ]
    update = shelly.gen2_update("p/status/switch:0", json.dumps(SHELLY_GEN2_STATUS).encode())
    assert update is not None
    sample = shelly.gen2_sample("p/status/switch:0", update.status, update.ts_ms)
    assert sample.power_w == 23.4
    assert sample.energy_kwh == pytest.approx(1.234567)
    assert sample.ts_ms is None  # minute_ts is the minute's start, not the measurement time
    with pytest.raises(PayloadError, match="apower"):
        shelly.gen2_sample("p/status/switch:0", {"id": 0, "output": True})


def test_tasmota_local_time_in_the_configured_zone() -> None:
    sample = tasmota.sample("tele/tasmota_1A2B3C/SENSOR", json.dumps(TASMOTA_SENSOR).encode(), "Europe/Brussels")
    assert (sample.power_w, sample.energy_kwh) == (45.0, 12.345)
    assert sample.ts_ms == int(datetime(2026, 11, 23, 9, 0, tzinfo=UTC).timestamp() * 1000)  # CET = UTC+1
    unset_clock = {**TASMOTA_SENSOR, "Time": "1970-01-01T00:03:12"}
    assert tasmota.sample("tele/t/SENSOR", json.dumps(unset_clock).encode(), "UTC").ts_ms is None
    with pytest.raises(PayloadError, match="no ENERGY"):
        tasmota.sample("tele/t/SENSOR", b'{"Time":"2026-11-23T10:00:00","AM2301":{"Temperature":20}}', "UTC")


def test_generic_json_paths_units_and_timestamp() -> None:
    payload = b'{"meter":{"w":1.2,"wh":3456},"ts":1763892000}'
    sample = generic.sample(
        "lab/bench3",
        payload,
        power=("lab/+", "meter.w", generic.POWER_SCALE["kW"]),
        energy=("lab/+", "meter.wh", generic.ENERGY_SCALE["Wh"]),
        timestamp=("ts", "epoch_s"),
    )
    assert (sample.power_w, sample.energy_kwh, sample.ts_ms) == (1200.0, 3.456, 1763892000000)


def test_generic_esphome_plain_values_on_their_own_topics() -> None:
    power = ("esphome-bench/sensor/bench_power/state", "", 1.0)
    energy = ("esphome-bench/sensor/bench_energy/state", "", 1.0)
    got_power = generic.sample("esphome-bench/sensor/bench_power/state", b"61.5", power=power, energy=energy)
    got_energy = generic.sample("esphome-bench/sensor/bench_energy/state", b"4.25", power=power, energy=energy)
    assert (got_power.power_w, got_power.energy_kwh) == (61.5, None)
    assert (got_energy.power_w, got_energy.energy_kwh) == (None, 4.25)


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [("a/+/c", "a/b/c", True), ("a/#", "a/b/c", True), ("a/+", "a/b/c", False), ("a/b", "a/b", True)],
)
def test_topic_matches(pattern: str, topic: str, expected: bool) -> None:
    assert generic.topic_matches(pattern, topic) is expected


def test_counter_reset_keeps_the_total_right() -> None:
    """10.0 -> 10.5 kWh, power cut (plug restarts at 0), 0.0 -> 0.3: 0.8 kWh used, published counter monotonic."""
    state, published = CounterState(), []
    for raw in (10.0, 10.2, 10.5, 0.0, 0.1, 0.3):
        state, total = advance(state, raw)
        published.append(total)
    assert published == [10.0, 10.2, 10.5, 10.5, 10.6, 10.8]
    assert published[-1] - published[0] == pytest.approx(0.8)
    assert state.resets == 1
    assert CounterState.loads(state.dumps()) == state  # what is persisted is what comes back


def test_counter_holds_through_rounding_noise() -> None:
    state, first = advance(CounterState(), 5.0)
    state, second = advance(state, 4.9995)
    assert (first, second, state.resets) == (5.0, 5.0, 0)


def test_discover_classifies_and_snippets() -> None:
    found = [
        *classify("shellies/shellyplug-s-AABBCC/relay/0/power", b"23.45"),
        *classify("shellyplusplugs-b8d6/status/switch:0", json.dumps(SHELLY_GEN2_STATUS).encode()),
        *classify("tele/tasmota_1A2B3C/SENSOR", json.dumps(TASMOTA_SENSOR).encode()),
        *classify("lab/bench3", b'{"power_w": 12.5, "energy_total": 3.2}'),
    ]
    assert [f.format for f in found] == ["shelly-gen1", "shelly-gen2", "tasmota", "generic-json"]
    assert classify("shopfloor/v1/site/bench-1/reading", b'{"power": 1}') == []
    assert classify("lab/temperature", b'{"celsius": 21}') == []
    text = snippet(found)
    assert 'device: "shellyplug-s-AABBCC"' in text
    assert 'power: {path: "power_w", unit: W}' in text


def test_generic_timestamp_in_the_wrong_unit_is_refused() -> None:
    spec = ("t", "w", 1.0)
    with pytest.raises(PayloadError, match="not a date between 2000 and 2100 as epoch_ms"):
        generic.sample("t", b'{"w": 5, "ts": 1763892000}', power=spec, energy=None, timestamp=("ts", "epoch_ms"))


def test_discover_merges_an_esphome_node() -> None:
    from edge.discover import merged

    (power,) = classify("esp-sewing/sensor/sewing_power/state", b"61.5")
    (energy,) = classify("esp-sewing/sensor/sewing_energy/state", b"4.25")
    assert classify("esp-sewing/sensor/temperature/state", b"21.0") == []
    assert power.key == energy.key
    text = snippet([merged(power, energy)])
    assert '    topic: "esp-sewing/sensor/sewing_power/state"' in text
    assert '    power: {path: "", unit: W}   # check the unit' in text
    assert (
        '    energy: {path: "", unit: kWh, topic: "esp-sewing/sensor/sewing_energy/state"}   # check the unit' in text
    )


def test_tasmota_two_channel_device_sums_its_channels() -> None:
    body = {"Time": "2026-11-23T10:00:00", "ENERGY": {"Total": [1.5, 2.25], "Power": [10, 20.5]}}
    sample = tasmota.sample("tele/t/SENSOR", json.dumps(body).encode(), "UTC")
    assert (sample.power_w, sample.energy_kwh) == (30.5, 3.75)


def test_tasmota_two_channel_totals_are_kept_per_channel() -> None:
    """SetOption129 1: Total is a list; the sum is published, the channels go to the counter."""
    body = tasmota_sensor("2026-11-23T10:00:00", tasmota_energy([2.813, 0.254], [0.12, 0.0], [25, 40]))
    sample = tasmota.sample("tele/t/SENSOR", body.encode(), "UTC")
    assert (sample.power_w, sample.energy_kwh, sample.energy_channels_kwh) == (65.0, 3.067, (2.813, 0.254))
    assert sample.advice is None
    second = tasmota.sample("tele/t/SENSOR", body.encode(), "UTC", channel=1)
    assert (second.power_w, second.energy_kwh, second.energy_channels_kwh) == (40.0, 0.254, ())
    with pytest.raises(PayloadError, match="no channel 2"):
        tasmota.sample("tele/t/SENSOR", body.encode(), "UTC", channel=2)


def test_tasmota_summed_total_cannot_give_one_channel() -> None:
    """SetOption129 0 (the default): Power per channel, Total one sum."""
    body = tasmota_sensor("2026-11-23T10:00:00", tasmota_energy(3.067, 0.12, [25, 40])).encode()
    summed = tasmota.sample("tele/t/SENSOR", body, "UTC")
    assert (summed.power_w, summed.energy_kwh) == (65.0, 3.067)
    assert summed.advice is not None and "SetOption129 1" in summed.advice
    with pytest.raises(PayloadError, match=r"one sum of 2 channels, so channel: 0 .*SetOption129 1"):
        tasmota.sample("tele/t/SENSOR", body, "UTC", channel=0)
    one = tasmota_sensor("2026-11-23T10:00:00", tasmota_energy(12.345, 0.2, 45)).encode()
    assert tasmota.sample("tele/t/SENSOR", one, "UTC", channel=0).energy_kwh == 12.345
    with pytest.raises(PayloadError, match=r"one channel \(0\), no channel 1"):
        tasmota.sample("tele/t/SENSOR", one, "UTC", channel=1)


@pytest.mark.parametrize(
    ("full_topic", "expected"),
    [
        ("%prefix%/%topic%/", "tele/tasmota_1A2B3C/SENSOR"),
        ("%topic%/%prefix%/", "tasmota_1A2B3C/tele/SENSOR"),
        ("workshop/%prefix%/%topic%", "workshop/tele/tasmota_1A2B3C/SENSOR"),
    ],
)
def test_tasmota_full_topic(full_topic: str, expected: str) -> None:
    assert tasmota.sensor_topic("tasmota_1A2B3C", full_topic) == expected


def test_counter_resets_are_found_per_channel() -> None:
    """The issue's case: [2.813, 0.254] -> EnergyTotal2 0 -> [2.820, 0.000] is 3.067 -> 3.074, not 5.887."""
    state, published = CounterState(), []
    for raws in ([2.813, 0.254], [2.820, 0.0], [2.830, 0.005]):
        state, total = advance_channels(state, raws)
        published.append(total)
    assert published == [3.067, 3.074, 3.089]
    assert state.resets == 1
    assert CounterState.loads(state.dumps()) == state


def test_counter_of_an_edge_that_summed_the_channels_continues() -> None:
    """An older edge stored one counter for the sum; the first list continues it without a drop or a jump."""
    older, published = advance(CounterState(), 3.067)
    state, first = advance_channels(older, [2.813, 0.260])
    state, second = advance_channels(state, [2.820, 0.0])
    assert (published, first, second) == (3.067, 3.073, 3.08)
    state, single = advance_channels(state, [2.83])  # SetOption129 0 again: the sum rose 0.01 kWh
    assert single == 3.09 and state.channels == ()


def test_shelly_gen2_notifications_overlay_the_known_status() -> None:
    """status_ntf off: NotifyStatus carries only what changed; the receiver overlays it (Gen2 API, Notifications)."""
    topic = "p/events/rpc"
    aenergy = gen2_aenergy(1000.0, TS0, (1600.0, 1650.0, 1700.0))
    energy_only = shelly.gen2_update(
        topic, gen2_notify("p", TS0 + 0.2, switch_0={"id": 0, "aenergy": aenergy}).encode()
    )
    power_only = shelly.gen2_update(topic, gen2_notify("p", TS0 + 5.5, switch_0={"id": 0, "apower": 96.5}).encode())
    assert energy_only is not None and power_only is not None
    assert energy_only.ts_ms == (TS0 * 1000) + 200  # params.ts: the device's time
    status = shelly.overlay(shelly.overlay({}, energy_only.status), power_only.status)
    sample = shelly.gen2_sample(topic, status, power_only.ts_ms)
    assert (sample.power_w, sample.energy_kwh, sample.ts_ms) == (96.5, 1.0, TS0 * 1000 + 5500)
    partial = shelly.overlay(status, {"aenergy": {"total": 1001.5}})  # nested objects overlaid key by key
    assert partial["aenergy"] == {**aenergy, "total": 1001.5}
    assert shelly.gen2_update(topic, gen2_notify("p", TS0, sys={"uptime": 3}).encode()) is None
    assert shelly.gen2_update(topic, gen2_event("p", TS0).encode()) is None
    assert shelly.gen2_update(topic, gen2_notify("p", 12.0, switch_0={"apower": 1}).encode()).ts_ms is None  # type: ignore[union-attr]
    second = shelly.gen2_update(topic, gen2_notify("p", TS0, switch_1={"id": 1, "apower": 7.0}).encode(), channel=1)
    assert second is not None and second.status["apower"] == 7.0


def test_discover_groups_every_topic_of_a_plug() -> None:
    gen2 = [
        f for topic, payload in gen2_every_topic(GEN2_DEVICE, 96.5, 1000.0) for f in classify(topic, payload.encode())
    ]
    assert {f.key for f in gen2} == {("shelly-gen2", GEN2_DEVICE, 0)}
    energy = tasmota_energy([2.813, 0.254], [0.12, 0.0], [25, 40])
    tas = [
        f for topic, payload in tasmota_every_topic(TASMOTA_TOPIC, energy) for f in classify(topic, payload.encode())
    ]
    assert {f.key for f in tas} == {("tasmota", TASMOTA_TOPIC, 0)}
    assert {f.channels for f in tas} == {2}
    one = tasmota_energy(12.345, 0.2, 45)  # one channel: STATUS10 has numbers a generic JSON device would take
    tas = [f for topic, payload in tasmota_every_topic(TASMOTA_TOPIC, one) for f in classify(topic, payload.encode())]
    assert {f.key for f in tas} == {("tasmota", TASMOTA_TOPIC, 0)} and len(tas) == 2  # SENSOR and STATUS10
    assert "# 2 channels, summed; channel: 0..1 meters one (needs SetOption129 1 on the plug)" in snippet(
        [
            merged(None, f)
            for f in classify(
                f"tele/{TASMOTA_TOPIC}/SENSOR",
                tasmota_sensor("2026-11-23T10:00:00", tasmota_energy([1.0, 2.0], [0.1, 0.2], [5, 6])).encode(),
            )
        ]
    )
    gen1 = b'{"wifi_sta": {"rssi": -60}, "meters": [{"power": 0, "total": 3}], "ram_total": 50000}'
    assert classify("shellies/shellyplug-s-AABBCC/info", gen1) == []


def test_discover_reads_a_custom_tasmota_full_topic() -> None:
    body = tasmota_sensor("2026-11-23T10:00:00", tasmota_energy(12.345, 0.2, 45)).encode()
    (found,) = classify("tasmota_1A2B3C/tele/SENSOR", body)
    assert (found.device, found.full_topic) == ("tasmota_1A2B3C", "%topic%/%prefix%/")
    assert '    full_topic: "%topic%/%prefix%/"   # the plug\'s FullTopic' in snippet([found])
    (default,) = classify("tele/tasmota_1A2B3C/SENSOR", body)
    assert default.full_topic is None
