"""`shopfloor peak-guard`: replay the guard over a month of a simulated site; set a technician's override."""

from __future__ import annotations

import argparse
import re
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_EUR_PER_KW_YEAR = 50.0


def register(subparsers: Any, help_text: str) -> None:
    parser = subparsers.add_parser("peak-guard", help=help_text, description=help_text)
    sub = parser.add_subparsers(dest="peak_guard_command", metavar="COMMAND", required=True)
    replay = sub.add_parser(
        "replay",
        help="run the guard over a month of recorded demand and print the peaks without and with it",
        description=(
            "Replay the peak guard over a month of a simulated site (its deferrable loads are the guard's loads) "
            "and print the monthly peak without and with the guard, how often and how long each load was off, "
            "and the capacity-tariff difference. The guard's settings come from edge.yaml's peak_guard section "
            "(--config), else a month_peak target with the 2.5 kW floor and the site's deferrable loads."
        ),
    )
    replay.add_argument("--config", help="edge.yaml with a peak_guard section")
    replay.add_argument("--simulator", metavar="SITE", default="gent-repair", help="simulated site (gent-repair)")
    replay.add_argument("--month", required=True, help="local month YYYY-MM")
    replay.add_argument("--seed", type=int, default=42, help="the simulator's seed (42)")
    replay.add_argument("--step-s", type=float, default=30.0, help="time between readings (30 s)")
    replay.add_argument(
        "--eur-per-kw-year",
        type=float,
        help=f"capacity tariff; default peak_guard.tariff_eur_per_kw_year, else {DEFAULT_EUR_PER_KW_YEAR}",
    )
    replay.set_defaults(handler=_replay)
    override = sub.add_parser(
        "override",
        help="force a load on or off for a while (the guard picks it up within a second)",
        description="Write the override file of edge.yaml's peak guard; it expires by itself.",
    )
    override.add_argument("config", help="edge.yaml")
    override.add_argument("load", help="a load id of peak_guard.loads")
    override.add_argument("state", choices=["on", "off", "clear"])
    override.add_argument("--for", dest="duration", default="1h", help="how long: 30m, 2h, 90s (1h)")
    override.set_defaults(handler=_override)


def _duration_s(text: str) -> float:
    found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smh])", text.strip())
    if found is None:
        from shopfloor.cli import CliError

        raise CliError(f"--for {text!r}: give a number and s, m or h, e.g. 30m")
    return float(found[1]) * {"s": 1, "m": 60, "h": 3600}[found[2]]


def _override(args: argparse.Namespace) -> int:
    from edge.peak_guard.core import Override
    from edge.peak_guard.state import load_overrides, save_overrides
    from edge.settings import load_settings
    from shopfloor.cli import CliError

    settings, _ = load_settings(args.config)
    guard = settings.peak_guard
    if guard is None:
        raise CliError(f"{args.config} has no peak_guard section")
    ids = [load.id for load in guard.loads]
    if args.load not in ids:
        raise CliError(f"no load {args.load!r} in {args.config} peak_guard.loads: use one of {', '.join(ids)}")
    overrides = load_overrides(guard.override_path)
    if args.state == "clear":
        overrides.pop(args.load, None)
        print(f"{args.load}: back under the guard")
    else:
        until = time.time() + _duration_s(args.duration)
        overrides[args.load] = Override(args.state == "on", int(until * 1000))
        local = datetime.fromtimestamp(until, ZoneInfo(guard.timezone)).strftime("%Y-%m-%d %H:%M")
        print(f"{args.load}: {args.state} until {local}")
    save_overrides(guard.override_path, overrides)
    return 0


def _replay(args: argparse.Namespace) -> int:
    from edge.peak_guard.replay import Step, replay
    from edge.peak_guard.settings import PeakGuardSettings
    from shopfloor.cli import CliError

    try:
        from simulator.sites import default_sites
        from simulator.workshop import Workshop
    except ModuleNotFoundError as exc:
        raise CliError(
            f"the replay over the simulator needs the 'sim' extra ({exc.name} is missing). "
            "Fix: pip install 'shopfloor-monitor[sim]'"
        ) from exc

    sites = {s.id: s for s in default_sites()}
    spec = sites.get(args.simulator)
    if spec is None:
        raise CliError(f"--simulator {args.simulator!r}: use one of {', '.join(sites)}")
    if args.config:
        from edge.settings import load_settings

        edge, _ = load_settings(args.config)
        if edge.peak_guard is None:
            raise CliError(f"{args.config} has no peak_guard section")
        settings = edge.peak_guard
    else:
        if not spec.deferrable:
            raise CliError(f"simulated site {spec.id} has no deferrable load to shed: try gent-repair")
        settings = PeakGuardSettings.model_validate(
            {
                "meter": "main",
                "timezone": spec.timezone,
                "loads": [
                    {"id": d.id, "kw": d.kw, "relay": {"format": "shelly-gen2", "device": d.id}}
                    for d in spec.deferrable
                ],
            }
        )
    found = re.fullmatch(r"(\d{4})-(\d{2})", args.month)
    if found is None:
        raise CliError(f"--month {args.month!r}: give YYYY-MM")
    zone = ZoneInfo(spec.timezone)
    year, month = int(found[1]), int(found[2])
    start = int(datetime(year, month, 1, tzinfo=zone).timestamp() * 1000)
    end = int(datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone).timestamp() * 1000)
    shop = Workshop(spec, seed=args.seed)
    step_ms = int(args.step_s * 1000)
    steps = (
        Step(ts, shop.base_power_w(ts), {d.id: shop.deferrable_power_w(d, ts) for d in spec.deferrable})
        for ts in range(start, end, step_ms)
    )
    report = replay(settings, steps, spec.timezone)
    price = args.eur_per_kw_year or settings.tariff_eur_per_kw_year or DEFAULT_EUR_PER_KW_YEAR
    target = settings.target
    aim = f"fixed {target.kw} kW" if target.kind == "fixed" else f"the month's peak so far, floor {target.floor_kw} kW"
    print(
        f"Peak guard replay: {spec.id} (simulator, seed {args.seed}), {args.month}, a reading every {args.step_s:g} s"
    )
    print(f"target: {aim}; loads: {', '.join(f'{ld.id} {ld.kw:g} kW' for ld in settings.loads)}")
    print()
    print(
        f"{'month':<8} {'peak without':>13} {'peak with':>10} {'billed without':>15} {'billed with':>12} {'saved':>8}"
    )
    for row in report.months:
        saved = row.billed_without_kw - row.billed_with_kw
        print(
            f"{row.month:<8} {row.peak_without_kw:>10.2f} kW {row.peak_with_kw:>7.2f} kW "
            f"{row.billed_without_kw:>12.2f} kW {row.billed_with_kw:>9.2f} kW {saved:>5.2f} kW"
        )
    print()
    print(f"{'load':<10} {'sheds':>6} {'off, h':>7} {'longest off':>12} {'owed at end':>12}")
    for name, load in report.loads.items():
        print(
            f"{name:<10} {load.sheds:>6} {load.off_ms / 3_600_000:>7.1f} {load.longest_off_ms / 60_000:>8.1f} min "
            f"{load.owed_kwh_at_end:>8.2f} kWh"
        )
    print()
    print(
        f"energy: {report.kwh_without:.1f} kWh without, {report.kwh_with:.1f} kWh with "
        "(the guard moves a load's energy later, it does not remove it)"
    )
    print(
        f"capacity tariff at {price:.2f} EUR/kW/year: {report.yearly_saving_eur(price):.2f} EUR/year less "
        "if every month went like this one"
    )
    return 0
