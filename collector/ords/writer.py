"""Write ORDS v0.3 CSV: the 14 columns in the standard's order, numbers without a spurious '.0',
barriers spelled as the 2025 table schema spells them. Text cells are written as stored: a newline stays one."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import TextIO

from collector.ords.records import OrdsRecord
from collector.ords.spellings import COLUMNS, export_barrier


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def cells(record: OrdsRecord) -> list[str]:
    barrier = record.repair_barrier_if_end_of_life
    return [
        record.id,
        record.data_provider,
        record.country,
        record.partner_product_category,
        record.product_category or "",
        _number(record.product_category_id),
        record.brand or "",
        _number(record.year_of_manufacture),
        _number(record.product_age),
        record.repair_status.value,
        export_barrier(barrier) if barrier is not None else "",
        record.group_identifier or "",
        record.event_date.isoformat(),
        record.problem or "",
    ]


def write_csv(records: Iterable[OrdsRecord], out: TextIO) -> int:
    """Write a header and one row per record to ``out`` (opened with ``newline=""``); returns the row count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for record in records:
        writer.writerow(cells(record))
        count += 1
    return count
