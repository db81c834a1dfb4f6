"""Read ORDS v0.3 CSV into normalised records; a bad row becomes a ``RowError`` with its line number.

The reader never stops at a bad row: every good row is still returned (docs/ords.md).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from collector.ords import spellings
from shopfloor.contract import Barrier, RepairStatus, find_category

_COUNTRY = re.compile(r"^[A-Z]{3}$")


class OrdsFormatError(ValueError):
    """The file is not ORDS CSV at all (its header lacks columns): nothing can be read."""


@dataclass(frozen=True, slots=True)
class OrdsRecord:
    """One ORDS row, normalised: canonical category, status and barrier; empty cells are None."""

    id: str
    data_provider: str
    country: str
    partner_product_category: str
    product_category: str | None
    product_category_id: int | None
    brand: str | None
    year_of_manufacture: int | None
    product_age: float | None
    repair_status: RepairStatus
    repair_barrier_if_end_of_life: Barrier | None
    group_identifier: str | None
    event_date: date
    problem: str | None


@dataclass(frozen=True, slots=True)
class ParsedRow:
    line: int  # 1-based line of the file where the row starts (the header is line 1)
    record: OrdsRecord | None
    error: str | None


def _optional(text: str) -> str | None:
    stripped = text.strip()
    return stripped or None


def _number(text: str, column: str, low: float, high: float) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a number") from None
    if not low <= value <= high:
        raise ValueError(f"{column} {text!r} is outside {low:g}..{high:g}")
    return value


def _category(name: str, id_text: str) -> tuple[str | None, int | None]:
    by_name = find_category(name) if name.strip() else None
    if name.strip() and by_name is None:
        raise ValueError(f"product_category {name!r} is not an ORDS or unpowered category")
    by_id = None
    if id_text.strip():
        try:
            by_id = find_category(int(float(id_text)))
        except ValueError:
            by_id = None
        if by_id is None:
            raise ValueError(f"product_category_id {id_text!r} is not an ORDS category id (1-40)")
    if by_name is not None and by_id is not None and by_name != by_id:
        raise ValueError(f"product_category {name!r} is id {by_name.ords_id}, but product_category_id is {id_text}")
    found = by_name or by_id
    return (found.name, found.ords_id) if found is not None else (None, None)


def record_from_cells(cells: dict[str, str]) -> OrdsRecord:
    """Validate and normalise one row (column -> cell text); raises ValueError naming the column."""
    for column in spellings.REQUIRED:
        if not cells[column].strip():
            raise ValueError(f"{column} is required and empty")
    country = cells["country"].strip().upper()
    if not _COUNTRY.match(country):
        raise ValueError(f"country {cells['country']!r} is not an ISO 3166 alpha-3 code like BEL")
    try:
        event_date = date.fromisoformat(cells["event_date"].strip())
    except ValueError:
        raise ValueError(f"event_date {cells['event_date']!r} is not a date YYYY-MM-DD") from None
    if not 2000 <= event_date.year < 2100:
        raise ValueError(f"event_date {cells['event_date']!r} is outside 2000..2099")
    category, category_id = _category(cells["product_category"], cells["product_category_id"])
    year = _number(cells["year_of_manufacture"], "year_of_manufacture", 1800, 2100)
    if year is not None and not year.is_integer():
        raise ValueError(f"year_of_manufacture {cells['year_of_manufacture']!r} is not a whole year")
    return OrdsRecord(
        id=cells["id"].strip(),
        data_provider=cells["data_provider"].strip(),
        country=country,
        partner_product_category=cells["partner_product_category"].strip(),
        product_category=category,
        product_category_id=category_id,
        brand=_optional(cells["brand"]),
        year_of_manufacture=None if year is None else int(year),
        product_age=_number(cells["product_age"], "product_age", 0, 200),
        repair_status=spellings.repair_status(cells["repair_status"]),
        repair_barrier_if_end_of_life=spellings.barrier(cells["repair_barrier_if_end_of_life"]),
        group_identifier=_optional(cells["group_identifier"]),
        event_date=event_date,
        problem=_optional(cells["problem"]),
    )


def read_rows(lines: Iterable[str]) -> Iterator[ParsedRow]:
    """Parse ORDS CSV text (an open file, ``newline=""``), one ``ParsedRow`` per data row.

    Columns are found by header name, so their order does not matter and extra columns
    are ignored. Raises ``OrdsFormatError`` when a column is missing from the header.
    """
    reader = csv.reader(lines)
    header = [name.strip().lstrip("\ufeff") for name in next(reader, [])]
    missing = [column for column in spellings.COLUMNS if column not in header]
    if missing:
        raise OrdsFormatError(f"line 1: the header lacks the ORDS column(s) {', '.join(missing)}")
    index = {column: header.index(column) for column in spellings.COLUMNS}
    line = reader.line_num + 1
    for cells in reader:
        start, line = line, reader.line_num + 1
        if not cells or all(not cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            yield ParsedRow(start, None, f"line {start}: {len(cells)} cells, the header has {len(header)}")
            continue
        try:
            record = record_from_cells({column: cells[i] for column, i in index.items()})
        except ValueError as error:
            yield ParsedRow(start, None, f"line {start}: {error}")
            continue
        yield ParsedRow(start, record, None)
