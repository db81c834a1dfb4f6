"""Plug payloads in the devices' published shapes -> values in contract units; reset-safe counters."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from edge.counters import CounterState, advance
from edge.discover import classify, snippet
from edge.sources import PayloadError, generic, shelly, tasmota

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
    assert shelly.gen2_topics("shellyplusplugs-b8d61a8a1234") == ["shellyplusplugs-b8d61a8a1234/status/switch:0"]
    sample = shelly.gen2_sample("p/status/switch:0", json.dumps(SHELLY_GEN2_STATUS).encode())
    assert sample.power_w == 23.4
    assert sample.energy_kwh == pytest.approx(1.234567)
    assert sample.ts_ms is None  # minute_ts is the minute's start, not the measurement time
    with pytest.raises(PayloadError, match="apower"):
        shelly.gen2_sample("p/status/switch:0", b'{"id":0,"output":true}')


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
        classify("shellies/shellyplug-s-AABBCC/relay/0/power", b"23.45"),
        classify("shellyplusplugs-b8d6/status/switch:0", json.dumps(SHELLY_GEN2_STATUS).encode()),
        classify("tele/tasmota_1A2B3C/SENSOR", json.dumps(TASMOTA_SENSOR).encode()),
        classify("lab/bench3", b'{"power_w": 12.5, "energy_total": 3.2}'),
    ]
    assert [f.format if f else None for f in found] == ["shelly-gen1", "shelly-gen2", "tasmota", "generic-json"]
    assert classify("shopfloor/v1/site/bench-1/reading", b'{"power": 1}') is None
    assert classify("lab/temperature", b'{"celsius": 21}') is None
    text = snippet([f for f in found if f])
    assert 'device: "shellyplug-s-AABBCC"' in text
    assert 'power: {path: "power_w", unit: W}' in text


def test_generic_timestamp_in_the_wrong_unit_is_refused() -> None:
    spec = ("t", "w", 1.0)
    with pytest.raises(PayloadError, match="not a date between 2000 and 2100 as epoch_ms"):
        generic.sample("t", b'{"w": 5, "ts": 1763892000}', power=spec, energy=None, timestamp=("ts", "epoch_ms"))


def test_discover_merges_an_esphome_node() -> None:
    from edge.discover import merged

    power = classify("esp-sewing/sensor/sewing_power/state", b"61.5")
    energy = classify("esp-sewing/sensor/sewing_energy/state", b"4.25")
    assert classify("esp-sewing/sensor/temperature/state", b"21.0") is None
    assert power is not None and energy is not None and power.key == energy.key
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
