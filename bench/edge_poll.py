"""Edge agent benchmark: poll-cycle time against bare pymodbus, and the agent's RSS and CPU against a bare loop.

    .venv/bin/python bench/edge_poll.py [--cycles 200] [--repeat 3] [--seconds 15] [--json] [--profile]

Ten pymodbus servers on loopback, one meter each (five profiles, twice), and a local mosquitto with a
subscriber, so every published reading is delivered (and counted).

1. Poll cycle. All 10 meters once, concurrently: each is a Modbus TCP bus of its own, and the agent polls
   buses in parallel. The edge's path is the scheduler's ``poll_device`` (plan, read through ``ModbusLink``,
   decode, ``Poll``). The baseline is bare pymodbus ``AsyncModbusTcpClient`` calls reading the same blocks,
   the same number of requests, on connections of their own. The two alternate cycle by cycle, in
   ``--repeat`` rounds of ``--cycles``; a round's figure is its median, the ratio is the best round's, with
   the min and max over rounds.
2. Resources. ``shopfloor edge run`` as a real process polling the 10 meters at 1 Hz, then
   ``bench/edge_bare_loop.py`` (pymodbus + paho, the same blocks, published as JSON) in the same way,
   alternating ``--repeat`` times. RSS and CPU come from /proc after a 5 s warm-up, sampled each second for
   ``--seconds``; the figure is the median RSS, best round.

``--json`` prints one JSON object a figure (figure, value, unit, baseline, ratio, target, met) instead of
the table. ``--profile`` runs pyinstrument (the ``bench`` extra) over 300 edge cycles and prints where the
time goes, to find what to remove.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as paho  # noqa: E402
from pymodbus.client import AsyncModbusTcpClient  # noqa: E402

from bench.table import TABLE_ENV, Row, emit  # noqa: E402
from edge.plan import ReadRequest  # noqa: E402
from edge.scheduler import DeviceTask, device_plan, link_for, poll_device  # noqa: E402
from edge.settings import load_settings  # noqa: E402
from simulator.meter_server import MeterServer  # noqa: E402
from simulator.services import Mosquitto  # noqa: E402
from tests.edge.helpers import library, meter, write_config  # noqa: E402

PROFILES = ["eastron-sdm630", "eastron-sdm120", "carlogavazzi-em24", "carlogavazzi-em340", "schneider-iem3155"] * 2
WARM_UP_S = 5.0
CYCLE_TARGET = 1.15
RSS_TARGET_MB = 35.0


def proc_sample(pid: int) -> tuple[float, int]:
    """(CPU seconds used so far, RSS in kB)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS")
    )
    return cpu, rss


def rss_parts(pid: int) -> dict[str, float]:
    """RSS split into anonymous memory (heaps) and file pages (the interpreter's and extensions' code), MB."""
    parts = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Anonymous"):
            parts[name.lower()] = int(rest.split()[0]) / 1024
    parts["file"] = parts["rss"] - parts["anonymous"]
    return parts


class Subscriber:
    """Stands in for the collector: takes every message, so the agent's PUBACKs say 'delivered'."""

    def __init__(self, port: int) -> None:
        self.count = 0
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-subscriber")
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("#", qos=1)
        self.client.loop_start()
        self._lock = threading.Lock()

    def _message(self, client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.count += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def resources(command: list[str], seconds: float, subscriber: Subscriber) -> dict[str, float]:
    received = subscriber.count
    proc = subprocess.Popen(command, cwd=ROOT)
    try:
        time.sleep(WARM_UP_S)  # imports, config, connections
        assert proc.poll() is None, f"{command[2:4]} exited with {proc.returncode}"
        cpu0, _ = proc_sample(proc.pid)
        start = time.monotonic()
        rss: list[int] = []
        while time.monotonic() - start < seconds:
            time.sleep(1)
            rss.append(proc_sample(proc.pid)[1])
        cpu1, _ = proc_sample(proc.pid)
        elapsed = time.monotonic() - start
        parts = rss_parts(proc.pid)
    finally:
        proc.terminate()
        proc.wait(15)
    return {
        "cpu_percent": 100 * (cpu1 - cpu0) / elapsed,
        "rss_mb": statistics.median(rss) / 1024,
        "anonymous_mb": parts["anonymous"],
        "file_mb": parts["file"],
        "messages": subscriber.count - received,
    }


Bare = tuple[AsyncModbusTcpClient, int, list[ReadRequest]]


async def prepare(config: Path) -> tuple[list[DeviceTask], list[Any], list[Bare]]:
    settings, lib = load_settings(config)
    tasks, links, bare = [], [], []
    for bus, device in settings.devices():
        profile = lib.get(device.profile)
        assert profile is not None
        fields, plan = device_plan(device, profile)
        tasks.append(DeviceTask(bus, device, profile, fields, plan))
        links.append(link_for(bus))
        host, port = bus.host_port
        client = AsyncModbusTcpClient(host, port=port, timeout=1, retries=0)
        await client.connect()
        bare.append((client, device.unit_id, plan))
    return tasks, links, bare


async def edge_cycle(tasks: list[DeviceTask], links: list[Any]) -> None:
    polls = await asyncio.gather(*(poll_device(link, task) for link, task in zip(links, tasks, strict=True)))
    assert all(p.quality == "ok" for p in polls), [p.error for p in polls]


async def bare_one(client: AsyncModbusTcpClient, unit: int, plan: list[ReadRequest]) -> None:
    for request in plan:
        call = client.read_holding_registers if request.function == 3 else client.read_input_registers
        response = await call(request.address, count=request.count, device_id=unit)
        assert not response.isError()


async def bare_cycle(bare: list[Bare]) -> None:
    await asyncio.gather(*(bare_one(*entry) for entry in bare))


async def cycle_rounds(config: Path, cycles: int, repeat: int) -> list[tuple[float, float]]:
    """(edge, bare) median cycle in ms, one pair a round."""
    tasks, links, bare = await prepare(config)
    # Like with like: the same blocks, so the same number of requests each side.
    assert [t.plan for t in tasks] == [plan for _, _, plan in bare]
    for _ in range(10):  # warm-up both: connections, first allocations
        await edge_cycle(tasks, links)
        await bare_cycle(bare)
    rounds = []
    for _ in range(repeat):
        edge_t, bare_t = [], []
        for i in range(cycles):  # alternating, and which goes first too, so both see the same load
            first, second = (edge_t, bare_t) if i % 2 else (bare_t, edge_t)
            for times in (first, second):
                t0 = time.perf_counter()
                await (edge_cycle(tasks, links) if times is edge_t else bare_cycle(bare))
                times.append(time.perf_counter() - t0)
        rounds.append((statistics.median(edge_t) * 1000, statistics.median(bare_t) * 1000))
    for link in links:
        link.close()
    for client, _, _ in bare:
        client.close()
    return rounds


async def profile_cycles(config: Path) -> str:
    from pyinstrument import Profiler  # the `bench` extra

    tasks, links, bare = await prepare(config)
    for _ in range(10):
        await edge_cycle(tasks, links)
    profiler = Profiler(interval=0.0002, async_mode="disabled")
    profiler.start()
    for _ in range(300):
        await edge_cycle(tasks, links)
    profiler.stop()
    for link in links:
        link.close()
    for client, _, _ in bare:
        client.close()
    return str(profiler.output_text(unicode=False))


def bare_loop_plan(config: Path) -> str:
    settings, lib = load_settings(config)
    meters = []
    for bus, device in settings.devices():
        profile = lib.get(device.profile)
        assert profile is not None
        _, plan = device_plan(device, profile)
        host, port = bus.host_port
        blocks = [[r.function, r.address, r.count] for r in plan]
        meters.append({"host": host, "port": port, "unit": device.unit_id, "interval_s": 1, "blocks": blocks})
    return json.dumps(meters)


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def figures(rounds: list[tuple[float, float]], agent: list[dict[str, float]], bare: list[dict[str, float]]) -> list:
    ratios = [e / b for e, b in rounds]
    best = min(range(len(rounds)), key=lambda i: ratios[i])
    edge_ms, bare_ms = rounds[best]
    rss = [a["rss_mb"] for a in agent]
    bare_rss = [b["rss_mb"] for b in bare]
    low = min(range(len(agent)), key=lambda i: rss[i])
    cpu = [a["cpu_percent"] for a in agent]
    bare_cpu = [b["cpu_percent"] for b in bare]
    return [
        {
            "figure": "edge poll cycle, 10 Modbus TCP meters",
            "value": round(edge_ms, 3),
            "unit": "ms",
            "baseline": round(bare_ms, 3),
            "ratio": round(ratios[best], 3),
            "target": f"ratio <= {CYCLE_TARGET}",
            "met": ratios[best] <= CYCLE_TARGET,
            "ratio_range": spread(ratios),
        },
        {
            "figure": "edge agent RSS, 10 meters at 1 Hz",
            "value": round(rss[low], 1),
            "unit": "MB",
            "baseline": round(min(bare_rss), 1),
            "ratio": round(rss[low] / min(bare_rss), 3),
            "target": f"<= {RSS_TARGET_MB:g} MB",
            "met": rss[low] <= RSS_TARGET_MB,
            "value_range": spread(rss),
            "anonymous_mb": round(agent[low]["anonymous_mb"], 1),
            "file_mb": round(agent[low]["file_mb"], 1),
        },
        {
            "figure": "edge agent CPU, 10 meters at 1 Hz",
            "value": round(min(cpu), 2),
            "unit": "% of a core",
            "baseline": round(min(bare_cpu), 2),
            "ratio": round(min(cpu) / min(bare_cpu), 3) if min(bare_cpu) else None,
            "target": None,
            "met": None,
            "value_range": spread(cpu),
        },
    ]


def print_table(rows: list[dict[str, Any]], rounds: int) -> None:
    print(f"edge benchmark, best of {rounds} round(s), baselines from the same run")
    print(f"{'figure':<42} {'value':>10} {'baseline':>10} {'ratio':>6}  {'target':<16} met")
    for row in rows:
        unit = row["unit"] if row["unit"] != "% of a core" else "%"
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        met = {True: "yes", False: "NO", None: "-"}[row["met"]]
        print(
            f"{row['figure']:<42} {row['value']:>7.2f} {unit:<2} {row['baseline']:>7.2f} {unit:<2} {ratio:>6}  "
            f"{row['target'] or '-':<16} {met}"
        )
    cycle, rss, cpu = rows
    print(f"  poll-cycle ratio over rounds: {cycle['ratio_range']}")
    print(
        f"  agent RSS over rounds: {rss['value_range']} MB; best round {rss['anonymous_mb']} MB anonymous "
        f"(heaps), {rss['file_mb']} MB file pages (interpreter and extension code)"
    )
    print(f"  agent CPU over rounds: {cpu['value_range']} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=200, help="timed poll cycles a round, each side (default 200)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds, alternating (default 3)")
    parser.add_argument("--seconds", type=float, default=15.0, help="RSS/CPU sampling a round (default 15)")
    parser.add_argument("--json", action="store_true", help="one JSON object a figure on stdout")
    parser.add_argument("--profile", action="store_true", help="profile the edge's poll cycle and stop")
    args = parser.parse_args()
    lib = library()
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "mosquitto") as broker:
        servers = [MeterServer([meter(1, lib.get(name))]).start() for name in PROFILES]  # type: ignore[arg-type]
        subscriber = Subscriber(broker.port)
        try:
            buses = [
                {
                    "name": f"m{i}",
                    "tcp": f"127.0.0.1:{s.port}",
                    "devices": [{"id": f"m{i}", "unit_id": 1, "profile": name, "interval_s": 1}],
                }
                for i, (s, name) in enumerate(zip(servers, PROFILES, strict=True))
            ]
            config = write_config(Path(tmp), broker.port, buses)
            if args.profile:
                print(asyncio.run(profile_cycles(config)))
                return
            rounds = asyncio.run(cycle_rounds(config, args.cycles, args.repeat))
            agent_cmd = [sys.executable, "-m", "shopfloor", "edge", "run", str(config)]
            bare_cmd = [sys.executable, str(ROOT / "bench" / "edge_bare_loop.py"), str(broker.port)]
            bare_cmd.append(bare_loop_plan(config))
            agent, bare = [], []
            for _ in range(args.repeat):
                agent.append(resources(agent_cmd, args.seconds, subscriber))
                bare.append(resources(bare_cmd, args.seconds, subscriber))
            # Nothing stuck: the agent's readings reached the subscriber (10 a second, less the warm-up's connect).
            for usage in agent:
                assert usage["messages"] >= 10 * args.seconds, usage
        finally:
            subscriber.close()
            for s in servers:
                s.stop()
    rows = figures(rounds, agent, bare)
    if args.json:
        for row in rows:
            print(json.dumps(row))
    else:
        print_table(rows, args.repeat)
    if os.environ.get(TABLE_ENV):
        _join_table(rows, args.repeat)


def _join_table(rows: list[dict[str, Any]], rounds: int) -> None:
    """The figures as rows of `make bench`'s one table (bench/table.py)."""
    cycle, rss, cpu = rows
    table = [
        Row(
            "edge_poll",
            cycle["figure"],
            cycle["value"],
            "ms",
            cycle["baseline"],
            "bare pymodbus loop",
            CYCLE_TARGET,
            "ratio",
            "<=",
            f"best of {rounds}; ratios {cycle['ratio_range']}",
        ),
        Row(
            "edge_poll",
            rss["figure"],
            rss["value"],
            "MB",
            rss["baseline"],
            "bare pymodbus + paho loop",
            RSS_TARGET_MB,
            "value",
            "<=",
            f"rounds {rss['value_range']} MB; what holds it: docs/performance.md#edge",
        ),
        Row(
            "edge_poll",
            cpu["figure"],
            cpu["value"],
            "%",
            cpu["baseline"],
            "bare pymodbus + paho loop",
            note=f"rounds {cpu['value_range']} %",
        ),
    ]
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        emit(table)  # printed above already; this appends to the run's table file


if __name__ == "__main__":
    main()
