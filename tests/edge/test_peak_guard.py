"""Peak guard end to end: a pymodbus server plays the main meter and an I/O module with two coils.

The test plays the site's physics: the meter shows a scripted base-load ramp plus each load whose
coil is on, and counts the energy. The edge runs as `shopfloor edge run` does, in a subprocess (so
it can be killed with -9), with one fake: the guard's clock runs ``SPEED`` times fast, so a quarter
hour passes in 15 min / SPEED. Polls, Modbus, MQTT and the state file are all real.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from simulator.meter_server import DeviceMap, MeterServer, Table
from simulator.services import Mosquitto, wait_until
from tests.conftest import REPO_ROOT
from tests.edge.helpers import Subscriber, library, meter, set_values, write_config

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUARTER_S = 900
MONTH_PEAK_KW = 6.0  # the month's peak so far, from the state file: the target
LOADS_KW = {0: 3.0, 1: 2.0}  # coil 0: the kiln (listed first, most important); coil 1: the heater
QUARTER = datetime(2026, 2, 10, 10, 0, tzinfo=UTC).timestamp()

AGENT = """
import asyncio, sys, time
from edge.agent import Agent
from edge.settings import load_settings

config, t0, r0, speed = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])

async def main() -> None:
    agent = Agent(*load_settings(config))
    assert agent.guard is not None
    agent.guard.clock = lambda: t0 + (time.time() - r0) * speed
    await agent.run()

asyncio.run(main())
"""


def base_kw(into_quarter_s: float) -> float:
    """The ramp: a big machine comes on in two steps, then stops; with both loads on, 7.6 kW average."""
    minute = into_quarter_s / 60
    if minute < 3:
        return 0.5
    if minute < 6:
        return 2.5
    if minute < 12:
        return 4.0
    return 2.0


@dataclass
class Physics:
    """The site: meter registers follow the fake clock's ramp and the coils, every 20 ms."""

    server: MeterServer
    main: DeviceMap
    coils: DeviceMap
    clock: Callable[[], float]
    energy_kwh: float = 100.0
    samples: list[tuple[float, float]] = field(default_factory=list)  # (fake time, counter)
    coil_log: list[tuple[float, int, bool]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def coil_on(self, address: int) -> bool:
        return bool(self.coils.words(Table.COILS).get(address, 1))

    def run(self) -> None:
        profile = library().get("eastron-sdm630")
        assert profile is not None
        last = self.clock()
        seen = {a: self.coil_on(a) for a in LOADS_KW}
        loop = self.server._loop
        assert loop is not None
        while not self.stop.wait(0.02):
            now = self.clock()
            power = base_kw(now - QUARTER) + sum(kw for a, kw in LOADS_KW.items() if self.coil_on(a))
            self.energy_kwh += power * (now - last) / 3600
            last = now
            self.samples.append((now, self.energy_kwh))
            values = {"power": round(power * 1000, 1), "energy_import": self.energy_kwh}
            # Written on the server's loop, so a poll never reads half of a float's two registers.
            loop.call_soon_threadsafe(set_values, self.main, profile, values)
            for address in LOADS_KW:
                on = self.coil_on(address)
                if on != seen[address]:
                    self.coil_log.append((now, address, on))
                    seen[address] = on

    def energy_at(self, t: float) -> float:
        before = max((s for s in self.samples if s[0] <= t), key=lambda s: s[0])
        after = min((s for s in self.samples if s[0] >= t), key=lambda s: s[0])
        if after[0] == before[0]:
            return before[1]
        return before[1] + (after[1] - before[1]) * (t - before[0]) / (after[0] - before[0])

    def quarter_average_kw(self) -> float:
        return (self.energy_at(QUARTER + QUARTER_S) - self.energy_at(QUARTER)) / 0.25


@dataclass
class Run:
    physics: Physics
    config: Path
    command: list[str]
    env: dict[str, str]
    clock: Callable[[], float]


@contextmanager
def site(
    tmp_path: Path, broker: Mosquitto, meter_server: Callable[..., MeterServer], speed: float, guard: bool
) -> Iterator[Run]:
    lib = library()
    main = meter(1, lib.get("eastron-sdm630"), {"power": 5500.0, "energy_import": 100.0})  # type: ignore[arg-type]
    coils = DeviceMap(2)
    coils.set_bits(Table.COILS, 0, [True, True])
    server = meter_server([main, coils])
    extra: dict[str, Any] = {}
    if guard:
        (tmp_path / "guard.json").write_text(
            json.dumps(
                {
                    "version": 1,
                    "month": "2026-02",
                    "month_peak_kw": MONTH_PEAK_KW,
                    "quarter_start_ms": 0,
                    "samples": [],
                    "loads": {},
                    "last_shed_ms": 0,
                    "last_restore_ms": 0,
                }
            )
        )
        coil = {"bus": "site", "unit_id": 2}
        extra["peak_guard"] = {
            "meter": "main",
            "target": {"kind": "month_peak"},
            "restore_margin_kw": 0.8,
            "settle_s": 10,
            "stale_after_s": 120,
            "state_path": "guard.json",
            "loads": [
                {"id": "kiln", "kw": 3.0, "min_on_s": 60, "max_off_s": 600, "coil": {**coil, "address": 0}},
                {"id": "heater", "kw": 2.0, "min_on_s": 60, "max_off_s": 600, "coil": {**coil, "address": 1}},
            ],
        }
    bus = {
        "name": "site",
        "tcp": f"127.0.0.1:{server.port}",
        "devices": [{"id": "main", "unit_id": 1, "profile": "eastron-sdm630", "interval_s": 0.5}],
    }
    config = write_config(tmp_path, broker.port, [bus], edge_id="guard-edge", **extra)
    # The fake clock starts 40 s (fake) before the quarter, so the edge is polling when it begins.
    real0 = time.time() + 1.0
    fake0 = QUARTER - 40

    def clock() -> float:
        return fake0 + (time.time() - real0) * speed

    physics = Physics(server, main, coils, clock)
    thread = threading.Thread(target=physics.run, daemon=True)
    thread.start()
    script = AGENT if guard else AGENT.replace("assert agent.guard is not None\n    agent.guard.clock", "_ ")
    command = [sys.executable, "-c", script, str(config), str(fake0), str(real0), str(speed)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOOR")}
    try:
        yield Run(physics, config, command, env, clock)
    finally:
        physics.stop.set()
        thread.join(5)


def off_spans(log: list[tuple[float, int, bool]], address: int, until: float) -> list[tuple[float, float]]:
    spans, start = [], None
    for t, a, on in log:
        if a != address:
            continue
        if not on and start is None:
            start = t
        elif on and start is not None:
            spans.append((start, t))
            start = None
    if start is not None:
        spans.append((start, until))
    return spans


def test_guard_keeps_the_quarter_under_the_month_peak_across_a_kill_9(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], meter_server: Callable[..., MeterServer]
) -> None:
    broker = mosquitto_factory()
    speed = 10.0
    with site(tmp_path, broker, meter_server, speed, guard=True) as run:
        with Subscriber(broker.host, broker.port, "shopfloor/v1/test-site/guard-edge/guard") as subscriber:
            first = subprocess.Popen(run.command, cwd=REPO_ROOT, env=run.env, stderr=subprocess.PIPE)
            second = None
            try:
                # Mid-quarter, with both loads shed (after the 6-minute step): kill -9.
                wait_until(lambda: run.clock() >= QUARTER + 8 * 60, 120, "the quarter's 8th minute")
                assert not run.physics.coil_on(0) and not run.physics.coil_on(1), run.physics.coil_log
                first.send_signal(signal.SIGKILL)
                first.wait(10)
                killed_at = run.clock()
                # The relay module power-cycles meanwhile and comes back with its outputs on.
                run.physics.coils.set_bits(Table.COILS, 0, [True, True])
                second = subprocess.Popen(run.command, cwd=REPO_ROOT, env=run.env, stderr=subprocess.PIPE)
                wait_until(
                    lambda: not run.physics.coil_on(0) and not run.physics.coil_on(1), 20, "both loads shed again"
                )
                reshed_at = run.clock()
                wait_until(lambda: run.clock() >= QUARTER + QUARTER_S + 80, 120, "the quarter's end")
            finally:
                for process in (first, second):
                    if process is not None and process.poll() is None:
                        process.send_signal(signal.SIGTERM)
                        process.wait(15)
            decisions = [json.loads(m.payload) for m in subscriber.messages]
        log = run.physics.coil_log
        average = run.physics.quarter_average_kw()
        print(f"guard on: quarter average {average:.2f} kW; re-shed {reshed_at - killed_at:.0f} s (fake) after kill -9")
        assert average < MONTH_PEAK_KW, f"quarter average {average:.2f} kW, coils {log}"
        sheds = [d for d in decisions if d["action"] == "shed"]
        assert sheds[0]["load"] == "heater"  # the least important first
        assert sheds[0]["forecast_kw"] > sheds[0]["target_kw"] == MONTH_PEAK_KW
        first_off = {a: min(t for t, addr, on in log if addr == a and not on) for a in LOADS_KW}
        assert first_off[1] < first_off[0], "the heater (coil 1) before the kiln (coil 0)"
        # Both came back within their max_off_s (600 s) plus a few ticks of the fast clock.
        end = run.clock()
        for address in LOADS_KW:
            spans = off_spans(log, address, end)
            assert spans and all(b - a <= 600 + 3 * speed for a, b in spans), (address, spans)
            assert run.physics.coil_on(address) or spans[-1][0] > QUARTER + QUARTER_S
        # After the restart the guard switched both off again, within a few seconds of starting.
        assert reshed_at - killed_at < 15 * speed
        restores = [d for d in decisions if d["action"] == "restore"]
        assert {d["load"] for d in restores} == {"kiln", "heater"}
        assert len({d["ts_ms"] for d in restores}) == len(restores), "never two loads released at once"


def test_without_the_guard_the_same_ramp_sets_a_new_peak(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], meter_server: Callable[..., MeterServer]
) -> None:
    broker = mosquitto_factory()
    speed = 30.0
    with site(tmp_path, broker, meter_server, speed, guard=False) as run:
        edge = subprocess.Popen(run.command, cwd=REPO_ROOT, env=run.env, stderr=subprocess.PIPE)
        try:
            wait_until(lambda: run.clock() >= QUARTER + QUARTER_S + 30, 120, "the quarter's end")
        finally:
            edge.send_signal(signal.SIGTERM)
            assert edge.wait(15) == 0, edge.stderr.read() if edge.stderr else ""
        assert run.physics.coil_log == []
        # 0.5 x 3 + 2.5 x 3 + 4 x 6 + 2 x 3 = 39 kW.min of base, + 5 kW for 15 min: 7.6 kW average
        assert run.physics.quarter_average_kw() == pytest.approx(7.6, abs=0.1)
        assert run.physics.quarter_average_kw() > MONTH_PEAK_KW
