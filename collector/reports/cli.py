"""``shopfloor report``: a site's or the cluster's report for a month, a quarter or a range, as HTML or PDF.

Only argparse at module level; the handler imports what it needs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = (
    "Write the report of one site (--site) or of every site side by side (--cluster) for a month, a quarter "
    "or --from/--to days, as one self-contained HTML file or an A4 PDF. Every figure is the KPI API's for "
    "the same range (docs/reports.md). Reads InfluxDB and the site facts from collector.yaml."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], help_text: str) -> None:
    parser = subparsers.add_parser("report", help=help_text, description=DESCRIPTION)
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--site", help="site id: the plant manager's page")
    who.add_argument("--cluster", action="store_true", help="every site side by side: the coordinator's page")
    parser.add_argument("--month", help="a local calendar month, YYYY-MM")
    parser.add_argument("--quarter", help="a quarter, YYYY-Qn (e.g. 2026-Q4)")
    parser.add_argument("--from", dest="start", help="first day YYYY-MM-DD (with --to; both included)")
    parser.add_argument("--to", dest="end", help="last day YYYY-MM-DD (included)")
    parser.add_argument("--format", choices=["html", "pdf"], default="html", help="html (default) or pdf")
    parser.add_argument("--out", type=Path, help="file to write (default: <site or cluster>-<period>.<format>)")
    parser.add_argument("--lang", default="en", help="label language: en (default), nl, fr")
    parser.add_argument(
        "--config", type=Path, default=Path("collector.yaml"), help="collector.yaml (default: ./collector.yaml)"
    )
    parser.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    import sys

    from collector.influx.client import InfluxError
    from collector.influx.connect import make_client
    from collector.kpi.queries import KpiQueries
    from collector.reports.build import ReportFormat, cluster_report, cluster_timezone, site_report
    from collector.reports.labels import LabelError, catalogue
    from collector.reports.periods import PeriodError, choose
    from collector.settings import load_settings
    from collector.storage.dead_letters import DeadLetterStore
    from shopfloor.cli import CliError
    from shopfloor.contract import is_valid_id

    if args.site is not None and not is_valid_id(args.site):
        raise CliError("--site must be an id: letters, digits, '_', '.', '-' (at most 64)")
    try:
        catalogue(args.lang)
    except LabelError as exc:
        raise CliError(f"--lang: {exc}") from None
    settings = load_settings(args.config)
    zone = settings.site(args.site).timezone if args.site else cluster_timezone(settings)
    try:
        period = choose(zone, month_text=args.month, quarter_text=args.quarter, start=args.start, end=args.end)
    except PeriodError as exc:
        raise CliError(str(exc)) from None
    form = ReportFormat(args.format)
    writer = make_client(settings.influx)
    store = DeadLetterStore.open(settings.dead_letters) if settings.dead_letters.path.exists() else None
    try:
        queries = KpiQueries(writer)
        if args.site:
            prefix = settings.broker.prefix
            count = (
                (lambda site, start, end: store.count_for_site(prefix, site, start, end)) if store is not None else None
            )
            rendered = site_report(queries, settings, args.site, period, form, args.lang, count)
        else:
            rendered = cluster_report(queries, settings, period, form, args.lang)
    except InfluxError as exc:
        raise CliError(f"InfluxDB at {writer.target} could not answer: {exc}") from None
    finally:
        writer.close()
        if store is not None:
            store.close()
    out = args.out or Path(f"{args.site or 'cluster'}-{period.label}.{rendered.suffix}")
    out.write_bytes(rendered.content)
    pages = f", {rendered.pages} page(s)" if rendered.pages is not None else ""
    print(f"{out}: {args.site or 'cluster'} report, {period.label}{pages}", file=sys.stderr)
    return 0
