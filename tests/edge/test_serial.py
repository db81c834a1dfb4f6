"""Modbus RTU through a socat pty pair: two profiles decode right; a dead meter is isolated."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from simulator.meter_server import MeterServer
from simulator.services import Mosquitto, wait_until
from tests.edge.helpers import KNOWN_VALUES, library, meter, readings, running_agent, write_config
from tests.harness.mqtt import MqttProbe

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_two_profiles_over_rtu(
    tmp_path: Path,
    mosquitto: Mosquitto,
    meter_server: Callable[..., MeterServer],
    serial_pair: tuple[str, str],
) -> None:
    server_end, edge_end = serial_pair
    lib = library()
    sdm630, em24 = lib.get("eastron-sdm630"), lib.get("carlogavazzi-em24")
    assert sdm630 is not None and em24 is not None
    meter_server([meter(1, sdm630), meter(2, em24)], serial_port=server_end, baudrate=19200, stopbits=2)
    devices = [
        {"id": "main", "unit_id": 1, "profile": "eastron-sdm630", "interval_s": 1},
        {"id": "bench", "unit_id": 2, "profile": "carlogavazzi-em24", "interval_s": 1},
    ]
    bus = {"name": "rs485", "serial": edge_end, "baudrate": 19200, "stopbits": 2, "devices": devices}
    config = write_config(tmp_path, mosquitto.port, [bus], edge_id="rtu-edge")
    with MqttProbe(mosquitto.host, mosquitto.port, topics=("shopfloor/v1/test-site/+/reading",)) as probe:
        with running_agent(config):
            probe.wait_for(1, timeout=20, topic_contains="/main/")
            probe.wait_for(1, timeout=20, topic_contains="/bench/")
        got = [r for r in readings(probe.messages) if r["edge"] == "rtu-edge"]
    for device, profile in (("main", sdm630), ("bench", em24)):
        first = next(r for r in got if r["device"] == device)
        assert first["quality"] == "ok"
        assert set(first["values"]) == set(profile.fields)
        for quantity, value in first["values"].items():
            assert value == pytest.approx(KNOWN_VALUES[quantity], rel=1e-6), (device, quantity)


def test_dead_meter_is_isolated(
    tmp_path: Path,
    mosquitto: Mosquitto,
    meter_server: Callable[..., MeterServer],
    serial_pair: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Unit 2 stops answering: it is stale within 2 intervals; units 1 and 3 keep 1 Hz; logged once each way."""
    caplog.set_level(logging.WARNING, logger="edge")
    server_end, edge_end = serial_pair
    sdm120 = library().get("eastron-sdm120")
    assert sdm120 is not None
    server = meter_server([meter(u, sdm120) for u in (1, 2, 3)], serial_port=server_end, baudrate=38400)
    devices = [{"id": f"m{u}", "unit_id": u, "profile": "eastron-sdm120", "interval_s": 1} for u in (1, 2, 3)]
    bus = {"name": "rs485", "serial": edge_end, "baudrate": 38400, "devices": devices}
    config = write_config(tmp_path, mosquitto.port, [bus], edge_id="dead-edge")
    with MqttProbe(mosquitto.host, mosquitto.port, topics=("shopfloor/v1/test-site/+/reading",)) as probe:

        def mine() -> list[dict[str, object]]:
            return [r for r in readings(list(probe.messages)) if r["edge"] == "dead-edge"]

        with running_agent(config):
            probe.wait_for(2, timeout=20, topic_contains="/m2/")
            silenced_ms = int(time.time() * 1000)
            server.set_silent(2)
            wait_until(lambda: any(r["quality"] == "stale" for r in mine()), 10, "stale reading of m2")
            # Let the others run 5 more seconds beside the dead meter.
            window_start = int(time.time() * 1000)
            wait_until(
                lambda: any(r["device"] == "m1" and r["ts_ms"] >= window_start + 5000 for r in mine()),  # type: ignore[operator]
                20,
                "m1 polled 5 s past the silence",
            )
            server.set_silent(2, silent=False)
            recovered_after = int(time.time() * 1000)
            wait_until(
                lambda: any(
                    r["device"] == "m2" and r["quality"] == "ok" and r["ts_ms"] >= recovered_after  # type: ignore[operator]
                    for r in mine()
                ),
                40,
                "m2 ok again",
            )
        got = mine()

    stale = [r for r in got if r["device"] == "m2" and r["quality"] == "stale"]
    assert stale[0].get("values", {}) == {} and "no answer from unit 2" in str(stale[0]["error"])
    assert stale[0]["ts_ms"] <= silenced_ms + 2 * 1000  # type: ignore[operator]
    for device in ("m1", "m3"):
        in_window = [
            r
            for r in got
            if r["device"] == device and window_start <= r["ts_ms"] < window_start + 5000  # type: ignore[operator]
        ]
        assert len(in_window) >= 4, (device, len(in_window))  # 1 Hz kept: 5 slots, one may straddle the edge
        assert all(r["quality"] == "ok" for r in in_window)
    failures = [r for r in caplog.records if "m2 (unit 2" in r.getMessage()]
    recoveries = [r for r in caplog.records if "m2 answers again" in r.getMessage()]
    assert len(failures) == 1 and len(recoveries) == 1


def test_probe_over_rtu(meter_server: Callable[..., MeterServer], serial_pair: tuple[str, str]) -> None:
    """`shopfloor edge probe /dev/tty...`: silent unit ids are skipped quickly, the meter is named."""
    import subprocess
    import sys

    server_end, edge_end = serial_pair
    finder = library().get("finder-7m")
    assert finder is not None
    meter_server([meter(3, finder, {"voltage_l1": 228.5})], serial_port=server_end, baudrate=9600)
    result = subprocess.run(
        [sys.executable, "-m", "shopfloor", "edge", "probe", edge_end, "--units", "2-3", "--timeout", "0.3"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["unit 3: finder-7m@1 (228.5 V)"]
