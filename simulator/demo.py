"""`shopfloor demo` (what `make demo` runs): the whole system on one machine, on loopback.

It starts a local mosquitto and influxd with their own configs and data under ``.demo/``, the
collector with its API and bench page, the simulator, and one edge agent per site that reads
the simulated meters over real Modbus TCP. The first run backfills history. Later runs reuse
the data. It prints the URLs, then a one-line status per site, until Ctrl-C stops everything.
"""

from __future__ import annotations

import datetime
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import yaml

from collector.influx_v1 import InfluxV1Writer
from collector.settings import InfluxV1Settings
from collector.write_result import InfluxQueryError
from shopfloor.services import Influxd, Mosquitto, free_port, free_port_block, port_open, wait_until
from simulator.sites import SiteSpec, default_sites

BACKFILL_MARKER = "backfilled-days"


@dataclass
class DemoOptions:
    directory: Path
    sites: int = 3
    seed: int = 42
    backfill_days: float = 30
    mqtt_port: int = 1883
    influx_port: int = 8086
    api_port: int = 8080
    modbus_port: int = 5020
    poll_interval_s: float = 2.0
    duration_s: float | None = None
    status_interval_s: float = 5.0
    out: TextIO = field(default=sys.stdout)


def pick_port(wanted: int, what: str, out: TextIO, taken: set[int]) -> int:
    if wanted and wanted not in taken and not port_open("127.0.0.1", wanted):
        taken.add(wanted)
        return wanted
    port = free_port()
    while port in taken:
        port = free_port()
    taken.add(port)
    if wanted:
        print(f"note: port {wanted} for {what} is taken (another {what} running?); using {port}", file=out)
    return port


def edge_config(site: SiteSpec, edge_id: str, mqtt_port: int, modbus_port: int, interval_s: float) -> dict[str, Any]:
    devices = [
        {"id": site.main_meter_id, "unit_id": site.main_unit_id, "profile": site.main_profile, "interval_s": interval_s}
    ]
    devices += [
        {"id": b.id, "unit_id": b.unit_id, "profile": b.profile, "interval_s": interval_s} for b in site.benches
    ]
    return {
        "site": site.id,
        "edge_id": edge_id,
        "broker": {"host": "127.0.0.1", "port": mqtt_port},
        "buses": [
            {
                "name": "gateway",
                "tcp": f"127.0.0.1:{modbus_port}",
                "timeout_s": min(1.0, interval_s / 2),
                "devices": devices,
            }
        ],
        "outbox": {"path": "outbox.db"},
        "status_interval_s": 10,
    }


def collector_config(sites: list[SiteSpec], mqtt_port: int, influx_url: str, api_port: int) -> dict[str, Any]:
    return {
        "collector_id": "demo-collector",
        "broker": {"host": "127.0.0.1", "port": mqtt_port},
        "influx": {"version": 1, "url": influx_url, "database": "shopfloor"},
        "spool": {"path": "spool.sqlite"},
        "dead_letters": {"path": "dead_letters.sqlite"},
        "http": {"host": "127.0.0.1", "port": api_port},
        "sites": {
            s.id: {"main_meter": s.main_meter_id, "opening_hours": s.opening_hours_text(), "timezone": s.timezone}
            for s in sites
        },
    }


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def influx_rows(influx_url: str, query: str) -> list[dict[str, Any]]:
    """Rows of one InfluxQL query, or none while InfluxDB is not answering (a status line must not fail)."""
    writer = InfluxV1Writer(InfluxV1Settings(url=influx_url, database="shopfloor"))
    try:
        return writer.query(query, epoch="ms")
    except InfluxQueryError:
        return []
    finally:
        writer.close()


def site_status(influx_url: str, site: str, now_ms: int) -> str:
    last = influx_rows(
        influx_url, f"SELECT last(power) FROM meter WHERE site='{site}' AND device='main' AND time > now() - 1h"
    )
    items = influx_rows(
        influx_url,
        f"SELECT sum(final), sum(fixed), sum(repairable), sum(end_of_life) FROM repair_event "
        f"WHERE site='{site}' AND type='finished' AND time > now() - 30d",
    )
    parts = [f"{site:<22}"]
    if last:
        age = (now_ms - int(last[0]["time"])) / 1000
        parts.append(f"power {last[0]['last'] / 1000:6.2f} kW  last reading {age:4.0f} s ago")
    else:
        parts.append("no live reading yet")
    if items and items[0].get("sum"):
        row = items[0]
        attempted = (row.get("sum_1") or 0) + (row.get("sum_2") or 0) + (row.get("sum_3") or 0)
        fix = f"{100 * (row.get('sum_1') or 0) / attempted:3.0f}%" if attempted else "  -"
        parts.append(f"items(30d) {int(row['sum']):5d}  fix rate {fix}")
    return "  ".join(parts)


class Demo:
    def __init__(self, options: DemoOptions) -> None:
        self.o = options
        self.dir = options.directory.resolve()
        self.sites = default_sites(options.sites)
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._stopping = False

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log_dir = self.dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        with (log_dir / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "shopfloor", "-v", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.dir,
            )
        self.children.append((name, proc))
        return proc

    def _check_children(self) -> None:
        for name, proc in self.children:
            if proc.poll() is not None and name != "backfill":
                tail = (self.dir / "logs" / f"{name}.log").read_text(errors="replace")[-1500:]
                raise RuntimeError(f"{name} exited with code {proc.returncode}; see {self.dir}/logs/{name}.log\n{tail}")

    def stop(self, *_: object) -> None:
        self._stopping = True

    def run(self) -> int:
        o, out = self.o, self.o.out
        self.dir.mkdir(parents=True, exist_ok=True)
        taken: set[int] = set()
        mqtt_port = pick_port(o.mqtt_port, "mqtt broker", out, taken)
        influx_port = pick_port(o.influx_port, "influxdb", out, taken)
        api_port = pick_port(o.api_port, "collector api", out, taken)
        modbus_port = free_port_block(len(self.sites), o.modbus_port)
        if o.modbus_port and modbus_port != o.modbus_port:
            print(f"note: Modbus ports {o.modbus_port}+ are taken; the simulated meters use {modbus_port}+", file=out)
        mosquitto = Mosquitto(self.dir / "mosquitto", port=mqtt_port)
        influxd = Influxd(self.dir / "influxd", port=influx_port)
        previous = {signal.SIGINT: signal.getsignal(signal.SIGINT), signal.SIGTERM: signal.getsignal(signal.SIGTERM)}

        def on_signal(signum: int, frame: FrameType | None) -> None:
            self.stop()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            print(
                f"starting mosquitto on {mqtt_port} and influxd on {influx_port} (data in {self.dir})",
                file=out,
                flush=True,
            )
            mosquitto.start()
            influxd.start()
            collector_yaml = write_yaml(
                self.dir / "collector" / "collector.yaml",
                collector_config(self.sites, mqtt_port, influxd.url, api_port),
            )
            init = subprocess.run(
                [sys.executable, "-m", "shopfloor", "collector", "init-db", str(collector_yaml)],
                capture_output=True,
                text=True,
                check=False,
                cwd=self.dir,
            )
            if init.returncode != 0:
                raise RuntimeError(f"collector init-db failed:\n{init.stdout}{init.stderr}")
            self._spawn("collector", "collector", "run", str(collector_yaml))
            wait_until(lambda: port_open("127.0.0.1", api_port), 60, "collector API")
            sim_args = ["simulate", "--broker", f"127.0.0.1:{mqtt_port}", "--seed", str(o.seed)]
            sim_args += ["--sites", str(o.sites), "--modbus-port", str(modbus_port)]
            self._spawn("simulator", *sim_args)
            marker = self.dir / BACKFILL_MARKER
            if o.backfill_days > 0 and not marker.exists():
                print(f"backfilling {o.backfill_days:g} days of history (first run only)", file=out, flush=True)
                self._spawn(
                    "backfill", *sim_args, "--backfill-days", str(o.backfill_days), "--no-live", "--modbus-port", "1"
                )
            wait_until(
                lambda: all(port_open("127.0.0.1", modbus_port + i) for i in range(len(self.sites))), 120, "simulator"
            )
            for i, site in enumerate(self.sites):
                edge_yaml = write_yaml(
                    self.dir / f"edge-{site.id}" / "edge.yaml",
                    edge_config(site, f"{site.id}-pi", mqtt_port, modbus_port + i, o.poll_interval_s),
                )
                self._spawn(f"edge-{site.id}", "edge", "run", str(edge_yaml))
            self._print_urls(mqtt_port, influxd.url, api_port)
            started = time.monotonic()
            next_status = started
            while not self._stopping:
                if o.duration_s is not None and time.monotonic() - started >= o.duration_s:
                    break
                self._check_children()
                self._reap_backfill(marker)
                if time.monotonic() >= next_status:
                    now = int(time.time() * 1000)
                    for site in self.sites:
                        print(site_status(influxd.url, site.id, now), file=out, flush=True)
                    next_status = time.monotonic() + o.status_interval_s
                time.sleep(0.2)
            print("stopping ...", file=out, flush=True)
            return 0
        finally:
            self._stop_children()
            influxd.stop()
            mosquitto.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            print("stopped.", file=out, flush=True)

    def _reap_backfill(self, marker: Path) -> None:
        for name, proc in self.children:
            if name == "backfill" and proc.poll() == 0 and not marker.exists():
                marker.write_text(f"{self.o.backfill_days}\n")
                print("backfill done: history is in InfluxDB", file=self.o.out, flush=True)

    def _stop_children(self) -> None:
        # Edges first (their outboxes keep what is unsent), the collector last (it drains its spool).
        for _, proc in reversed(self.children):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in reversed(self.children):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in 20 s; killing it", file=self.o.out)
                proc.kill()
                proc.wait(timeout=5)

    def _print_urls(self, mqtt_port: int, influx_url: str, api_port: int) -> None:
        api = f"http://127.0.0.1:{api_port}"
        first = self.sites[0]
        today = datetime.date.today()
        report_range = f"from={today - datetime.timedelta(days=30)}&to={today}"  # the backfill's 30 days
        lines = [
            "",
            "shopfloor-monitor demo is running:",
            f"  KPI API         {api}/api/sites/{first.id}/kpis",
            f"  API docs        {api}/docs",
            f"  bench page      {api}/bench/{first.id}/{first.benches[0].id}",
            f"  site report     {api}/api/reports/sites/{first.id}?{report_range}&format=pdf",
            f"  cluster report  {api}/api/reports/cluster?{report_range}&format=pdf",
            f"  health/metrics  {api}/readyz   {api}/metrics",
            f"  InfluxDB        {influx_url}  (database shopfloor)",
            f"  MQTT            mqtt://127.0.0.1:{mqtt_port}  (mosquitto_sub -p {mqtt_port} -t 'shopfloor/#' -v)",
            f"  dashboards      shopfloor dashboards render --influx-url {influx_url} --out .demo/png",
            f"  logs            {self.dir}/logs/",
            "Ctrl-C stops everything; the next run reuses the data.",
            "",
        ]
        print("\n".join(lines), file=self.o.out, flush=True)
