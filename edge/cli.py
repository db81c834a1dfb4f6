"""``shopfloor edge``: check a config, probe a bus, read one meter, discover plugs, run the agent."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], help_text: str) -> None:
    edge = subparsers.add_parser("edge", help=help_text, description=help_text)
    sub = edge.add_subparsers(dest="edge_command", metavar="ACTION", required=True)

    check = sub.add_parser("check", help="validate edge.yaml without connecting to anything")
    check.add_argument("config", help="path to edge.yaml")
    check.set_defaults(handler=_check)

    probe = sub.add_parser(
        "probe",
        help="scan unit ids on a serial port or host:port and say which meter answers",
        description="Scan Modbus unit ids, try every known profile, print which meter answers and its voltage.",
    )
    probe.add_argument("target", help="serial port (/dev/ttyUSB0) or host:port (192.168.1.50:502)")
    probe.add_argument("--units", default="1-10", help="unit ids to scan, e.g. 1-247 or 1,2,5 (default 1-10)")
    probe.add_argument("--baudrate", type=int, default=9600, help="serial speed (default 9600)")
    probe.add_argument("--parity", choices=["N", "E", "O"], default="N", help="serial parity (default N)")
    probe.add_argument("--stopbits", type=int, choices=[1, 2], default=1, help="serial stop bits (default 1)")
    probe.add_argument("--timeout", type=float, default=0.3, help="answer timeout per request in s (default 0.3)")
    probe.add_argument("--profile-dir", action="append", default=[], help="extra folder of profile files")
    probe.set_defaults(handler=_probe)

    read = sub.add_parser("read", help="read one device of edge.yaml once and print the decoded values")
    read.add_argument("config", help="path to edge.yaml")
    read.add_argument("device", help="device id in edge.yaml")
    read.set_defaults(handler=_read)

    discover = sub.add_parser(
        "discover",
        help="list the Shelly, Tasmota and generic JSON devices publishing on the local broker",
        description="Listen on the local MQTT broker for some seconds and print an mqtt_sources: entry "
        "for every smart plug or JSON device seen (retained and live messages), ready to paste into edge.yaml.",
    )
    discover.add_argument("--config", help="take the broker (local_broker, else broker) from this edge.yaml")
    discover.add_argument("--host", help="broker host (default 127.0.0.1, or from --config)")
    discover.add_argument("--port", type=int, help="broker port (default 1883, or from --config)")
    discover.add_argument("--seconds", type=float, default=10.0, help="how long to listen (default 10)")
    discover.set_defaults(handler=_discover)

    run = sub.add_parser("run", help="run the edge agent (what the systemd unit starts)")
    run.add_argument("config", help="path to edge.yaml")
    run.set_defaults(handler=_run)


def _check(args: argparse.Namespace) -> int:
    from edge.scheduler import device_plan
    from edge.settings import load_settings

    settings, library = load_settings(args.config)
    devices = settings.devices()
    print(f"{args.config}: OK — site {settings.site}, edge {settings.edge_id}, {len(devices)} device(s)")
    for bus, device in devices:
        profile = library.get(device.profile)
        assert profile is not None, "load_settings checked the profile"
        _, plan = device_plan(device, profile)
        print(
            f"  {device.id}: unit {device.unit_id} on {bus.address}, {profile.ref}, every {device.interval_s:g} s, "
            f"{len(plan)} request(s) per poll"
        )
    for source in settings.mqtt_sources:
        where = source.device or source.topic
        print(
            f"  {source.bench}: {source.format} {where} on {settings.source_broker.host}:{settings.source_broker.port}"
        )
    for io in settings.stations_io:
        inputs = ", ".join(f"{i.address}={i.action.value}" for i in io.inputs)
        print(f"  {io.bench}: I/O unit {io.unit_id} on {io.bus or io.tcp}, {io.table} {inputs}")
    for bench in settings.benches:
        hours = bench.opening_hours or "no opening hours"
        print(f"  bench {bench.id}: energy {bench.energy}, events {bench.events}, {hours}")
    guard = settings.peak_guard
    if guard is not None:
        aim = f"{guard.target.kw:g} kW" if guard.target.kind == "fixed" else "the month's peak"
        loads = ", ".join(f"{load.id} {load.kw:g} kW" for load in guard.loads)
        floor = guard.target.floor_kw
        print(f"  peak guard on {guard.meter}: keeps quarters under {aim} (floor {floor:g} kW); {loads}")
    return 0


def _read(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from edge.scheduler import DeviceTask, Poll, device_plan, link_for, poll_device
    from edge.settings import load_settings
    from shopfloor.cli import CliError

    settings, library = load_settings(args.config)
    found = [(bus, device) for bus, device in settings.devices() if device.id == args.device]
    if not found:
        known = ", ".join(d.id for _, d in settings.devices()) or "none"
        raise CliError(f"no device {args.device!r} in {args.config}. Fix: use one of: {known}")
    bus, device = found[0]
    profile = library.get(device.profile)
    assert profile is not None
    fields, plan = device_plan(device, profile)

    async def once() -> Poll:
        link = link_for(bus)
        try:
            return await poll_device(link, DeviceTask(bus, device, profile, fields, plan))
        finally:
            link.close()

    poll = asyncio.run(once())
    print(f"{device.id}  unit {device.unit_id} on {bus.address}  {profile.ref}  {len(plan)} request(s)  {poll.quality}")
    if poll.error:
        print(f"error: {poll.error}")
        return 1
    by_quantity = {f.quantity: f for f in fields}
    print(f"{'quantity':<16}{'value':>14}  {'unit':<5} register")
    for quantity, (value, unit) in poll.values.items():
        spec = by_quantity[quantity]
        # The text the agent publishes (JSON's shortest round-trip form): a float32 keeps its 7 significant
        # digits, so the technician compares the meter's display with exactly what gets stored.
        shown = "n/a" if value is None else json.dumps(value)
        register = f"FC{spec.function:02d} {spec.address} ({spec.address:#06x}) {spec.type}"
        print(f"{quantity:<16}{shown:>14}  {unit:<5} {register}")
    return 0


def _units(text: str) -> list[int]:
    from shopfloor.cli import CliError

    units: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            units.extend(range(int(low), int(high or low) + 1))
    except ValueError:
        raise CliError(f"--units {text!r}: use numbers and ranges, e.g. 1-247 or 1,2,5") from None
    if not units or min(units) < 1 or max(units) > 247:
        raise CliError(f"--units {text!r}: unit ids are 1..247")
    return units


def _probe(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from edge.probe import describe_matches, probe

    units = _units(args.units)
    found = asyncio.run(
        probe(
            args.target,
            units,
            baudrate=args.baudrate,
            parity=args.parity,
            stopbits=args.stopbits,
            timeout_s=args.timeout,
            profile_dirs=[Path(d) for d in args.profile_dir],
        )
    )
    if not found:
        print(f"no meter answered on {args.target} (units {args.units}). Check wiring, baud rate, parity, unit ids.")
        return 1
    for unit, matches in found.items():
        print(f"unit {unit}: {describe_matches(matches)}")
    return 0


def _discover(args: argparse.Namespace) -> int:
    import sys

    from edge.discover import listen, snippet
    from edge.settings import load_settings
    from shopfloor.cli import CliError
    from shopfloor.mqtt import BrokerSettings, MqttError

    broker = load_settings(args.config)[0].source_broker if args.config else BrokerSettings()
    updates = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    broker = broker.model_copy(update=updates)
    try:
        found = listen(broker, args.seconds)
    except MqttError as exc:
        raise CliError(f"{exc}. Fix: check --host/--port, or the broker settings in edge.yaml") from None
    if not found:
        print(
            f"# no plug or JSON device published on {broker.host}:{broker.port} in {args.seconds:g} s", file=sys.stderr
        )
        return 1
    print(f"# {len(found)} device(s) seen on {broker.host}:{broker.port} in {args.seconds:g} s")
    print(snippet(found), end="")
    return 0


def _run(args: argparse.Namespace) -> int:
    from edge.agent import run_agent
    from edge.settings import load_settings

    settings, library = load_settings(args.config)
    run_agent(settings, library)
    return 0
