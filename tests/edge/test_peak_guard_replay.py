"""`shopfloor peak-guard replay`: the guard over recorded demand, and the table it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from edge.peak_guard.replay import Step, replay
from edge.peak_guard.settings import PeakGuardSettings
from tests.conftest import REPO_ROOT

MIN = 60_000
START = int(datetime(2026, 2, 2, 9, 0, tzinfo=UTC).timestamp() * 1000)


def settings(target: dict[str, object]) -> PeakGuardSettings:
    return PeakGuardSettings.model_validate(
        {
            "meter": "main",
            "target": target,
            "loads": [{"id": "heater", "kw": 3.0, "max_off_s": 900, "relay": {"format": "tasmota", "device": "h"}}],
        }
    )


def demand(hours: int) -> list[Step]:
    """2 kW that nothing can shed; a 3 kW heater asking for the first 10 minutes of every half hour."""
    return [
        Step(START + m * 30_000, 2000.0, {"heater": 3000.0 if (m // 2) % 30 < 10 else 0.0}) for m in range(hours * 120)
    ]


def test_with_room_under_the_target_the_guard_does_nothing() -> None:
    report = replay(settings({"kind": "fixed", "kw": 10.0}), demand(4))
    [month] = report.months
    # The heater's quarter, trapezoids of 30 s readings: 9.5 min at 5 kW, 30 s at 3.5 kW, 5 min at 2 kW
    assert month.peak_without_kw == pytest.approx((9.5 * 5 + 0.5 * 3.5 + 5 * 2) / 15)
    assert month.peak_with_kw == month.peak_without_kw
    assert report.actions == []


def test_the_guard_lowers_the_peak_and_keeps_the_energy() -> None:
    report = replay(settings({"kind": "fixed", "kw": 3.0}), demand(6))
    [month] = report.months
    assert month.peak_with_kw < month.peak_without_kw
    heater = report.loads["heater"]
    assert heater.sheds > 0
    assert heater.longest_off_ms <= 900_000 + 30_000  # max_off_s plus one reading
    # What the heater missed it ran later: the kWh are the same, less what is still owed at the end.
    assert report.kwh_with + heater.owed_kwh_at_end == pytest.approx(report.kwh_without, rel=1e-6)


def test_the_cli_prints_the_without_with_table_for_the_electrical_shop() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shopfloor", "peak-guard", "replay", "--month", "2026-02", "--step-s", "60"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    row = re.search(r"2026-02\s+([\d.]+) kW\s+([\d.]+) kW\s+([\d.]+) kW\s+([\d.]+) kW\s+([\d.]+) kW", result.stdout)
    assert row is not None, result.stdout
    without, with_guard = float(row[1]), float(row[2])
    assert with_guard < without
    assert re.search(r"heater\s+\d+\s+[\d.]+", result.stdout)
    assert "EUR/year less" in result.stdout
