"""``shopfloor ords import|export``: ORDS v0.3 CSV into InfluxDB and back out (docs/ords.md).

Only argparse at module level; each handler imports what it needs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

IMPORT_HELP = (
    "backfill historical repair records from an ORDS v0.3 CSV into InfluxDB, as 'finished' repair events of SITE. "
    "Spellings of repair_status and barrier are normalised; a bad row is reported with its line number and the "
    "good rows are still imported. Importing a file twice writes each record once. Then the KPI day summaries "
    "of the days it wrote are stored (InfluxDB 1.x, after `shopfloor collector init-db`), so the KPI API "
    "answers years of history from them. "
    "Exit code 0: every row imported; 1: some rows were bad or refused (listed on stderr); 2: nothing could be done."
)
EXPORT_HELP = (
    "write the finished repairs of SITE between --from and --to as ORDS v0.3 CSV (stdout, or -o FILE). "
    "Items finished with only a reuse outcome were no repair attempt and give no row."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], help_text: str) -> None:
    parser = subparsers.add_parser("ords", help=help_text, description=help_text)
    sub = parser.add_subparsers(dest="ords_command", metavar="ACTION", required=True)

    load = sub.add_parser("import", help="backfill an ORDS v0.3 CSV into InfluxDB", description=IMPORT_HELP)
    load.add_argument("file", type=Path, help="ORDS v0.3 CSV with the header row (UTF-8 unless --encoding)")
    load.add_argument(
        "--encoding",
        default="utf-8",
        help="text encoding of FILE (default utf-8; a byte order mark is dropped), e.g. latin-1 or cp1252",
    )
    load.add_argument("--site", required=True, help="site id the records belong to (tag 'site')")
    load.add_argument("--config", type=Path, required=True, help="collector.yaml: which InfluxDB to write to")
    load.add_argument("--station", default="ords", help="station id stored on the events (default: ords)")
    load.add_argument("--batch-size", type=int, default=5000, help="lines per InfluxDB write (default 5000)")
    load.add_argument("--quiet", action="store_true", help="no progress bar")
    load.set_defaults(handler=_import)

    dump = sub.add_parser("export", help="write the site's repairs as ORDS v0.3 CSV", description=EXPORT_HELP)
    dump.add_argument("--site", required=True, help="site id")
    dump.add_argument("--config", type=Path, required=True, help="collector.yaml: which InfluxDB to read")
    dump.add_argument(
        "--from",
        dest="start",
        required=True,
        help="first day YYYY-MM-DD (local to the site), or an RFC 3339 time",
    )
    dump.add_argument("--to", dest="end", required=True, help="last day YYYY-MM-DD (included), or an RFC 3339 time")
    dump.add_argument("-o", "--output", type=Path, help="CSV file to write (default: stdout)")
    dump.add_argument("--data-provider", help="data_provider of live rows (default: sites.<site>.data_provider)")
    dump.add_argument("--country", help="ISO 3166 alpha-3 country of live rows (default: sites.<site>.country)")
    dump.set_defaults(handler=_export)


def _import(args: argparse.Namespace) -> int:
    from collector.ords.io import import_file, summarize_days, text_encoding
    from collector.settings import load_settings
    from shopfloor.cli import CliError
    from shopfloor.contract import is_valid_id

    if not is_valid_id(args.site) or not is_valid_id(args.station):
        raise CliError("--site and --station must be ids: letters, digits, '_', '.', '-' (at most 64)")
    if not args.file.is_file():
        raise CliError(f"{args.file}: no such file")
    if args.batch_size < 1:
        raise CliError("--batch-size must be at least 1")
    encoding = text_encoding(args.encoding)
    settings = load_settings(args.config)
    summary = import_file(
        args.file,
        settings,
        site=args.site,
        station=args.station,
        batch_size=args.batch_size,
        progress=not args.quiet,
        encoding=encoding,
    )
    print(summary.text(args.file))
    if summary.imported:
        note = summarize_days(settings, args.site, summary.days)
        if note is not None:
            print(note)
    return 0 if summary.ok else 1


def _export(args: argparse.Namespace) -> int:
    import sys

    from collector.ords.io import export_csv, parse_bound
    from collector.settings import load_settings
    from shopfloor.cli import CliError
    from shopfloor.contract import is_valid_id

    if not is_valid_id(args.site):
        raise CliError("--site must be an id: letters, digits, '_', '.', '-' (at most 64)")
    settings = load_settings(args.config)
    facts = settings.site(args.site)
    start = parse_bound(args.start, facts.timezone, end=False)
    end = parse_bound(args.end, facts.timezone, end=True)
    if start >= end:
        raise CliError("--from must be before --to")
    provider = args.data_provider or facts.data_provider or args.site
    country = (args.country or facts.country or "").upper()
    if args.output is None:
        rows = export_csv(settings, args.site, start, end, sys.stdout, data_provider=provider, country=country)
    else:
        try:
            out = args.output.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise CliError(f"-o {args.output}: cannot be written ({exc.strerror})") from None
        with out:
            rows = export_csv(settings, args.site, start, end, out, data_provider=provider, country=country)
    print(f"{rows} ORDS row(s) written{f' to {args.output}' if args.output else ''}", file=sys.stderr)
    return 0
