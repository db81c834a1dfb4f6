"""``shopfloor edge probe`` against ``shopfloor simulate``, both real processes (issue 16): unit ids with no meter
stay silent, as on an RS-485 bus, and the simulator's log holds no pymodbus traceback (it had one
``KeyError: 0`` per profile tried at each absent unit id)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from simulator.services import Mosquitto, free_port, port_open, wait_until
from tests.harness.cli import shopfloor

pytestmark = pytest.mark.integration


def test_probing_absent_unit_ids_leaves_no_traceback(tmp_path: Path, mosquitto: Mosquitto) -> None:
    port = free_port()
    log_path = tmp_path / "simulator.log"
    with log_path.open("w") as log:
        simulator = subprocess.Popen(
            [sys.executable, "-m", "shopfloor", "simulate", "--sites", "1", "--broker", f"127.0.0.1:{mosquitto.port}",
             "--modbus-port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_until(lambda: port_open("127.0.0.1", port) or simulator.poll() is not None, 30, "simulator Modbus")
            assert simulator.poll() is None, log_path.read_text()
            result = shopfloor("edge", "probe", f"127.0.0.1:{port}", "--units", "1-7", "--timeout", "0.3")
        finally:
            simulator.terminate()
            simulator.wait(timeout=30)
    assert result.returncode == 0, result.stderr
    answered = [line.split(":")[0] for line in result.stdout.splitlines()]
    assert answered == ["unit 1", "unit 2", "unit 3", "unit 4"]  # the main meter and three bench meters
    text = log_path.read_text()
    assert "Traceback" not in text and "KeyError" not in text, text[-3000:]
