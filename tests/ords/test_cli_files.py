"""``shopfloor ords import|export`` run as a real process against a real influxd, on the files a user has
(issue 16): a PNG or a Latin-1 CSV given by mistake, cells with real newlines and typed ``\\n``, a progress
bar over multi-line cells, and an export checked against the Open Repair Alliance's 2025 table schema.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from collector.ords import COLUMNS
from collector.points import event_line
from shopfloor.contract import Barrier, EventType, RepairStatus, StationEvent
from simulator.services import Influxd
from tests.harness.cli import shopfloor
from tests.harness.data import ords_dir
from tests.harness.influx import InfluxTestDB

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCHEMA = ords_dir() / "tableschema_aggregate_202507.json"
HEADER = list(COLUMNS)  # the ORDS v0.3 columns, in the order the export writes them
TEXTS = {
    "cafe-1": "Power supply dead.\nReplaced the fuse.\r\nWorks again.",  # real newlines, one of them CRLF
    "cafe-2": r"Typed a backslash-n: C:\new\nothing here \n is two characters",
    "cafe-3": 'Both: "quoted"\nand typed \\n, then \\\\ a double backslash',
}


@pytest.fixture
def config(tmp_path: Path, influxd: Influxd) -> Iterator[Path]:
    db = InfluxTestDB(influxd.url, f"ords_cli_{uuid.uuid4().hex[:8]}")
    db.create()
    path = tmp_path / "collector.yaml"
    path.write_text(
        f"""collector_id: ords-cli-test
influx:
  url: {influxd.url}
  database: {db.database}
spool:
  path: spool.sqlite
dead_letters:
  path: dead.sqlite
sites:
  cafe:
    data_provider: Repair Cafe Gent
    country: BEL
"""
    )
    try:
        yield path
    finally:
        db.drop()


def ords_row(ords_id: str, **cells: str) -> list[str]:
    row = {
        "id": ords_id,
        "data_provider": "Repair Cafe Gent",
        "country": "BEL",
        "partner_product_category": "Laptop",
        "product_category": "Laptop",
        "product_category_id": "16",
        "brand": "Dell",
        "year_of_manufacture": "2015",
        "product_age": "9",
        "repair_status": "Fixed",
        "repair_barrier_if_end_of_life": "",
        "group_identifier": "Gent",
        "event_date": "2025-03-08",
        "problem": "",
    }
    row.update(cells)
    return [row[column] for column in HEADER]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows([HEADER, *rows])
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def read_export(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def export(config: Path, tmp_path: Path, site: str = "cafe") -> list[dict[str, str]]:
    out = tmp_path / f"export-{site}.csv"
    done = shopfloor(
        "ords", "export", "--site", site, "--config", str(config), "--from", "2025-01-01", "--to", "2025-12-31",
        "-o", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return read_export(out)


def test_a_png_given_as_csv_is_refused_with_the_file_offset_and_fix(config: Path, tmp_path: Path) -> None:
    png = tmp_path / "photo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    done = shopfloor("ords", "import", str(png), "--site", "cafe", "--config", str(config))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert str(png) in done.stderr and "byte 0x89 at offset 0" in done.stderr, done.stderr
    assert "save it as UTF-8" in done.stderr and "--encoding" in done.stderr, done.stderr


def test_a_latin1_csv_is_refused_with_the_offset_and_imports_with_encoding_latin1(config: Path, tmp_path: Path) -> None:
    rows = [ords_row("cafe-1"), ords_row("cafe-2", brand="Müller", problem="Kabel défect")]
    latin = write_csv(tmp_path / "latin.csv", rows, encoding="latin-1")
    offset = latin.read_bytes().index("ü".encode("latin-1"))
    done = shopfloor("ords", "import", str(latin), "--site", "cafe", "--config", str(config))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"{latin}: not UTF-8: byte 0xfc at offset {offset} (line 3)" in done.stderr, done.stderr
    assert "--encoding latin-1" in done.stderr

    done = shopfloor("ords", "import", str(latin), "--site", "cafe", "--config", str(config), "--encoding", "latin-1")
    assert done.returncode == 0, done.stderr
    assert "2 of 2 row(s) imported" in done.stdout
    by_id = {row["id"]: row for row in export(config, tmp_path)}
    assert by_id["cafe-2"]["brand"] == "Müller" and by_id["cafe-2"]["problem"] == "Kabel défect"

    done = shopfloor("ords", "import", str(latin), "--site", "cafe", "--config", str(config), "--encoding", "klingon")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "--encoding 'klingon' is not a text encoding" in done.stderr


def test_text_cells_round_trip_exactly_and_the_progress_bar_counts_records(config: Path, tmp_path: Path) -> None:
    rows = [ords_row(ords_id, problem=text) for ords_id, text in TEXTS.items()]
    source = write_csv(tmp_path / "multiline.csv", rows)
    assert len(source.read_text().splitlines()) > len(rows) + 1  # the cells really span lines
    done = shopfloor("ords", "import", str(source), "--site", "cafe", "--config", str(config))
    assert done.returncode == 0, done.stderr
    counts = re.findall(r"(\d+)/(\d+) \[", done.stderr)
    assert counts and counts[-1] == ("3", "3"), done.stderr

    exported = {row["id"]: row["problem"] for row in export(config, tmp_path)}
    assert exported == TEXTS

    # And through InfluxDB once more: the second export is the first, byte for byte.
    first = tmp_path / "export-cafe.csv"
    done = shopfloor("ords", "import", str(first), "--site", "copy", "--config", str(config), "--quiet")
    assert done.returncode == 0, done.stderr
    export(config, tmp_path, site="copy")
    assert (tmp_path / "export-copy.csv").read_bytes() == first.read_bytes()


def schema_problems(rows: list[dict[str, str]], schema_path: Path) -> list[str]:
    """Check rows against a Frictionless table schema as the ORA publishes it.

    Hand-read rather than through a Frictionless library: the ORA file writes its enums as one string
    ("[Fixed, Repairable, ...]") and its numbers as strings, which a strict schema loader refuses.
    ``id``'s pattern (``^[a-z]+-[0-9]+$``) is left out: it is the numbering the ORA gives when it
    aggregates (even the Restart Project's own v0.3 file has ``restart_3781``); a provider keeps its ids.
    """
    schema = json.loads(schema_path.read_text())
    [resource] = [r for r in schema["resources"] if r["name"].startswith("OpenRepairData_v0.3_aggregate")]
    fields = resource["schema"]["fields"]
    problems: list[str] = []
    names = [field["name"] for field in fields]
    if rows and list(rows[0]) != names:
        problems.append(f"columns {list(rows[0])} are not the schema's {names}")
    for number, row in enumerate(rows, start=2):
        for field in fields:
            name, value = field["name"], row.get(field["name"], "")
            constraints = field.get("constraints", {})
            if value in field.get("missingValues", []) or (value == "" and name not in {"id", "repair_status"}):
                continue
            kind = field["type"]
            if kind == "integer" and not re.fullmatch(r"-?\d+", value):
                problems.append(f"line {number}: {name} {value!r} is not an integer")
            if kind == "number" and not re.fullmatch(r"-?\d+(\.\d+)?", value):
                problems.append(f"line {number}: {name} {value!r} is not a number")
            if kind == "date":
                try:
                    date.fromisoformat(value)
                except ValueError:
                    problems.append(f"line {number}: {name} {value!r} is not yyyy-mm-dd")
            pattern = constraints.get("pattern")
            if pattern and name != "id" and not re.fullmatch(pattern, value):
                problems.append(f"line {number}: {name} {value!r} does not match {pattern}")
            enum = constraints.get("enum")
            if enum is not None:
                allowed = enum if isinstance(enum, list) else [v.strip() for v in enum.strip("[]").split(",")]
                if value not in allowed:
                    problems.append(f"line {number}: {name} {value!r} is not one of {allowed}")
    ids = [row["id"] for row in rows]
    if len(set(ids)) != len(ids):
        problems.append("id is not unique")
    return problems


def test_export_passes_the_2025_table_schema_and_import_takes_both_spellings(
    config: Path, tmp_path: Path, influxd: Influxd
) -> None:
    spellings = {
        "cafe-11": "No way to open the product",  # published data up to 2022
        "cafe-12": "No way to open product",  # 2025 schema
        "cafe-13": "Item too worn out",
        "cafe-14": "Too worn out",
        "cafe-15": "Spare parts not available",
    }
    rows = [
        ords_row(ords_id, repair_status="End of life", repair_barrier_if_end_of_life=barrier)
        for ords_id, barrier in spellings.items()
    ]
    done = shopfloor("ords", "import", str(write_csv(tmp_path / "b.csv", rows)), "--site", "cafe", "--config",
                     str(config), "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    # A live repair from a bench page, stored as the collector stores it: the contract's spelling.
    live = StationEvent(
        event_id=str(uuid.uuid4()),
        ts_ms=1_741_435_200_000,
        station="bench-1",
        type=EventType.FINISHED,
        item_id="bench-1-m7yq2k-a81f0c",
        category="Laptop",
        repair_status=RepairStatus.END_OF_LIFE,
        barrier=Barrier.NO_WAY_TO_OPEN,
        source="bench-page",
    )
    database = re.search(r"database: (\S+)", config.read_text())
    assert database is not None
    InfluxTestDB(influxd.url, database.group(1)).write(event_line("cafe", live, None) + "\n", precision="ns")

    exported = export(config, tmp_path)
    assert len(exported) == len(rows) + 1
    assert schema_problems(exported, SCHEMA) == []
    barriers = {row["id"]: row["repair_barrier_if_end_of_life"] for row in exported}
    assert barriers == {
        "cafe-11": "No way to open product",
        "cafe-12": "No way to open product",
        "cafe-13": "Too worn out",
        "cafe-14": "Too worn out",
        "cafe-15": "Spare parts not available",
        live.item_id: "No way to open product",
    }


def test_the_schema_check_can_fail() -> None:
    cells = ords_row("cafe-1", repair_barrier_if_end_of_life="No way to open the product")
    row: dict[str, Any] = dict(zip(HEADER, cells, strict=True))
    row["product_category_id"] = "x"
    assert schema_problems([row], SCHEMA) == [
        "line 2: product_category_id 'x' is not an integer",
        "line 2: product_category_id 'x' does not match ^[0-9]{1,2}$",
        "line 2: repair_barrier_if_end_of_life 'No way to open the product' is not one of "
        "['Spare parts not available', 'Spare parts too expensive', 'No way to open product', "
        "'Repair information not available', 'Lack of equipment', 'Too worn out']",
    ]


def test_other_unreadable_inputs_exit_2_without_a_traceback(config: Path, tmp_path: Path) -> None:
    png_as_latin1 = tmp_path / "photo.csv"
    png_as_latin1.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01")
    done = shopfloor("ords", "import", str(png_as_latin1), "--site", "cafe", "--config", str(config),
                     "--encoding", "latin-1")  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert str(png_as_latin1) in done.stderr and "is it an ORDS v0.3 CSV?" in done.stderr, done.stderr

    out = tmp_path / "missing-dir" / "export.csv"
    done = shopfloor("ords", "export", "--site", "cafe", "--config", str(config), "--from", "2025-01-01",
                     "--to", "2025-01-31", "-o", str(out))  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"-o {out}: cannot be written" in done.stderr
