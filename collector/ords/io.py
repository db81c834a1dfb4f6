"""ORDS import and export against InfluxDB: the I/O around the pure codec of :mod:`collector.ords`.

Import writes straight to InfluxDB through the collector's InfluxDB client, in batches, with the same line
protocol as live events (``collector.points.event_line``) plus the ORDS-only fields. Export reads
the stored ``finished`` points back with InfluxQL, a quarter at a time, and writes them as ORDS rows.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from collector.drain.delivery import Delivered, RetryLater, deliver
from collector.influx.client import InfluxClient, InfluxError
from collector.influx.connect import make_client
from collector.kpi.queries import KpiQueries, Range
from collector.ords import OrdsFormatError, OrdsRecord, read_rows, to_import, to_record, write_csv
from collector.points import event_line
from collector.settings import CollectorSettings
from shopfloor.backoff import backoff_s
from shopfloor.cli import CliError

WRITE_ATTEMPTS = 5
EXPORT_CHUNK_MS = 92 * 86_400_000


@dataclass
class ImportSummary:
    rows: int = 0
    imported: int = 0
    bad: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.bad

    def text(self, path: Path) -> str:
        return f"{path}: {self.imported} of {self.rows} row(s) imported, {len(self.bad)} bad"


def _send(client: InfluxClient, batch: list[tuple[int, str]], summary: ImportSummary) -> None:
    """Write one batch; InfluxDB's refusals become bad rows with their line numbers."""
    lines = [line for _, line in batch]
    for attempt in range(WRITE_ATTEMPTS):
        try:
            outcome = deliver(client, lines, Delivered())
            break
        except RetryLater as exc:
            if attempt == WRITE_ATTEMPTS - 1:
                raise CliError(
                    f"InfluxDB at {client.target} is not answering ({exc.reason}); "
                    f"{summary.imported} row(s) were imported before. Run the import again: it is idempotent"
                ) from None
            time.sleep(backoff_s(attempt, 0.5, 8.0, rand=None))
    refused = dict(outcome.rejected)
    for number, line in batch:
        if line in refused:
            summary.bad.append(f"line {number}: InfluxDB refused the record: {refused[line]}")
            print(summary.bad[-1], file=sys.stderr)
        else:
            summary.imported += 1


def import_file(
    path: Path, settings: CollectorSettings, *, site: str, station: str, batch_size: int, progress: bool
) -> ImportSummary:
    from tqdm import tqdm

    with path.open(newline="", encoding="utf-8-sig") as counting:
        total = max(0, sum(1 for _ in counting) - 1)
    summary = ImportSummary()
    client = make_client(settings.influx)
    batch: list[tuple[int, str]] = []
    try:
        with (
            path.open(newline="", encoding="utf-8-sig") as source,
            tqdm(total=total, unit="line", file=sys.stderr, disable=not progress, desc="ORDS import") as bar,
        ):
            try:
                rows = read_rows(source)
                last_line = 1
                for row in rows:
                    bar.update(row.line - last_line)
                    last_line = row.line
                    summary.rows += 1
                    if row.record is None:
                        summary.bad.append(row.error or f"line {row.line}: unreadable")
                        tqdm.write(summary.bad[-1], file=sys.stderr)
                        continue
                    imported = to_import(row.record, station)
                    batch.append((row.line, event_line(site, imported.event, None, imported.extra_fields)))
                    if len(batch) >= batch_size:
                        _send(client, batch, summary)
                        batch = []
            except OrdsFormatError as exc:
                raise CliError(f"{path}: {exc}") from None
            if batch:
                _send(client, batch, summary)
            bar.update(total - bar.n)
    finally:
        client.close()
    return summary


def parse_bound(text: str, timezone: str, *, end: bool) -> int:
    """``YYYY-MM-DD`` (a local day; as an end, the day is included) or RFC 3339 -> Unix ms."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            return int(datetime.combine(day, datetime.min.time(), ZoneInfo(timezone)).timestamp() * 1000)
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"{text!r} is not a date YYYY-MM-DD or an RFC 3339 time") from None
    if when.tzinfo is None:
        raise CliError(f"{text!r} needs a UTC offset, e.g. 2026-03-01T00:00:00+01:00")
    return int(when.timestamp() * 1000)


def _chunks(start_ms: int, end_ms: int) -> Iterator[Range]:
    while start_ms < end_ms:
        stop = min(end_ms, start_ms + EXPORT_CHUNK_MS)
        yield Range(start_ms, stop)
        start_ms = stop


def stored_records(
    client: InfluxClient, site: str, start_ms: int, end_ms: int, *, data_provider: str, country: str, timezone: str
) -> Iterator[OrdsRecord]:
    queries = KpiQueries(client)
    for window in _chunks(start_ms, end_ms):
        try:
            points = queries.finished_points(site, window)
        except InfluxError as exc:
            raise CliError(f"InfluxDB could not answer: {exc}") from None
        for point in points:
            if not point.get("country") and not country:
                raise CliError(
                    f"a live repair of {site} needs a country: set sites.{site}.country in collector.yaml "
                    "or pass --country BEL"
                )
            record = to_record(point, site=site, data_provider=data_provider, country=country, timezone=timezone)
            if record is not None:
                yield record


def export_csv(
    settings: CollectorSettings, site: str, start_ms: int, end_ms: int, out: TextIO, *, data_provider: str, country: str
) -> int:
    client = make_client(settings.influx)
    try:
        records = stored_records(
            client,
            site,
            start_ms,
            end_ms,
            data_provider=data_provider,
            country=country,
            timezone=settings.site(site).timezone,
        )
        return write_csv(records, out)
    finally:
        client.close()
