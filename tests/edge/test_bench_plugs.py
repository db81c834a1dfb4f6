"""Smart plugs on a real site broker -> contract bench readings on the collector's broker.

Two real mosquitto brokers: the site's local one, where the plugs publish in their own
formats, and the upstream one, where the agent publishes contract v1.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shopfloor.contract import MeterReading, decode
from simulator.services import Mosquitto, wait_until
from tests.edge.helpers import running_agent, write_config
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
