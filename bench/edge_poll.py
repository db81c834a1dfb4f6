"""Edge agent benchmark: resources at 10 meters x 1 Hz, and poll-cycle time against bare pymodbus.

    .venv/bin/python bench/edge_poll.py [--seconds 30] [--cycles 200]

1. Runs `shopfloor edge run` (a real process) polling 10 Modbus TCP meters at 1 Hz and
   publishing to a local mosquitto; samples its RSS and CPU time from /proc.
2. Times poll cycles of the same 10 meters (each on its own connection, polled concurrently):
   the edge's poll path (plan -> read -> decode -> Poll) against a bare pymodbus loop that
   reads the same register blocks, interleaved in the same run. Reports the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pymodbus.client import AsyncModbusTcpClient  # noqa: E402

from edge.scheduler import DeviceTask, device_plan, link_for, poll_device  # noqa: E402
from edge.settings import load_settings  # noqa: E402
from simulator.meter_server import MeterServer  # noqa: E402
from simulator.services import Mosquitto  # noqa: E402
from tests.edge.helpers import library, meter, write_config  # noqa: E402

PROFILES = ["eastron-sdm630", "eastron-sdm120", "carlogavazzi-em24", "carlogavazzi-em340", "schneider-iem3155"] * 2


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


def resources(config: Path, seconds: float) -> dict[str, float]:
    proc = subprocess.Popen([sys.executable, "-m", "shopfloor", "edge", "run", str(config)], cwd=ROOT)
    try:
        time.sleep(5)  # warm-up: imports, connections
        cpu0, _ = proc_sample(proc.pid)
        start = time.monotonic()
        rss: list[int] = []
        while time.monotonic() - start < seconds:
            time.sleep(1)
            rss.append(proc_sample(proc.pid)[1])
        cpu1, _ = proc_sample(proc.pid)
        elapsed = time.monotonic() - start
    finally:
        proc.terminate()
        proc.wait(15)
    return {
        "cpu_percent": 100 * (cpu1 - cpu0) / elapsed,
        "rss_mb_max": max(rss) / 1024,
        "rss_mb_median": statistics.median(rss) / 1024,
    }


async def cycle_times(config: Path, cycles: int) -> dict[str, float]:
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

    async def edge_cycle() -> None:
        polls = await asyncio.gather(*(poll_device(link, task) for link, task in zip(links, tasks, strict=True)))
        assert all(p.quality == "ok" for p in polls), [p.error for p in polls]

    async def bare_one(client: AsyncModbusTcpClient, unit: int, plan: list) -> None:  # type: ignore[type-arg]
        for request in plan:
            call = client.read_holding_registers if request.function == 3 else client.read_input_registers
            response = await call(request.address, count=request.count, device_id=unit)
            assert not response.isError()

    async def bare_cycle() -> None:
        await asyncio.gather(*(bare_one(*entry) for entry in bare))

    for _ in range(10):  # warm-up both
        await edge_cycle()
        await bare_cycle()
    edge_t, bare_t = [], []
    for _ in range(cycles):  # interleaved, so both see the same machine load
        t0 = time.perf_counter()
        await edge_cycle()
        t1 = time.perf_counter()
        await bare_cycle()
        t2 = time.perf_counter()
        edge_t.append(t1 - t0)
        bare_t.append(t2 - t1)
    for link in links:
        link.close()
    for client, _, _ in bare:
        client.close()
    edge_ms, bare_ms = statistics.median(edge_t) * 1000, statistics.median(bare_t) * 1000
    return {"edge_cycle_ms_median": edge_ms, "bare_cycle_ms_median": bare_ms, "ratio": edge_ms / bare_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="resource sampling time")
    parser.add_argument("--cycles", type=int, default=200, help="timed poll cycles")
    args = parser.parse_args()
    lib = library()
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "mosquitto") as broker:
        servers = [MeterServer([meter(1, lib.get(name))]).start() for name in PROFILES]  # type: ignore[arg-type]
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
            usage = resources(config, args.seconds)
            timing = asyncio.run(cycle_times(config, args.cycles))
        finally:
            for s in servers:
                s.stop()
    print(
        f"agent, 10 TCP meters at 1 Hz for {args.seconds:.0f} s: CPU {usage['cpu_percent']:.1f} % of one core, "
        f"RSS median {usage['rss_mb_median']:.1f} MB (max {usage['rss_mb_max']:.1f} MB)"
    )
    print(
        f"poll cycle of 10 TCP meters, median of {args.cycles}: edge {timing['edge_cycle_ms_median']:.2f} ms, "
        f"bare pymodbus {timing['bare_cycle_ms_median']:.2f} ms, ratio {timing['ratio']:.2f}"
    )


if __name__ == "__main__":
    main()
