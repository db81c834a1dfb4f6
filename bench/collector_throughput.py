"""Collector throughput and latency, publish to queryable in InfluxDB, against baselines measured in the same run.

Every shape runs against a real mosquitto and a real influxd on free loopback ports. The publisher is one
process for the whole run (bench/live_clients.py): it writes pre-encoded QoS 1 packets and outruns every
consumer, so the consumer sets the pace. Rounds alternate the consumers; each figure is the best of
``--repeat`` rounds, with the min and max beside it.

* live: the publisher runs while the consumer consumes. 20 000 one-reading messages (10 fields, 50 devices).
  ours = a real ``shopfloor collector run`` process; done when InfluxQL ``count(power)`` (polled every 5 ms
  once the broker has every message) sees every point; timed from the first publish.
  baseline = a bare paho subscriber process (QoS 1, counts only), fed by the same publisher with the same
  payloads. Target >= 0.75. Also: two collector processes in one shared-subscription group.
* latency: the same collector process at 5 %, 20 % and 50 % of the live ceiling measured above. Each message
  is dated ``t0 + seq`` ms, the publisher notes when it sent each (monotonic ns, one clock for every process),
  and a poller asks InfluxDB for the points after the oldest not yet seen, back to back: a point's latency is
  the end of the first answer that holds it minus its send time. That overstates it by at most one poll
  (the poll's duration is printed). Baseline: a bare subscriber that POSTs every message at once.
  Target at 20 %: p50 <= 30 ms, p99 <= 150 ms.
* backlog: the same messages queued at the broker for the collector's persistent session before it starts
  (the easy case, in-process runtime), against a bare paho subscriber taking the same backlog.
* backlog flush: 200 ReadingBatch messages of 500 readings, queued, against a plain writer POSTing
  pre-built 5000-line batches into the same influxd. Target >= 0.6.

Each run checks the InfluxDB count: a single point missing fails the benchmark.

Run: .venv/bin/python bench/collector_throughput.py [--live 20000] [--repeat 3] [--shapes live,latency,...]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import paho.mqtt.client as paho

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.live_clients import live_messages  # noqa: E402
from bench.table import CpuSteal, Row, emit  # noqa: E402
from collector.influx.init_db import init_db  # noqa: E402
from collector.points import message_lines  # noqa: E402
from collector.runtime import CollectorRuntime  # noqa: E402
from collector.settings import CollectorSettings  # noqa: E402
from shopfloor.contract import Kind, build_topic, decode  # noqa: E402
from simulator.services import Influxd, Mosquitto, free_port, wait_until  # noqa: E402
from tests.collector.traffic import base_ts_ms, collector_yaml, load, reading  # noqa: E402

SITE = "test-site"
BENCH = "collector_throughput"
CLIENTS = [sys.executable, str(REPO / "bench" / "live_clients.py")]
# The collector of this checkout (cwd=REPO), whichever checkout the venv was installed from.
SHOPFLOOR = [sys.executable, "-m", "shopfloor.cli"]
# The completion poll: each count(power) scans every point written so far, so polling every 5 ms took a
# share of influxd that the plain writer (timed by its last 204) never pays: backlog-flush ratio 0.50, and 0.58
# with 50 ms polls in the run just after. A sleep of 1 % of the time waited so far (5-50 ms) bounds the
# overstatement at 1 % plus one query, and the poll's cost with it.
POLL_MIN_S = 0.005
POLL_MAX_S = 0.05
POLL_SHARE = 0.01
# The latency probe: one query every 5 ms, start to start, so a point's latency is overstated by at most
# 5 ms plus one query's duration (printed). Before each latency run, influxd must be quiet.
LATENCY_POLL_S = 0.005
SETTLE_WINDOW_S = 0.5
SETTLE_BUSY_SHARE = 0.05


class Influx:
    """InfluxQL over one keep-alive connection: the benchmark's polls cost influxd as little as they can."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.url = url
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 8086, timeout=60)

    def query(self, db: str, q: str) -> list[list[object]]:
        self.conn.request("GET", "/query?" + urllib.parse.urlencode({"db": db, "q": q, "epoch": "ms"}))
        result = json.loads(self.conn.getresponse().read())["results"][0]
        if "error" in result:
            raise RuntimeError(result["error"])
        series = result.get("series")
        return series[0]["values"] if series else []

    def count(self, db: str) -> int:
        values = self.query(db, "SELECT count(power) FROM meter")
        return int(values[0][1]) if values else 0  # type: ignore[call-overload]

    def create(self, db: str) -> None:
        httpx.post(f"{self.url}/query", data={"q": f'CREATE DATABASE "{db}"'}).raise_for_status()

    def wait_for(
        self,
        db: str,
        points: int,
        timeout: float = 600,
        written: Callable[[], float] | None = None,
        tail: tuple[int, int] | None = None,
    ) -> int:
        """Poll the count until it holds ``points``; the monotonic ns of the answer that first did.

        A ``count(power)`` over every point written so far costs influxd 7 ms of CPU at 20,000 points and
        18 ms at 100,000, about as long as the pause between polls, and the baselines pay no poll. So:
        ``written``, the consumer's own count of points InfluxDB acknowledged (an in-process collector's
        metric): the InfluxDB count is polled only once it says all. ``tail``, ``(since_ms, n)``: the newest
        ``n`` points are dated from ``since_ms``; their count (4 ms of influxd CPU) is polled first, the whole
        count once they are all there (and again until it holds every point, if the points came out of
        order). Either way, the time is that of the InfluxDB answer that holds every point."""
        started = time.monotonic()
        deadline = started + timeout
        while written is not None and written() < points and time.monotonic() < deadline:
            time.sleep(0.002)
        while tail is not None and time.monotonic() < deadline:
            values = self.query(db, f"SELECT count(power) FROM meter WHERE time >= {tail[0]}ms")
            if values and int(values[0][1]) >= tail[1]:  # type: ignore[call-overload]
                break
            time.sleep(min(POLL_MAX_S, max(POLL_MIN_S, (time.monotonic() - started) * POLL_SHARE)))
        while time.monotonic() < deadline:
            got = self.count(db)
            now = time.monotonic_ns()
            if got >= points:
                if got != points:
                    raise AssertionError(f"{db}: {got} points, expected {points}")
                return now
            time.sleep(min(POLL_MAX_S, max(POLL_MIN_S, (now / 1e9 - started) * POLL_SHARE)))
        raise AssertionError(f"{db}: {self.count(db)} of {points} points after {timeout:.0f} s: points lost")


class Child:
    """A benchmark process that talks in lines on stdin and stdout."""

    def __init__(self, args: list[str], ready: str) -> None:
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
        self.expect(ready)

    def line(self) -> str:
        assert self.proc.stdout is not None
        text = self.proc.stdout.readline()
        if not text:
            raise RuntimeError(f"{self.proc.args} exited with {self.proc.wait()}")
        return text.strip()

    def expect(self, start: str) -> str:
        text = self.line()
        if not text.startswith(start):
            raise RuntimeError(f"{self.proc.args}: expected {start!r}, got {text!r}")
        return text

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def ask(self, command: str) -> dict[str, int]:
        self.send(command)
        answer: dict[str, int] = json.loads(self.line())
        return answer

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Bench:
    broker: Mosquitto
    influx: Influx
    work: Path
    publisher: Child
    t0: int
    runs: int = 0
    profile: Path | None = None  # py-spy's samples of each collector process go here (the bench extra)
    influx_extra: str = ""  # more influx: keys for the collectors, e.g. a flush_interval_ms
    influxd_pid: int | None = None  # the latency runs wait for it to go quiet (settle)
    latency_dump: Path | None = None  # each latency run's (seq, sent, latency) rows go here, one JSON file a run

    def database(self, shape: str) -> str:
        self.runs += 1
        db = f"{shape}{self.runs}"
        self.influx.create(db)
        return db

    @contextlib.contextmanager
    def collectors(self, db: str, processes: int = 1, code: Path = REPO, influx: str = "") -> Iterator[list[int]]:
        """``processes`` real collector processes (one shared-subscription group when more than one), ready."""
        group = f"bench{self.runs}" if processes > 1 else None
        procs = []
        ids = [f"{db}-{k}-{uuid.uuid4().hex[:4]}" for k in range(processes)]
        for k in range(processes):
            port = free_port()
            config = collector_yaml(
                self.work / f"{db}-{k}.yaml",
                collector_id=ids[k],
                broker_port=self.broker.port,
                influx_url=self.influx.url,
                database=db,
                shared_group=group,
                http_port=port,
                extra_influx=self.influx_extra + "".join(f"\n  {k}: {v}" for k, v in _pairs(influx)),
            )
            if "metrics_access" in (code / "collector" / "settings.py").read_text():
                # The benchmark reads each collector's write-request count from /metrics (no token here).
                config.write_text(config.read_text() + "api:\n  metrics_access: open\n")
            if k == 0:
                init_db(load(config))  # as deployed: the rollup exists, so its catch-up runs (and is timed)
            log = (self.work / f"{db}-{k}.log").open("w")
            procs.append(
                (
                    subprocess.Popen([*SHOPFLOOR, "collector", "run", str(config)], stdout=log, stderr=log, cwd=code),
                    port,
                )
            )
        spies = []
        try:
            for _, port in procs:
                wait_until(lambda port=port: _ready(port), 60, "collector /readyz")  # type: ignore[misc]
            if self.profile is not None:
                spies = [self._spy(proc.pid, self.profile / f"{db}-{k}.txt") for k, (proc, _) in enumerate(procs)]
            yield [proc.pid for proc, _ in procs]
            for _, port in procs:
                print(f"  {db}: {_write_requests(port)}", flush=True)
        finally:
            for spy in spies:
                spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
                spy.wait(60)
            for proc, _ in procs:
                proc.send_signal(signal.SIGTERM)
            for proc, _ in procs:
                if proc.wait(60) != 0:
                    raise RuntimeError(f"collector exited with {proc.returncode}: see {self.work}")
            forget_sessions(self.broker.port, ids)

    @staticmethod
    def _spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
        spy = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--rate", "250"]
        args = [*spy, "--format", "raw", "--threads", "--gil", "--output", str(out)]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # py-spy attaches before the traffic starts
        return proc


def broker_stored(port: int) -> str:
    """Mosquitto's count of stored messages and of its clients' sessions, from its retained $SYS topics."""
    wanted = ("$SYS/broker/store/messages/count", "$SYS/broker/clients/total")
    found: dict[str, str] = {}
    done = threading.Event()

    def on_message(client: paho.Client, userdata: object, message: paho.MQTTMessage) -> None:
        found[message.topic] = message.payload.decode()
        if len(found) == len(wanted):
            done.set()

    def on_connect(client: paho.Client, *args: object) -> None:
        for topic in wanted:
            client.subscribe(topic)

    name = f"sys-{uuid.uuid4().hex[:6]}"
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=name, protocol=paho.MQTTv5)
    client.on_message = on_message
    client.on_connect = on_connect
    client.connect("127.0.0.1", port, clean_start=True)
    client.loop_start()
    done.wait(15)
    client.disconnect()
    client.loop_stop()
    return f"broker: {found.get(wanted[0], '?')} messages stored, {found.get(wanted[1], '?')} sessions"


def forget_sessions(port: int, client_ids: list[str]) -> None:
    """Drop the broker's sessions of finished collectors (clean start, expiry 0). A deployed collector keeps its
    session across restarts (``session_expiry_s``); a benchmark's collectors never come back, and their sessions
    queued every later run's messages (same topics) until they expired: the broker then spent its time on them,
    and its periodic save of them stalled every client for up to a second."""
    for client_id in client_ids:
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
        connected = threading.Event()
        client.on_connect = lambda *args, done=connected: done.set()  # type: ignore[misc]
        client.connect("127.0.0.1", port, clean_start=True)  # MQTT 5: no expiry property means 0
        client.loop_start()
        try:
            if not connected.wait(10):
                raise RuntimeError(f"cannot reach the broker to drop the session of {client_id}")
        finally:
            client.disconnect()
            client.loop_stop()


def _pairs(settings: str) -> list[tuple[str, str]]:
    return [tuple(pair.split("=", 1)) for pair in settings.split(",") if pair]  # type: ignore[misc]


def _write_requests(port: int) -> str:
    """The collector's own count of its InfluxDB write requests, and their mean size, from /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("shopfloor_collector_write_batch_lines_count", "shopfloor_collector_write_batch_lines_sum"):
            found[name.rsplit("_", 1)[1]] = float(value)
    if not found.get("count"):
        return "no write requests counted (a collector from before the write_batch_lines histogram?)"
    return f"{found['count']:.0f} write requests, {found['sum'] / found['count']:.0f} lines each on average"


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Best:
    rates: list[float] = field(default_factory=list)

    def add(self, rate: float) -> None:
        self.rates.append(rate)

    @property
    def best(self) -> float:
        return max(self.rates)

    def note(self, unit: str = "msg/s") -> str:
        return f"best of {len(self.rates)}; min-max {min(self.rates):.0f}-{max(self.rates):.0f} {unit}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# CPU seconds per message of each live run's consumer and of influxd, by consumer: unlike the rates, these
# barely move with the machine's load (other processes take wall time, not our CPU time).
CPU_PER_MESSAGE: dict[str, list[tuple[float, float]]] = {}


class CpuMeter:
    """CPU time (utime + stime) that the consumer processes and influxd spent between start and stop."""

    def __init__(self, bench: Bench, pids: list[int]) -> None:
        self.pids = pids
        self.influxd = bench.influxd_pid
        self.before = self._ticks()

    def _ticks(self) -> tuple[int, int]:
        ours = sum(_cpu_ticks(pid) for pid in self.pids)
        return ours, (_cpu_ticks(self.influxd) if self.influxd is not None else 0)

    def note(self, name: str, messages: int) -> None:
        after = self._ticks()
        hz = os.sysconf("SC_CLK_TCK")
        per = [(b - a) / hz / messages * 1e6 for a, b in zip(self.before, after, strict=True)]
        CPU_PER_MESSAGE.setdefault(name, []).append((per[0], per[1]))
        print(f"  {name}: CPU {per[0]:.1f} µs/msg, influxd {per[1]:.1f} µs/msg", flush=True)


def live_bare(bench: Bench, messages: int) -> float:
    bare = Child([*CLIENTS, "bare", "--port", str(bench.broker.port), "--count", str(messages)], "ready")
    try:
        cpu = CpuMeter(bench, [bare.proc.pid])
        sent = bench.publisher.ask(f"burst {messages} {now_ms()}")
        done_ns = int(bare.expect("done").split()[1])
        cpu.note("bare paho subscriber", messages)
    finally:
        bare.close()
    return messages / ((done_ns - sent["first_ns"]) / 1e9)


def live_collector(bench: Bench, messages: int, processes: int = 1, code: Path = REPO, influx: str = "") -> float:
    db = bench.database("live")
    with bench.collectors(db, processes, code, influx) as pids:
        cpu = CpuMeter(bench, pids)
        t0 = now_ms()
        sent = bench.publisher.ask(f"burst {messages} {t0}")
        newest = min(1000, messages)  # message seq is dated t0 + seq ms (live_clients.latency_messages)
        done_ns = bench.influx.wait_for(db, messages, tail=(t0 + messages - newest, newest))
        name = f"collector {'' if code == REPO else code}{' ' + influx if influx else ''}".strip()
        cpu.note(f"{name} x{processes}" if processes > 1 else name, messages)
    return messages / ((done_ns - sent["first_ns"]) / 1e9)


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    max_ms: float
    poll_ms: float
    settled_s: float = 0.0  # waited for influxd to go quiet before the run


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks


def settle(pid: int | None, busy_share: float = SETTLE_BUSY_SHARE, timeout_s: float = 30.0) -> float:
    """Wait until ``pid`` (influxd) uses under ``busy_share`` of a core over SETTLE_WINDOW_S; the seconds waited.

    influxd compacts the previous shape's points (hundreds of thousands) just after they were written; a latency
    run started then measured influxd's compaction, for the bare POST-per-message subscriber as for the collector.
    """
    if pid is None or not Path(f"/proc/{pid}/stat").exists():
        return 0.0
    hz = os.sysconf("SC_CLK_TCK")
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        before = _cpu_ticks(pid)
        time.sleep(SETTLE_WINDOW_S)
        if (_cpu_ticks(pid) - before) / hz < busy_share * SETTLE_WINDOW_S:
            break
    return time.monotonic() - started


def poll_latency(bench: Bench, db: str, rate: float, count: int) -> Latency:
    times = bench.work / f"{db}-sent.json"
    print(f"  {db}: {broker_stored(bench.broker.port)}", flush=True)
    settled_s = settle(bench.influxd_pid)
    t0 = now_ms()
    bench.publisher.send(f"paced {rate} {count} {times} {t0}")
    seen: dict[int, int] = {}
    oldest_unseen = 0
    polls: list[int] = []
    deadline = time.monotonic() + 120 + count / rate
    next_poll = time.monotonic()
    while oldest_unseen < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{db}: {len(seen)} of {count} points seen: points lost")
        # One poll every LATENCY_POLL_S, start to start: back to back, the polls took about half of one
        # core from influxd and the consumer (the bare POST subscriber's p50 was 85 ms at 5 % of the ceiling).
        next_poll += LATENCY_POLL_S
        asked = time.monotonic_ns()
        rows = bench.influx.query(db, f"SELECT seq FROM meter WHERE time >= {(t0 + oldest_unseen) * 1_000_000}")
        answered = time.monotonic_ns()
        polls.append(answered - asked)
        for _, seq in rows:
            seen.setdefault(int(seq), answered)  # type: ignore[call-overload]
        while oldest_unseen in seen:
            oldest_unseen += 1
        time.sleep(max(0.0, next_poll - time.monotonic()))
    bench.publisher.line()  # the publisher's answer: every PUBACK came
    sent_ns = json.loads(times.read_text())
    if bench.influx.query(db, "SELECT count(seq) FROM meter")[0][1] != count:
        raise AssertionError(f"{db}: the count is not {count}")
    by_seq = [(seen[seq] - sent_ns[seq]) / 1e6 for seq in range(count)]
    if bench.latency_dump is not None:
        bench.latency_dump.mkdir(parents=True, exist_ok=True)
        rows = [[seq, (sent_ns[seq] - sent_ns[0]) / 1e6, ms] for seq, ms in enumerate(by_seq)]
        dump = {"first_sent_monotonic_ns": sent_ns[0], "rows": rows}
        (bench.latency_dump / f"{db}.json").write_text(json.dumps(dump))
    latencies = sorted(by_seq)
    return Latency(
        statistics.median(latencies),
        latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        latencies[-1],
        statistics.median(polls) / 1e6,
        settled_s,
    )


def latency_collector(bench: Bench, rate: float, count: int, code: Path = REPO) -> Latency:
    db = bench.database("latency")
    with bench.collectors(db, code=code):
        return poll_latency(bench, db, rate, count)


def latency_bare_post(bench: Bench, rate: float, count: int) -> Latency:
    db = bench.database("post")
    args = [*CLIENTS, "bare-post", "--port", str(bench.broker.port), "--influx", bench.influx.url, "--db", db]
    bare = Child(args, "ready")
    try:
        return poll_latency(bench, db, rate, count)
    finally:
        bare.close()


# ---- the backlog shapes: consumers that start with the broker already holding everything


def settings_for(bench: Bench, db: str, workers: int = 0) -> CollectorSettings:
    return CollectorSettings.model_validate(
        {
            "collector_id": f"bench-{uuid.uuid4().hex[:6]}",
            "broker": {"port": bench.broker.port},
            "subscription": {"decode_workers": workers},
            "influx": {"version": 1, "url": bench.influx.url, "database": db},
            "spool": {"path": str(bench.work / f"{db}-spool.sqlite")},
            "dead_letters": {"path": str(bench.work / f"{db}-dead.sqlite")},
        }
    )


def backlog_collector(bench: Bench, db: str, messages: list[tuple[str, bytes]], points: int, workers: int) -> float:
    """Seconds for an in-process collector to take a queued backlog of ``messages`` into InfluxDB."""
    settings = settings_for(bench, db, workers)
    init_db(settings)
    runtime = CollectorRuntime(settings)
    runtime.start()
    wait_until(runtime.mqtt.connected.is_set, 10, "collector subscribed")
    runtime.stop()  # the session stays on the broker, which queues the backlog for it
    queue_at_broker(bench, messages)
    runtime = CollectorRuntime(settings)
    started = time.monotonic_ns()
    runtime.start()
    done_ns = bench.influx.wait_for(db, points, written=runtime.metrics.written._value.get)
    runtime.stop()
    return (done_ns - started) / 1e9


def backlog_process(
    bench: Bench, db: str, messages: list[tuple[str, bytes]], points: int, code: Path, tail: tuple[int, int]
) -> float:
    """:func:`backlog_collector` for a real collector process of checkout ``code``: stopped (SIGSTOP) while the
    backlog is queued for it, timed from SIGCONT until InfluxDB holds every point."""
    with bench.collectors(db, 1, code) as pids:
        os.kill(pids[0], signal.SIGSTOP)
        try:
            queue_at_broker(bench, messages)
        finally:
            cpu = CpuMeter(bench, pids)
            started = time.monotonic_ns()
            os.kill(pids[0], signal.SIGCONT)
        done_ns = bench.influx.wait_for(db, points, tail=tail)
        cpu.note(f"flush, per point: collector process {'' if code == REPO else code}".strip(), points)
    return (done_ns - started) / 1e9


def queue_at_broker(bench: Bench, messages: list[tuple[str, bytes]]) -> None:
    from tests.collector.traffic import Publisher

    publisher = Publisher(bench.broker.host, bench.broker.port)
    publisher.publish_all(messages, timeout=600)
    publisher.close()


def backlog_bare(bench: Bench, messages: list[tuple[str, bytes]]) -> float:
    from shopfloor.mqtt import connect_properties

    client_id = f"bare-{uuid.uuid4().hex[:6]}"
    count = 0
    done = threading.Event()
    subscribed = threading.Event()

    def make() -> paho.Client:
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
        client.on_subscribe = lambda *a: subscribed.set()
        client.on_message = on_message
        return client

    def on_message(client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        nonlocal count
        count += 1
        if count >= len(messages):
            done.set()

    client = make()
    client.connect(bench.broker.host, bench.broker.port, clean_start=False, properties=connect_properties(3600, 1000))
    client.loop_start()
    client.subscribe(f"shopfloor/v1/{SITE}/+/+", qos=1)
    subscribed.wait(10)
    client.disconnect()
    client.loop_stop()
    queue_at_broker(bench, messages)
    client = make()
    started = time.perf_counter()
    client.connect(bench.broker.host, bench.broker.port, clean_start=False, properties=connect_properties(3600, 1000))
    client.loop_start()
    done.wait(600)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return elapsed


def plain_writer(influx: Influx, db: str, lines: list[str], batch: int = 5000) -> float:
    with httpx.Client(base_url=influx.url, timeout=60) as client:
        started = time.perf_counter()
        for i in range(0, len(lines), batch):
            body = "\n".join(lines[i : i + batch]).encode()
            client.post("/write", params={"db": db, "precision": "ns"}, content=body).raise_for_status()
        return time.perf_counter() - started


def batch_messages(n_messages: int, per_message: int, t0: int) -> list[tuple[str, bytes]]:
    out = []
    for m in range(n_messages):
        body = {"edge": "edge-1", "readings": [reading(i % 50, m * per_message + i, t0) for i in range(per_message)]}
        out.append((build_topic(SITE, "edge-1", Kind.BATCH), json.dumps(body).encode()))
    return out


SHAPES = ("live", "latency", "backlog", "flush")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--live", type=int, default=20_000, help="messages per live and backlog run (50 devices)")
    parser.add_argument("--batches", type=int, default=200, help="ReadingBatch messages of 500 readings (flush)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each figure is the best of them")
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated, of {', '.join(SHAPES)}")
    parser.add_argument("--processes", type=int, default=2, help="live: also this many collectors in one group")
    parser.add_argument("--latency-seconds", type=float, default=5.0, help="seconds of traffic per latency level")
    parser.add_argument("--ceiling", type=float, default=0.0, help="latency: msg/s to take as the ceiling")
    parser.add_argument(
        "--code",
        type=Path,
        action="append",
        default=[],
        help="live, latency and flush: also a collector run from this checkout (e.g. a `git archive`), alternating",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="live: also this checkout's collector with these influx settings, e.g. flush_interval_ms=200",
    )
    parser.add_argument("--flush-interval-ms", type=int, help="influx.flush_interval_ms of the live collectors")
    parser.add_argument("--profile", type=Path, help="record py-spy samples of the collector processes here")
    parser.add_argument("--latency-dump", type=Path, help="write each latency run's per-message latencies here")
    parser.add_argument("--decode-workers", type=int, default=0, help="subscription.decode_workers (flush)")
    args = parser.parse_args()
    steal = CpuSteal()
    shapes = set(args.shapes.split(","))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with Mosquitto(work / "mqtt") as broker, Influxd(work / "influx") as influxd:
            t0 = base_ts_ms()
            cmd = [*CLIENTS, "publisher", "--port", str(broker.port)]
            bench = Bench(broker, Influx(influxd.url), work, Child(cmd, '{"ready"'), t0, profile=args.profile)
            bench.influxd_pid = influxd.pid
            bench.latency_dump = args.latency_dump
            if args.flush_interval_ms is not None:
                bench.influx_extra = f"\n  flush_interval_ms: {args.flush_interval_ms}"
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
            try:
                ceiling = args.ceiling
                if "live" in shapes:
                    rows += live_rows(bench, args)
                    ceiling = ceiling or rows[0].value
                if "latency" in shapes:
                    if not ceiling:
                        raise SystemExit("latency needs the live shape in the same run, or --ceiling")
                    rows += latency_rows(bench, args, ceiling)
                if "backlog" in shapes:
                    rows += backlog_rows(bench, args)
                if "flush" in shapes:
                    rows += flush_rows(bench, args, t0)
            finally:
                bench.publisher.send("quit")
                bench.publisher.close()
    emit(rows, steal=steal)
    return 0


def live_rows(bench: Bench, args: argparse.Namespace) -> list[Row]:
    bare, ours, more = Best(), Best(), Best()
    others = {code: Best() for code in args.code}
    variants = {variant: Best() for variant in args.variant}
    for _ in range(args.repeat):  # alternate: the machine is shared
        bare.add(live_bare(bench, args.live))
        ours.add(live_collector(bench, args.live))
        for code, best in others.items():
            best.add(live_collector(bench, args.live, code=code))
        for variant, best in variants.items():
            best.add(live_collector(bench, args.live, influx=variant))
        if args.processes > 1:
            more.add(live_collector(bench, args.live, args.processes))
    print(f"live: bare {bare.rates}, collector {ours.rates}, {args.processes} collectors {more.rates}")
    for name, runs in CPU_PER_MESSAGE.items():
        mine, theirs = min(run[0] for run in runs), min(run[1] for run in runs)
        print(f"live CPU per message, least of {len(runs)}: {name} {mine:.1f} µs, influxd {theirs:.1f} µs")
    figure = f"live, {args.live} msgs x 10 fields, 50 devices: publish -> all points counted in InfluxDB"
    rows = [Row(BENCH, figure, ours.best, "msg/s", bare.best, "bare paho subscriber", 0.75, note=ours.note())]
    for variant, best in variants.items():
        figure = f"live, this collector with influx {variant}"
        rows.append(Row(BENCH, figure, best.best, "msg/s", bare.best, "bare paho subscriber", 0.75, note=best.note()))
    for code, best in others.items():
        rows.append(
            Row(
                BENCH,
                f"live, the collector of {code}",
                best.best,
                "msg/s",
                bare.best,
                "bare paho subscriber",
                0.75,
                note=best.note(),
            )
        )
    if more.rates:
        rows.append(
            Row(
                BENCH,
                f"live, {args.processes} collector processes in one shared-subscription group",
                more.best,
                "msg/s",
                bare.best,
                "bare paho subscriber",
                0.75,
                note=more.note(),
            )
        )
    return rows


def latency_rows(bench: Bench, args: argparse.Namespace, ceiling: float) -> list[Row]:
    rows = []
    for share in (0.05, 0.2, 0.5):
        rate = share * ceiling
        count = max(200, int(rate * args.latency_seconds))
        ours = latency_collector(bench, rate, count)
        bare = latency_bare_post(bench, rate, count)
        print(f"latency at {share:.0%} ({rate:.0f} msg/s): collector {ours}, bare POST {bare}")
        for code in args.code:  # the same levels for the other checkouts (printed, not in the table)
            print(f"latency at {share:.0%} ({rate:.0f} msg/s): {code} {latency_collector(bench, rate, count, code)}")
        where = f"latency at {share:.0%} of the ceiling ({rate:.0f} msg/s, {count} msgs)"
        note = (
            f"max {ours.max_ms:.0f} ms; overstated by at most one poll period ({LATENCY_POLL_S * 1000:.0f} ms) "
            f"+ one query ({ours.poll_ms:.1f} ms); influxd settled {ours.settled_s:.1f} s before"
        )
        targeted = share == 0.2
        for name, mine, theirs, target in (
            ("p50", ours.p50_ms, bare.p50_ms, 30.0),
            ("p99", ours.p99_ms, bare.p99_ms, 150.0),
        ):
            rows.append(
                Row(
                    BENCH,
                    f"{where}, {name}: publish -> queryable",
                    mine,
                    "ms",
                    theirs,
                    "bare subscriber, one POST a message",
                    target if targeted else None,
                    "value",
                    "<=",
                    note,
                )
            )
    return rows


def backlog_rows(bench: Bench, args: argparse.Namespace) -> list[Row]:
    messages = live_messages(args.live, bench.t0 - 7_200_000)
    bare, ours = Best(), Best()
    for _ in range(args.repeat):
        bare.add(len(messages) / backlog_bare(bench, messages))
        db = bench.database("backlog")
        ours.add(len(messages) / backlog_collector(bench, db, messages, len(messages), 0))
    figure = f"backlog, {len(messages)} msgs queued before the consumer starts"
    return [Row(BENCH, figure, ours.best, "msg/s", bare.best, "bare paho subscriber", note=ours.note())]


def flush_rows(bench: Bench, args: argparse.Namespace, t0: int) -> list[Row]:
    per_message = 500
    start = t0 - 86_400_000
    backlog = batch_messages(args.batches, per_message, start)
    points = args.batches * per_message
    # The last message's readings, dated a second apart (``batch_messages``).
    tail = (start + (points - per_message) * 1000, per_message)
    prebuilt = [line for topic, payload in backlog for line in message_lines(decode(topic, payload))]
    plain, ours = Best(), Best()
    # With --code: this checkout and each other one as a real process too, alternating (printed, not in the table).
    processes = {code: Best() for code in ([REPO, *args.code] if args.code else [])}
    for round_ in range(args.repeat):
        db = bench.database("plain")
        plain.add(points / plain_writer(bench.influx, db, prebuilt))
        if bench.influx.count(db) != points:
            raise AssertionError(f"{db}: the plain writer lost points")
        db = bench.database("flush")
        ours.add(points / backlog_collector(bench, db, backlog, points, args.decode_workers))
        for code in list(processes) if round_ % 2 == 0 else list(processes)[::-1]:
            db = bench.database("flush")
            processes[code].add(points / backlog_process(bench, db, backlog, points, code, tail))
    for code, best in processes.items():
        print(
            f"backlog flush, collector process {code}: {best.best:.0f} points/s, {best.note('points/s')}; "
            f"ratio {best.best / plain.best:.2f} to the plain writer's {plain.best:.0f}"
        )
    figure = f"backlog flush, {args.batches} ReadingBatch x {per_message} readings"
    if args.decode_workers:
        figure += f", decode_workers={args.decode_workers}"
    return [
        Row(
            BENCH,
            figure,
            ours.best,
            "points/s",
            plain.best,
            "plain writer, pre-built 5000-line POSTs",
            0.6,
            note=ours.note("points/s"),
        )
    ]


if __name__ == "__main__":
    sys.exit(main())
