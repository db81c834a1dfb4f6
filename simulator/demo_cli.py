"""`shopfloor demo`: the whole system locally. `make demo` runs this after installing what is missing."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any, help_text: str) -> None:
    parser = subparsers.add_parser(
        "demo",
        help=help_text,
        description=(
            "Start mosquitto, influxd, the collector, the simulator and one edge agent per site on this machine, "
            "with data under --dir. The first run backfills history; later runs reuse it. Prints the URLs and a "
            "status line per site. Ctrl-C stops everything. Ports that are taken are replaced by free ones."
        ),
    )
    parser.add_argument("--dir", default=".demo", help="state folder (default .demo, git-ignored)")
    parser.add_argument("--sites", type=int, default=3, help="number of simulated sites (default 3)")
    parser.add_argument("--seed", type=int, default=42, help="simulation seed (default 42)")
    parser.add_argument("--backfill-days", type=float, default=30, help="history on the first run (default 30)")
    parser.add_argument("--mqtt-port", type=int, default=1883, help="0 = any free port")
    parser.add_argument("--influx-port", type=int, default=8086, help="0 = any free port")
    parser.add_argument("--api-port", type=int, default=8080, help="0 = any free port")
    parser.add_argument("--modbus-port", type=int, default=5020, help="first site's Modbus TCP port")
    parser.add_argument("--prometheus-port", type=int, default=9090, help="0 = any free port (when installed)")
    parser.add_argument("--alertmanager-port", type=int, default=9093, help="0 = any free port (when installed)")
    parser.add_argument("--poll-interval", type=float, default=2.0, help="edge poll interval in seconds")
    parser.add_argument("--duration", type=float, help="stop after this many seconds (tests)")
    parser.add_argument("--status-interval", type=float, default=5.0, help="seconds between status lines")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from simulator.demo import Demo, DemoOptions

    options = DemoOptions(
        directory=Path(args.dir),
        sites=args.sites,
        seed=args.seed,
        backfill_days=args.backfill_days,
        mqtt_port=args.mqtt_port,
        influx_port=args.influx_port,
        api_port=args.api_port,
        modbus_port=args.modbus_port,
        prometheus_port=args.prometheus_port,
        alertmanager_port=args.alertmanager_port,
        poll_interval_s=args.poll_interval,
        duration_s=args.duration,
        status_interval_s=args.status_interval,
    )
    return Demo(options).run()
