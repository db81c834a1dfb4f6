"""ORDS v0.3 CSV (docs/ords.md): a pure codec (records, convert, spellings, writer), plus io.py and cli.py around it."""

from collector.ords.convert import IMPORT_SOURCE, OrdsImport, import_event_id, stored_point, to_import, to_record
from collector.ords.records import OrdsFormatError, OrdsRecord, ParsedRow, read_rows, record_from_cells
from collector.ords.spellings import COLUMNS, REQUIRED, barrier, repair_status
from collector.ords.writer import cells, write_csv

__all__ = [
    "COLUMNS",
    "IMPORT_SOURCE",
    "REQUIRED",
    "OrdsFormatError",
    "OrdsImport",
    "OrdsRecord",
    "ParsedRow",
    "barrier",
    "cells",
    "import_event_id",
    "read_rows",
    "record_from_cells",
    "repair_status",
    "stored_point",
    "to_import",
    "to_record",
    "write_csv",
]
