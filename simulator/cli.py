"""`shopfloor simulate`: serve simulated workshops' meters over Modbus TCP and publish their bench events."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any, help_text: str) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help=help_text,
        description=(
            "Simulate N workshops (an electrical-repair shop, a textile atelier, a furniture remake workshop, ...). "
            "Each site serves a main meter (SDM630, unit 1) and one sub-meter per bench (SDM120/EM340, units 2..) "
            "on Modbus TCP port modbus_port+i, and publishes its bench events to MQTT. Deterministic for a seed. "
            "--backfill-days publishes history faster than real time, as contract batches."
        ),
    )
    parser.add_argument("--config", help="simulate.yaml (flags override it)")
    parser.add_argument("--sites", type=int, help="number of sites (default 3)")
    parser.add_argument("--seed", type=int, help="random seed (default 42)")
    parser.add_argument("--broker", metavar="HOST:PORT", help="MQTT broker (default 127.0.0.1:1883)")
    parser.add_argument("--prefix", help="topic prefix (default shopfloor)")
    parser.add_argument("--modbus-host", help="address the Modbus servers bind (default 127.0.0.1)")
    parser.add_argument("--modbus-port", type=int, help="first site's Modbus TCP port (default 5020)")
    parser.add_argument("--backfill-days", type=float, help="publish this many days of history first")
    parser.add_argument("--no-live", action="store_true", help="stop after the backfill")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from simulator.main import run_from_args

    return run_from_args(args)
