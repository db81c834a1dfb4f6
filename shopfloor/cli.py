"""The ``shopfloor`` console script.

Each component registers its own subcommands from ``<component>/cli.py`` with a
``register(subparsers)`` function. Those modules import only argparse at module level, so
``shopfloor edge ...`` works on a Raspberry Pi that installed only the ``edge`` extra, and a
missing extra is reported with the pip command that adds it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from shopfloor import __version__

# subcommand -> (module with register(), extra that provides its dependencies, help)
COMPONENTS: dict[str, tuple[str, str, str]] = {
    "edge": ("edge.cli", "edge", "the edge agent: poll meters and stations, publish over MQTT"),
    "collector": ("collector.cli", "collector", "the collector: MQTT to InfluxDB, HTTP API, bench page"),
    "peak-guard": ("edge.peak_guard.cli", "edge", "the peak guard: replay it over a month, override a load"),
    "ords": ("collector.ords.cli", "collector", "Open Repair Data Standard import and export"),
    "report": ("collector.reports.cli", "reports", "monthly reports of a site or the cluster, as HTML or PDF"),
    "dashboards": ("dashboards.cli", "dashboards", "Grafana dashboards: generate, push, render"),
    "simulate": ("simulator.cli", "sim", "simulate workshops: Modbus meters and bench events"),
    "demo": ("simulator.demo_cli", "all", "run the whole system locally (what `make demo` runs)"),
}

Handler = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """A user-facing failure: printed without a traceback, exit code 2."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with ``only`` the one component that will run.

    ``only`` spares a command the other components' imports: ``shopfloor edge run`` on a Pi would
    otherwise hold the ORDS converter and the dashboards' code in memory for as long as it runs.
    """
    parser = argparse.ArgumentParser(
        prog="shopfloor",
        description="Monitoring for urban circular workshops: meters, repair benches, KPIs.",
    )
    parser.add_argument("--version", action="version", version=f"shopfloor-monitor {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _register_acl(sub)
    for name, (module_name, extra, help_text) in COMPONENTS.items():
        if only is not None and name != only:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            stub = sub.add_parser(name, help=f"{help_text} [needs extra '{extra}']")
            stub.set_defaults(handler=_missing_extra(name, extra, exc))
            continue
        register = getattr(module, "register", None)
        if register is None:
            continue
        register(sub, help_text)
    return parser


def _register_acl(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    acl = sub.add_parser("acl", help="broker identities: mosquitto passwd and acl files from sites.yaml")
    acl_sub = acl.add_subparsers(dest="acl_command", metavar="COMMAND", required=True)
    generate = acl_sub.add_parser(
        "generate",
        help="write passwd, acl and one credentials file per identity (docs/security.md)",
        description="Write mosquitto's passwd (hashed as mosquitto_passwd does) and acl files for every identity in "
        "sites.yaml, and DIR/credentials/<user>.env (mode 0600) with each identity's MQTT_USERNAME and "
        "MQTT_PASSWORD. Identities that already have a credentials file keep their password unless --rotate. "
        "Reload a running mosquitto with SIGHUP afterwards.",
    )
    generate.add_argument("sites", type=Path, help="sites.yaml: the sites, their edges and plugs")
    generate.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for passwd, acl, credentials/")
    generate.add_argument("--rotate", action="store_true", help="new passwords for every identity")
    generate.add_argument(
        "--print",
        dest="print_passwords",
        action="store_true",
        help="print the passwords once on stdout instead of writing credentials files",
    )
    generate.add_argument(
        "--group",
        help="make passwd and acl readable by this group (mode 0640), e.g. 1883 for the eclipse-mosquitto image",
    )
    generate.set_defaults(handler=_acl_generate)


def _acl_generate(args: argparse.Namespace) -> int:
    from shopfloor.acl import load_sites
    from shopfloor.acl_files import write_auth

    cluster = load_sites(args.sites)
    out: Path = args.out
    try:
        written = write_auth(cluster, out, rotate=args.rotate, store=not args.print_passwords, group=args.group)
    except (LookupError, PermissionError) as exc:
        raise CliError(
            f"cannot give group {args.group} the files in {out}: {exc}. Fix: run as root, or chgrp later"
        ) from None
    made = written.credentials
    count = len(written.identities)
    print(f"wrote {out / 'passwd'} and {out / 'acl'}: {count} identities, {len(made.new)} new password(s)")
    for identity in written.identities:
        user = identity.username
        if written.folder is None:
            print(f"  {user:<28} {made.passwords[user].get_secret_value()}  ({identity.role})")
        else:
            state = "new" if user in made.new else "kept"
            print(f"  {user:<28} {state:<5} {written.folder / (user + '.env')}  ({identity.role})")
    if written.folder is None:
        print("These passwords are shown once and stored nowhere else: put each in its program's config now.")
    print("Then reload mosquitto: kill -HUP <pid> (or docker compose kill -s HUP mosquitto).")
    return 0


def _missing_extra(name: str, extra: str, exc: ModuleNotFoundError) -> Handler:
    def handler(_: argparse.Namespace) -> int:
        raise CliError(
            f"'shopfloor {name}' needs the {extra!r} extra ({exc.name} is missing). "
            f"Fix: pip install 'shopfloor-monitor[{extra}]'"
        )

    return handler


def configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # httpx logs every request at INFO: a line per InfluxDB write drowns the collector's own log. Only at -vv.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING if verbosity < 2 else logging.NOTSET)


def _component_named(argv: Sequence[str]) -> str | None:
    """The component the command line runs: its first word that is not an option (the top level's take no value)."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    return command if command in COMPONENTS else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(only=_component_named(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    configure_logging(args.verbose)
    # Late import: the config error type lives with the config loader, used by every component.
    from shopfloor.config import ConfigError

    try:
        return handler(args)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        extra = COMPONENTS.get(args.command, ("", "all", ""))[1]
        print(
            f"error: 'shopfloor {args.command}' needs the {extra!r} extra ({exc.name} is missing). "
            f"Fix: pip install 'shopfloor-monitor[{extra}]'",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
