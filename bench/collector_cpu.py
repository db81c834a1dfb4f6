"""CPU per message of the collector's own path, MQTT message in to point written in InfluxDB, per checkout.

The throughput ratios of bench/collector_throughput.py swing by +-0.2 on this shared 2-core machine, because
they measure wall time while other processes take the cores. CPU time does not depend on who else runs, so
this compares codes by what they spend: each round runs one child process per checkout (``--code DIR``,
alternating), which builds the real ``CollectorRuntime`` (spool, dead letters, cardinality guard, drainer,
KPI catch-up) against a real influxd, feeds N pre-built messages to ``Ingest.receive`` the way paho's network
thread does (``--burst`` messages, then the socket runs dry: the adaptive commit path), with the real drainer
thread writing, and reports the process's CPU seconds (``time.process_time``: every thread) per message, and the
receiving thread's own. paho's receive path is left out: it is the same library in every checkout (and the bare
subscriber's whole cost). Best of ``--repeat`` rounds, min and max beside it.

Run: .venv/bin/python bench/collector_cpu.py --code /tmp/old [--messages 20000] [--repeat 5] [--burst 20]
"""

from __future__ import annotations

import argparse
import inspect
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def child(code: Path, influx_url: str, db: str, messages: int, burst: int, batch: int = 0) -> dict[str, float]:
    """In the child: this checkout's runtime, fed ``messages`` in bursts; CPU seconds per message.

    With ``batch``, the messages are ReadingBatch messages of ``batch`` readings each (an edge's backlog
    flush, the ``flush`` shape of bench/collector_throughput.py), and the figures are per reading (point).
    """
    sys.path.insert(0, str(code))
    from collector.influx.init_db import init_db
    from collector.runtime import CollectorRuntime
    from shopfloor.contract import Kind, build_topic
    from tests.collector.traffic import SITE, base_ts_ms, collector_yaml, load, reading, readings

    work = Path(tempfile.mkdtemp(prefix="cpu-"))
    config = collector_yaml(
        work / "c.yaml",
        collector_id=f"cpu-{uuid.uuid4().hex[:6]}",
        broker_port=1,
        influx_url=influx_url,
        database=db,
    )
    settings = load(config)
    settings = settings.model_copy(
        update={
            "spool": settings.spool.model_copy(update={"path": work / "spool.sqlite"}),
            "dead_letters": settings.dead_letters.model_copy(update={"path": work / "dead.sqlite"}),
        }
    )
    init_db(settings)
    requests = _count_requests()
    if batch:
        t0 = base_ts_ms() - 86_400_000
        topic = build_topic(SITE, "edge-1", Kind.BATCH)
        feed = [
            (
                topic,
                json.dumps(
                    {"edge": "edge-1", "readings": [reading(i % 50, m * batch + i, t0) for i in range(batch)]}
                ).encode(),
            )
            for m in range(messages)
        ]
        points = messages * batch
    else:
        feed = list(readings(50, -(-messages // 50), base_ts_ms()))[:messages]
        points = messages
    runtime = CollectorRuntime(settings)
    sys.setswitchinterval(0.001)  # as CollectorRuntime.start sets it
    ingest = runtime.ingest
    adaptive = "more_waiting" in inspect.signature(ingest.receive).parameters
    stop = threading.Event()
    commit_thread = None
    if adaptive:  # the commit thread of collector.ingest.mqtt.MqttIn

        def commits() -> None:
            safety = 4 * settings.spool.commit_interval_ms / 1000
            while not stop.is_set():
                ingest.commit_when_due(safety)

        commit_thread = threading.Thread(target=commits, daemon=True)
        commit_thread.start()
    else:  # the code before adaptive commits: MqttIn's commit timer, every commit_interval_ms

        def timer() -> None:
            while not stop.wait(settings.spool.commit_interval_ms / 1000):
                ingest.flush()

        commit_thread = threading.Thread(target=timer, daemon=True)
        commit_thread.start()
    runtime.drainer.start()
    acked = 0

    def ack(acks: list[tuple[int, int]]) -> None:
        nonlocal acked
        acked += len(acks)

    ingest.ack = ack
    wall = time.perf_counter()
    cpu = time.process_time()
    own = time.thread_time()
    for i, (topic, payload) in enumerate(feed):
        if adaptive:
            ingest.receive(topic, payload, i + 1, 1, more_waiting=(i + 1) % burst != 0)
        else:
            ingest.receive(topic, payload, i + 1, 1)
    receive_cpu = time.thread_time() - own
    ingest.flush()
    deadline = time.monotonic() + 120
    while (runtime.spool.depth_lines or acked < messages) and time.monotonic() < deadline:
        time.sleep(0.001)
    total_cpu = time.process_time() - cpu
    wall_s = time.perf_counter() - wall
    stop.set()
    runtime.drainer.stop()
    written = int(runtime.metrics.written._value.get())
    if written < points or acked < messages:
        raise SystemExit(f"{code}: {written} lines written of {points}, {acked} acked of {messages} messages")
    return {
        **requests,
        "cpu_us": total_cpu / points * 1e6,
        "receive_us": receive_cpu / points * 1e6,
        "wall_us": wall_s / points * 1e6,
    }


def _count_requests() -> dict[str, float]:
    """Counts of this checkout's InfluxDB write and query requests (every client: drainer, rollup, KPI days)."""
    from collector.influx import v1

    counts = {"writes": 0.0, "queries": 0.0}
    # Every query goes through series_many, or, in older checkouts, series.
    name = "series_many" if hasattr(v1.InfluxV1Client, "series_many") else "series"
    write, query = v1.InfluxV1Client.write, getattr(v1.InfluxV1Client, name)

    def counted_write(self: v1.InfluxV1Client, lines: list[str]) -> object:
        counts["writes"] += 1
        return write(self, lines)

    def counted_query(self: v1.InfluxV1Client, *args: object, **kwargs: object) -> object:
        counts["queries"] += 1
        return query(self, *args, **kwargs)  # type: ignore[arg-type]

    v1.InfluxV1Client.write = counted_write  # type: ignore[assignment,method-assign]
    setattr(v1.InfluxV1Client, name, counted_query)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--code", action="append", type=Path, default=[], help="another checkout, same rounds")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--burst", type=int, default=20, help="messages a socket read holds before it runs dry")
    parser.add_argument(
        "--batch", type=int, default=0, help="ReadingBatch messages of this many readings (figures per reading)"
    )
    parser.add_argument("--profile", type=Path, help="py-spy (pip install -e '.[bench]') each child into DIR")
    parser.add_argument("--child", nargs=3, metavar=("CODE", "URL", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        code, url, db = args.child
        print(json.dumps(child(Path(code), url, db, args.messages, args.burst, args.batch)))
        return

    sys.path.insert(0, str(REPO))
    import httpx

    from simulator.services import Influxd

    codes = [REPO, *args.code]
    results: dict[Path, list[dict[str, float]]] = {code: [] for code in codes}
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp, Influxd(Path(tmp) / "influxd") as influxd:
        for round_ in range(args.repeat):
            for k, code in enumerate(codes if round_ % 2 == 0 else codes[::-1]):
                db = f"cpu{round_}x{k}"
                httpx.post(f"{influxd.url}/query", data={"q": f'CREATE DATABASE "{db}"'}).raise_for_status()
                spy: list[str] = []
                if args.profile is not None:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    name = f"{code.name or 'code'}-{round_}.txt"
                    spy = [
                        str(Path(sys.executable).with_name("py-spy")),
                        "record",
                        "--format",
                        "raw",
                        "-r",
                        "250",
                        "-o",
                        str(args.profile / name),
                        "--",
                    ]
                sizes = ["--messages", str(args.messages), "--burst", str(args.burst), "--batch", str(args.batch)]
                out = subprocess.run(
                    [*spy, sys.executable, __file__, *sizes, "--child", str(code), influxd.url, db],
                    cwd=code,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if out.returncode != 0:
                    raise SystemExit(f"{code}: {out.stderr[-2000:]}")
                results[code].append(json.loads(next(ln for ln in out.stdout.splitlines()[::-1] if ln[:1] == "{")))
                time.sleep(1.0)  # let influxd settle before the next code
    per = f"ReadingBatch messages of {args.batch}; µs a reading" if args.batch else "messages; µs a message"
    print(f"{args.messages} {per}, bursts of {args.burst}, best of {args.repeat} (min-max)")
    print(f"{'code':40} {'CPU, all threads':>22} {'receiving thread':>22} {'wall':>22} {'writes':>14} {'queries':>14}")
    for code, runs in results.items():
        cells = []
        for key in ("cpu_us", "receive_us", "wall_us", "writes", "queries"):
            values = sorted(run[key] for run in runs)
            if key in ("writes", "queries"):
                cells.append(f"{values[0]:.0f}-{values[-1]:.0f}".rjust(14))
            else:
                cells.append(f"{values[0]:7.1f} ({values[0]:.1f}-{values[-1]:.1f})".rjust(22))
        print(f"{code!s:40} " + " ".join(cells))


if __name__ == "__main__":
    main()
