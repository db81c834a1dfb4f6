"""The peak guard's pure decisions, on a clock and meter samples the test controls."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from edge.peak_guard.core import GuardState, Override, PeakGuard
from edge.peak_guard.settings import PeakGuardSettings
from edge.peak_guard.state import load_state, save_state
from shopfloor.kpi.energy import MeterSample

S = 1000
MIN = 60 * S


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def guard_settings(**extra: Any) -> PeakGuardSettings:
    body: dict[str, Any] = {
        "meter": "main",
        "target": {"kind": "fixed", "kw": 6.0},
        "settle_s": 10,
        "loads": [
            {
                "id": "kiln",
                "kw": 3.0,
                "min_on_s": 60,
                "max_off_s": 600,
                "coil": {"bus": "io", "unit_id": 1, "address": 0},
            },
            {
                "id": "heater",
                "kw": 2.0,
                "min_on_s": 60,
                "max_off_s": 600,
                "coil": {"bus": "io", "unit_id": 1, "address": 1},
            },
        ],
        **extra,
    }
    return PeakGuardSettings.model_validate(body)


class Site:
    """Base load plus the loads the guard has not shed, sampled every 5 s."""

    def __init__(self, guard: PeakGuard, base_kw: float, start_ms: int) -> None:
        self.guard, self.base_kw, self.now = guard, base_kw, start_ms
        self.state = guard.new_state()
        self.actions: list[tuple[int, str, str | None]] = []

    def power_kw(self, state: GuardState) -> float:
        loads = {ld.id: ld.kw for ld in self.guard.settings.loads}
        return self.base_kw + sum(kw for name, kw in loads.items() if not state.loads[name].shed)

    def run(self, seconds: int, overrides: dict[str, Override] | None = None) -> None:
        for _ in range(seconds // 5):
            self.guard.observe(self.state, MeterSample(self.now, self.power_kw(self.state) * 1000))
            for d in self.guard.decide(self.state, self.now, overrides):
                self.actions.append((self.now, d.action, d.load))
            self.now += 5 * S


def test_sheds_the_least_important_load_first_and_restores_it_within_max_off() -> None:
    guard = PeakGuard(guard_settings())
    site = Site(guard, 1.5, utc("2026-02-10T10:00:00"))  # 1.5 + 3 + 2 = 6.5 kW > 6 kW
    site.run(15 * 60)
    sheds = [(t, load) for t, action, load in site.actions if action == "shed"]
    assert sheds[0][1] == "heater"  # last in the list: shed first
    assert "kiln" not in [load for _, load in sheds]  # 4.5 kW without the heater is under 6 kW
    restores = [t for t, action, load in site.actions if action == "restore" and load == "heater"]
    assert restores and restores[0] - sheds[0][0] <= 600 * S


def test_sheds_both_when_one_is_not_enough() -> None:
    guard = PeakGuard(guard_settings())
    site = Site(guard, 4.0, utc("2026-02-10T10:00:00"))  # 9 kW; minus 2 = 7 > 6: the kiln must go too
    site.run(60)
    shed = [load for _, action, load in site.actions if action == "shed"]
    assert shed == ["heater", "kiln"]


def test_a_load_inside_its_never_window_is_not_shed() -> None:
    # 10:00 UTC is 11:00 in Brussels in February.
    settings = guard_settings()
    settings.loads[1].never_between.append("10:30-11:30")
    guard = PeakGuard(settings)
    site = Site(guard, 1.5, utc("2026-02-10T10:00:00"))
    site.run(60)
    assert [load for _, action, load in site.actions if action == "shed"] == ["kiln"]


def test_restores_when_there_is_room_with_hysteresis() -> None:
    guard = PeakGuard(guard_settings())
    site = Site(guard, 1.5, utc("2026-02-10T10:00:00"))
    site.run(60)
    assert site.state.loads["heater"].shed
    site.base_kw = 0.2  # the big machine stopped: 0.2 + 3 + 2 = 5.2 kW, under 6 - 0.5
    site.run(120)
    assert not site.state.loads["heater"].shed
    assert site.actions[-1][1:] == ("restore", "heater")


def test_month_peak_target_starts_at_the_floor_and_follows_the_measured_peak() -> None:
    guard = PeakGuard(guard_settings(target={"kind": "month_peak"}, loads=guard_settings().model_dump()["loads"][:1]))
    site = Site(guard, 0.5, utc("2026-02-10T10:00:00"))
    assert guard.target_kw(site.state) == 2.5
    site.run(15 * 60 + 5)
    ends = [d for d in site.actions if d[1] == "quarter_end"]
    assert ends
    # 0.5 + 3 kW shed at 2.5 kW: the quarter's average and so the month's peak lies between 0.5 and 3.5 kW
    assert site.state.month_peak_kw is not None and 0.5 <= site.state.month_peak_kw <= 3.5
    assert guard.target_kw(site.state) == max(2.5, site.state.month_peak_kw)


def test_an_override_wins_and_expires() -> None:
    guard = PeakGuard(guard_settings())
    site = Site(guard, 1.5, utc("2026-02-10T10:00:00"))
    until = site.now + 120 * S
    site.run(60, {"heater": Override(on=True, until_ms=until)})
    assert not site.state.loads["heater"].shed  # forced on: the kiln takes the cut instead
    assert ("override", "heater") in [(a, ld) for _, a, ld in site.actions]
    site.run(180, {"heater": Override(on=True, until_ms=until)})
    assert ("override_end", "heater") in [(a, ld) for _, a, ld in site.actions]


def test_the_state_survives_a_restart(tmp_path: Path) -> None:
    guard = PeakGuard(guard_settings())
    site = Site(guard, 1.5, utc("2026-02-10T10:00:00"))
    site.run(60)
    save_state(tmp_path / "state.json", site.state)
    restored = load_state(tmp_path / "state.json", guard.new_state())
    assert restored == site.state
    # Restarted 30 s later, nothing is released at once: the heater stays shed while the forecast is high.
    later = guard.decide(restored, site.now + 30 * S)
    assert not [d for d in later if d.action == "restore"]
    assert restored.loads["heater"].shed


def test_an_unreadable_state_file_is_kept_aside(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    guard = PeakGuard(guard_settings())
    assert load_state(path, guard.new_state()) == guard.new_state()
    assert (tmp_path / "state.json.unreadable").read_text() == "{not json"


def test_a_stale_meter_freezes_the_guard_but_not_its_safety_limits() -> None:
    guard = PeakGuard(guard_settings(stale_after_s=30))
    site = Site(guard, 1.5, utc("2026-02-10T10:00:00"))
    site.run(60)
    assert site.state.loads["heater"].shed
    # the meter goes silent: no sheds, no restores on power; max_off_s still brings the heater back
    start = site.now
    decisions = [(t, d.action) for t in range(start, start + 700 * S, 5 * S) for d in guard.decide(site.state, t)]
    assert [a for _, a in decisions if a == "shed"] == []
    assert any(a == "restore" and t - start >= 500 * S for t, a in decisions)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"target": {"kind": "fixed"}}, "needs 'kw'"),
        ({"loads": [{"id": "x", "kw": 1}]}, "exactly one of"),
        (
            {
                "loads": [
                    {
                        "id": "x",
                        "kw": 1,
                        "never_between": ["25:00-26:00"],
                        "relay": {"format": "tasmota", "device": "t"},
                    }
                ]
            },
            "HH:MM-HH:MM",
        ),
    ],
)
def test_bad_config_says_how_to_fix_it(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        guard_settings(**change)
