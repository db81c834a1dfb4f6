"""ORDS import and export against InfluxDB: the I/O around the pure codec of :mod:`collector.ords`.

Import writes straight to InfluxDB through the collector's InfluxDB client, in batches, with the same line
protocol as live events (``collector.points.event_line``) plus the ORDS-only fields. Export reads
the stored ``finished`` points back with InfluxQL, a quarter at a time, and writes them as ORDS rows.
"""

from __future__ import annotations

import codecs
import csv
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from collector.drain.delivery import Delivered, RetryLater, deliver
from collector.influx.client import InfluxClient, InfluxError
from collector.influx.connect import make_client
from collector.kpi.queries import KpiQueries, Range
from collector.kpi.summaries import SETTLE_MS, DaySummaries, day_bounds, local_midnights
from collector.ords import OrdsFormatError, OrdsRecord, read_rows, to_import, to_record, write_csv
from collector.points import event_line
from collector.settings import CollectorSettings, InfluxV1Settings
from shopfloor.backoff import backoff_s
from shopfloor.cli import CliError

WRITE_ATTEMPTS = 5
EXPORT_CHUNK_MS = 92 * 86_400_000


@dataclass
class ImportSummary:
    rows: int = 0
    imported: int = 0
    bad: list[str] = field(default_factory=list)
    days: set[int] = field(default_factory=set)  # the local days (midnight, ms) of the records read

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


READ_CHUNK = 1 << 20


def text_encoding(name: str) -> str:
    """The codec to read a CSV with: UTF-8 reads (and drops) a spreadsheet's byte order mark too."""
    try:
        found = codecs.lookup(name).name
    except LookupError:
        raise CliError(f"--encoding {name!r} is not a text encoding; use e.g. utf-8, latin-1 or cp1252") from None
    return "utf-8-sig" if found in {"utf-8", "utf-8-sig"} else found


def _undecodable(path: Path, encoding: str, error: UnicodeDecodeError) -> CliError:
    """Where in the file, in bytes and lines, the first byte that is not ``encoding`` sits."""
    # A byte order mark is valid UTF-8: plain UTF-8 keeps the offsets those of the file.
    decoder = codecs.getincrementaldecoder("utf-8" if encoding == "utf-8-sig" else encoding)()
    offset = newlines = 0
    bad = error.object[error.start : error.start + 1]
    with path.open("rb") as raw:
        while chunk := raw.read(READ_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as found:
                # The decoder may hold back a few bytes of an unfinished character from the chunk before.
                held = len(found.object) - len(chunk)
                offset += found.start - held
                newlines += chunk[: max(0, found.start - held)].count(b"\n")
                bad = found.object[found.start : found.start + 1]
                break
            offset += len(chunk)
            newlines += chunk.count(b"\n")
    name = "UTF-8" if encoding == "utf-8-sig" else encoding
    hint = "save it as UTF-8 (in a spreadsheet: CSV UTF-8)"
    if encoding == "utf-8-sig":
        hint += ", or pass --encoding latin-1 (or cp1252) if that is how it was saved"
    return CliError(
        f"{path}: not {name}: byte 0x{bad.hex()} at offset {offset} (line {newlines + 1}) cannot be read. "
        f"Is it an ORDS v0.3 CSV? Fix: {hint}"
    )


def count_records(path: Path, encoding: str) -> int:
    """CSV records after the header, as ``read_rows`` yields them (a multi-line cell is one record).

    It reads the whole file first, so a file that is not text in ``encoding`` is refused before anything is written.
    """
    try:
        with path.open(newline="", encoding=encoding) as source:
            reader = csv.reader(source)
            next(reader, None)
            return sum(1 for cells in reader if any(cell.strip() for cell in cells))
    except UnicodeDecodeError as exc:
        raise _undecodable(path, encoding, exc) from None
    except csv.Error as exc:
        raise CliError(f"{path}: line {reader.line_num}: not CSV ({exc}). Is it an ORDS v0.3 CSV?") from None
    except OSError as exc:
        raise CliError(f"{path}: cannot be read ({exc.strerror}). Fix: check the path and its permissions") from None


def import_file(
    path: Path,
    settings: CollectorSettings,
    *,
    site: str,
    station: str,
    batch_size: int,
    progress: bool,
    encoding: str = "utf-8-sig",
) -> ImportSummary:
    from tqdm import tqdm

    total = count_records(path, encoding)
    summary = ImportSummary()
    timezone = settings.site(site).timezone
    client = make_client(settings.influx)
    batch: list[tuple[int, str]] = []
    try:
        with (
            path.open(newline="", encoding=encoding) as source,
            tqdm(total=total, unit="row", file=sys.stderr, disable=not progress, desc="ORDS import") as bar,
        ):
            try:
                rows = read_rows(source)
                for row in rows:
                    bar.update(1)
                    summary.rows += 1
                    if row.record is None:
                        summary.bad.append(row.error or f"line {row.line}: unreadable")
                        tqdm.write(summary.bad[-1], file=sys.stderr)
                        continue
                    imported = to_import(row.record, station)
                    summary.days.add(day_bounds(imported.event.ts_ms, timezone)[0])
                    batch.append((row.line, event_line(site, imported.event, None, imported.extra_fields)))
                    if len(batch) >= batch_size:
                        _send(client, batch, summary)
                        batch = []
            except OrdsFormatError as exc:
                raise CliError(
                    f"{path}: {exc}. Fix: is it an ORDS v0.3 CSV? Its first line names the 14 columns (docs/ords.md)"
                ) from None
            if batch:
                _send(client, batch, summary)
    finally:
        client.close()
    return summary


def summarize_days(settings: CollectorSettings, site: str, days: Iterable[int]) -> str | None:
    """Store the KPI day summaries of the settled days an import wrote, from the first of ``days`` to the
    last (docs/kpis.md), so the KPI API answers from them rather than from raw data; what happened, for the
    user (None: nothing to do)."""
    if not isinstance(settings.influx, InfluxV1Settings):
        return None  # the read model's summaries live in an InfluxDB 1.x retention policy
    facts = settings.site(site)
    now = int(time.time() * 1000)
    written = sorted(days)
    if not written:
        return None
    # Every day from the first to the last one written, also the days without a record: with their (empty)
    # summaries the stored days are next to each other, and a range over the years is one read of them.
    settled = [
        day
        for day in [written[0], *local_midnights(written[0], written[-1] + 1, facts.timezone)]
        if day_bounds(day, facts.timezone)[1] + SETTLE_MS <= now
    ]
    if not settled:
        return None
    client = make_client(settings.influx)
    writer = DaySummaries.writer_for(settings.influx)
    try:
        stored = DaySummaries(client, writer).summarize_days(site, facts, settled, chunk_days=92)
    except InfluxError as exc:
        fix = " Fix: run `shopfloor collector init-db`." if "retention policy not found" in str(exc) else ""
        return (
            f"KPI day summaries not written: {exc}.{fix} The KPI API computes those days from raw data meanwhile; "
            "the collector summarizes them after its next start."
        )
    finally:
        client.close()
        writer.close()
    return f"{stored} KPI day summaries written (the KPI API reads them)"


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
