"""`shopfloor edge read` and `shopfloor edge probe` against real pymodbus servers."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from simulator.meter_server import MeterServer
from tests.edge.helpers import library, meter, write_config
from tests.harness.cli import shopfloor as run_cli

pytestmark = pytest.mark.integration


def shopfloor(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("edge", *args)


def test_read_prints_a_table(tmp_path: Path, meter_server: Callable[..., MeterServer]) -> None:
    profile = library().get("schneider-iem3155")
    assert profile is not None
    server = meter_server([meter(7, profile)])
    devices = [{"id": "main", "unit_id": 7, "profile": "schneider-iem3155", "interval_s": 5}]
    config = write_config(tmp_path, 1883, [{"name": "tcp", "tcp": f"127.0.0.1:{server.port}", "devices": devices}])
    result = shopfloor("read", str(config), "main")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("main  unit 7 on 127.0.0.1:")
    assert "schneider-iem3155@1  2 request(s)  ok" in lines[0]
    table = {line.split()[0]: line.split()[1:3] for line in lines[2:]}
    assert table["power"] == ["2345.6", "W"]  # kW in the meter, W on the wire
    assert table["energy_import"] == ["12345.6", "kWh"]  # Wh in the meter
    assert table["voltage_l1"] == ["230.1", "V"]


def test_read_unknown_device(tmp_path: Path) -> None:
    devices = [{"id": "main", "unit_id": 1, "profile": "eastron-sdm120", "interval_s": 5}]
    config = write_config(tmp_path, 1883, [{"name": "tcp", "tcp": "127.0.0.1:1502", "devices": devices}])
    result = shopfloor("read", str(config), "mian")
    assert result.returncode == 2
    assert f"error: no device 'mian' in {config}. Fix: use one of: main" in result.stderr


def test_probe_finds_meters_and_their_voltage(meter_server: Callable[..., MeterServer]) -> None:
    lib = library()
    abb, em340 = lib.get("abb-b23"), lib.get("carlogavazzi-em340")
    assert abb is not None and em340 is not None
    server = meter_server([meter(2, abb), meter(4, em340)])
    result = shopfloor("probe", f"127.0.0.1:{server.port}", "--units", "1-5", "--timeout", "0.2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "unit 2: abb-b23@1 (230.1 V)"
    # EM24 and EM340 share the voltage register: both are named, the installer picks by model.
    assert lines[1] == (
        "unit 4: Carlo Gavazzi EM24 DIN or EM340 (230.1 V). The family is known, the model isn't: their register "
        "maps have no register that tells them apart. Use carlogavazzi-em24@1 or carlogavazzi-em340@1, "
        "as the meter's label says."
    )
    assert len(lines) == 2
