"""``shopfloor dashboards ...``: generate the JSON, push it to Grafana, render PNG previews.

Only argparse at module level; each handler imports what it needs.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

DEFAULT_STATE = Path.home() / ".cache" / "shopfloor" / "grafana-push.json"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], help_text: str) -> None:
    parser = subparsers.add_parser("dashboards", help=help_text, description=help_text)
    sub = parser.add_subparsers(dest="dashboards_command", metavar="ACTION", required=True)

    generate = sub.add_parser("generate", help="write dashboards/json/*.json from the Python definitions")
    generate.add_argument("--out", type=Path, help="directory (default: the package's dashboards/json)")
    generate.add_argument("--check", action="store_true", help="write nothing; exit 1 if a committed file is stale")
    generate.set_defaults(handler=_generate)

    push = sub.add_parser(
        "push",
        help="create or update the dashboards in a running Grafana (reports version conflicts)",
        description="Create or update every dashboard in one Grafana folder. A dashboard changed in Grafana "
        "since our last push (or not at --expect-version) is reported as a conflict and left alone; "
        "--force overwrites it.",
    )
    push.add_argument("--url", required=True, help="Grafana base URL, e.g. http://localhost:3000")
    push.add_argument(
        "--token", default=os.environ.get("GRAFANA_TOKEN"), help="service account token (default: $GRAFANA_TOKEN)"
    )
    push.add_argument("--folder", default="Shopfloor", help="folder title (default: Shopfloor)")
    push.add_argument("--folder-uid", default="shopfloor", help="folder uid (default: shopfloor)")
    push.add_argument("--expect-version", type=int, help="the version Grafana must have now (else: the last pushed)")
    push.add_argument("--force", action="store_true", help="overwrite dashboards changed in Grafana")
    push.add_argument(
        "--state", type=Path, default=DEFAULT_STATE, help=f"where pushed versions are kept (default: {DEFAULT_STATE})"
    )
    push.add_argument("--only", action="append", metavar="NAME", help="push only this dashboard (repeatable)")
    push.set_defaults(handler=_push)

    render = sub.add_parser(
        "render",
        help="run every panel's query against InfluxDB and draw one PNG per dashboard",
        description="Substitute Grafana's macros, run each panel's InfluxQL and draw the dashboards with "
        "matplotlib, in Grafana's layout and units.",
    )
    render.add_argument("--influx-url", default="http://127.0.0.1:8086", help="InfluxDB URL (default: %(default)s)")
    render.add_argument("--database", default="shopfloor", help="database (2.x/3.x: the DBRP-mapped one)")
    render.add_argument(
        "--token", default=os.environ.get("INFLUX_TOKEN"), help="2.x/3.x token (default: $INFLUX_TOKEN)"
    )
    render.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        help="output directory (default: the current directory; the repo's previews are docs/img, so write "
        "there only to update them)",
    )
    render.add_argument("--now", help="render as if it were this ISO time (default: now)")
    render.add_argument("--from", dest="time_from", help="time range start, e.g. now-7d (default: the dashboard's)")
    render.add_argument("--to", dest="time_to", help="time range end (default: the dashboard's)")
    render.add_argument(
        "--var", action="append", default=[], metavar="NAME=VALUE", help="template variable; a,b for several values"
    )
    render.add_argument("--only", action="append", metavar="NAME", help="render only this dashboard (repeatable)")
    render.set_defaults(handler=_render)


def _generate(args: argparse.Namespace) -> int:
    from dashboards import generate

    directory = args.out or generate.JSON_DIR
    if args.check:
        problems = generate.stale(directory)
        for problem in problems:
            print(problem)
        if problems:
            print("Fix: shopfloor dashboards generate")
        return 1 if problems else 0
    for path in generate.write(directory):
        print(f"wrote {path}")
    return 0


def _selected(names: list[str] | None) -> dict[str, dict[str, Any]]:
    from dashboards import generate
    from shopfloor.cli import CliError

    every = {name: dashboard.to_json() for name, dashboard in generate.dashboards().items()}
    unknown = set(names or []) - set(every)
    if unknown:
        raise CliError(f"unknown dashboard(s) {sorted(unknown)}; known: {sorted(every)}")
    return {name: every[name] for name in names} if names else every


def _push(args: argparse.Namespace) -> int:
    from dashboards.push import PushError, push_all
    from shopfloor.cli import CliError

    try:
        outcomes = push_all(
            args.url,
            args.token,
            _selected(args.only),
            args.folder_uid,
            args.folder,
            args.state,
            expect_version=args.expect_version,
            force=args.force,
        )
    except PushError as exc:
        raise CliError(str(exc)) from exc
    for outcome in outcomes:
        line = f"{outcome.status:8} {outcome.uid} ({outcome.title}) version {outcome.version}"
        print(f"{line}: {outcome.detail}" if outcome.detail else line)
    conflicts = [o for o in outcomes if o.status == "conflict"]
    if conflicts:
        print(
            f"{len(conflicts)} conflict(s), left as they are in Grafana. "
            "Fix: review the change there, then push with --force (or --expect-version N)"
        )
        return 1
    return 0


def _render(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from dashboards.evaluate import Context, default_variables, variable_value
    from dashboards.influx import InfluxError, InfluxQL
    from dashboards.render import render
    from shopfloor.cli import CliError

    now = datetime.fromisoformat(args.now).astimezone(UTC) if args.now else datetime.now(UTC)
    overrides: dict[str, str | list[str]] = {}
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--var {item!r}: expected NAME=VALUE")
        overrides[name] = value.split(",") if "," in value else value
    runner = InfluxQL(args.influx_url, args.database, args.token)
    for name, dashboard in _selected(args.only).items():
        names = {var["name"] for var in dashboard["templating"]["list"]}
        variables = default_variables(dashboard)
        variables.update({k: variable_value(dashboard, k, v) for k, v in overrides.items() if k in names})
        titles = {k: "|".join(v.values) for k, v in variables.items() if not v.regex}
        context = Context(now, variables, args.time_from, args.time_to)
        try:
            result = render(dashboard, context, runner, args.out / f"{name}.png", titles)
        except InfluxError as exc:
            raise CliError(f"{name}: {exc}") from exc
        print(f"wrote {result.path} ({result.panels} panels)")
    return 0
