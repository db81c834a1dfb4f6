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

from shopfloor import __version__

# subcommand -> (module with register(), extra that provides its dependencies, help)
COMPONENTS: dict[str, tuple[str, str, str]] = {
    "edge": ("edge.cli", "edge", "the edge agent: poll meters and stations, publish over MQTT"),
    "collector": ("collector.cli", "collector", "the collector: MQTT to InfluxDB, HTTP API, bench page"),
    "ords": ("collector.ords_cli", "collector", "Open Repair Data Standard import and export"),
    "report": ("collector.reports.cli", "reports", "monthly reports of a site or the cluster, as HTML or PDF"),
    "dashboards": ("dashboards.cli", "dashboards", "Grafana dashboards: generate, push, render"),
    "simulate": ("simulator.cli", "sim", "simulate workshops: Modbus meters and bench events"),
    "demo": ("simulator.demo_cli", "all", "run the whole system locally (what `make demo` runs)"),
}

Handler = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """A user-facing failure: printed without a traceback, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shopfloor",
        description="Monitoring for urban circular workshops: meters, repair benches, KPIs.",
    )
    parser.add_argument("--version", action="version", version=f"shopfloor-monitor {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, extra, help_text) in COMPONENTS.items():
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
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
