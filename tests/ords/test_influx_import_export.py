"""``shopfloor ords import|export`` through a real influxd, on the real Restart Project file (23,940 rows).

The fix rate per category that the KPI API reads back from InfluxDB must equal a count made here with
the csv module alone; export -> import -> export keeps every ORDS field.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.ords import read_rows
from collector.runtime import CollectorRuntime
from collector.settings import load_settings
from shopfloor.cli import main
from simulator.services import Influxd
from tests.harness.api import api_client
from tests.harness.data import ords_dir
from tests.harness.influx import InfluxTestDB

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REAL = ords_dir() / "OpenRepairData_v0.3_RestartProject_202204.csv"
SITE = "restart"
ALL_TIME = "from=2010-01-01T00:00:00Z&to=2030-01-01T00:00:00Z"


def write_config(path: Path, influxd: Influxd, database: str) -> Path:
    path.write_text(
        f"""collector_id: ords-test
influx:
  url: {influxd.url}
  database: {database}
spool:
  path: spool.sqlite
dead_letters:
  path: dead.sqlite
sites:
  {SITE}:
    data_provider: Restart Project
    country: GBR
"""
    )
    return path


@pytest.fixture(scope="module")
def imported(influxd: Influxd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, InfluxTestDB]]:
    """The real file imported once for the module, into its own database."""
    db = InfluxTestDB(influxd.url, f"ords_{uuid.uuid4().hex[:8]}")
    db.create()
    config = write_config(tmp_path_factory.mktemp("ords") / "collector.yaml", influxd, db.database)
    try:
        assert main(["ords", "import", str(REAL), "--site", SITE, "--config", str(config), "--quiet"]) == 0
        yield config, db
    finally:
        db.drop()


def csv_fix_rates() -> dict[str, float | None]:
    """Independent of the codec and of shopfloor.kpi: Fixed / (Fixed + Repairable + End of life) per category."""
    counts: dict[str, Counter[str]] = {}
    with REAL.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            counts.setdefault(row["product_category"], Counter())[row["repair_status"]] += 1
    rates: dict[str, float | None] = {}
    for category, by_status in counts.items():
        known = by_status["Fixed"] + by_status["Repairable"] + by_status["End of life"]
        rates[category] = by_status["Fixed"] / known if known else None
    return rates


def test_every_row_is_stored_once_even_when_imported_twice(
    imported: tuple[Path, InfluxTestDB], capsys: pytest.CaptureFixture[str]
) -> None:
    config, db = imported
    assert db.scalar("SELECT count(event_id) FROM repair_event") == 23_940
    assert db.scalar("SELECT sum(fixed) FROM repair_event") == 12_409
    with REAL.open(newline="", encoding="utf-8") as f:
        row = next(csv.DictReader(f))
    [stored] = db.query(f"SELECT * FROM repair_event WHERE ords_id = '{row['id']}'")
    assert stored["data_provider"] == row["data_provider"] and stored["source"] == "ords-import"
    assert stored["repair_status"] == row["repair_status"] and stored["country"] == row["country"]
    # The second import writes the same points again: still 23,940.
    capsys.readouterr()
    assert main(["ords", "import", str(REAL), "--site", SITE, "--config", str(config), "--quiet"]) == 0
    assert "23940 of 23940 row(s) imported, 0 bad" in capsys.readouterr().out
    assert db.scalar("SELECT count(event_id) FROM repair_event") == 23_940


def test_kpi_api_fix_rate_per_category_equals_a_csv_count(imported: tuple[Path, InfluxTestDB]) -> None:
    config, _ = imported
    settings = load_settings(config)
    runtime = CollectorRuntime(settings)
    try:
        with api_client(settings, runtime) as client:
            answer = client.get(f"/api/sites/{SITE}/kpis/categories?{ALL_TIME}")
            assert answer.status_code == 200, answer.text
            from_api = {name: rate["fix_rate"] for name, rate in answer.json()["categories"].items()}
            site = client.get(f"/api/sites/{SITE}/kpis?{ALL_TIME}&bucket=week").json()
    finally:
        runtime.stop()
    expected = csv_fix_rates()
    assert set(from_api) == set(expected)
    for category, rate in expected.items():
        assert from_api[category] == pytest.approx(rate, abs=1e-12), category
    assert site["items"]["finished"] == 23_940 and site["items"]["fixed"] == 12_409
    assert site["items"]["fix_rate"] == pytest.approx(12_409 / (12_409 + 6_448 + 4_851))


def test_export_then_import_keeps_every_ords_field(
    imported: tuple[Path, InfluxTestDB], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, db = imported
    exported = tmp_path / "export.csv"
    args = ["--config", str(config), "--from", "2012-01-01", "--to", "2022-12-31"]
    assert main(["ords", "export", "--site", SITE, *args, "-o", str(exported)]) == 0
    assert "23940 ORDS row(s) written" in capsys.readouterr().err

    def records(path: Path) -> dict[str, object]:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(read_rows(f))
        assert all(row.error is None for row in rows)
        return {row.record.id: row.record for row in rows if row.record is not None}

    original = records(REAL)
    assert records(exported) == original

    # Through InfluxDB a second time, as another site: the next export is the same file, cell for cell.
    assert main(["ords", "import", str(exported), "--site", "copy", "--config", str(config), "--quiet"]) == 0
    again = tmp_path / "again.csv"
    assert main(["ords", "export", "--site", "copy", *args, "-o", str(again)]) == 0
    assert sorted(again.read_text().splitlines()) == sorted(exported.read_text().splitlines())
    assert db.scalar("SELECT count(event_id) FROM repair_event WHERE site = 'copy'") == 23_940


def test_bad_rows_are_reported_by_line_and_the_good_ones_imported(
    imported: tuple[Path, InfluxTestDB], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, db = imported
    with REAL.open(newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f))[:6]
    status = header.index("repair_status")
    rows[1][status] = "Sort of fixed"
    rows[3][header.index("event_date")] = "31/12/2021"
    rows[4][status] = "end-of-life."
    rows[4][header.index("repair_barrier_if_end_of_life")] = "parts too expensive"
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    messy = tmp_path / "messy.csv"
    messy.write_text(out.getvalue())
    capsys.readouterr()
    assert main(["ords", "import", str(messy), "--site", "messy", "--config", str(config)]) == 1
    captured = capsys.readouterr()
    assert "line 3: repair_status 'Sort of fixed' is not one of" in captured.err
    assert "line 5: event_date '31/12/2021' is not a date YYYY-MM-DD" in captured.err
    assert "ORDS import" in captured.err  # the tqdm progress bar
    assert "3 of 5 row(s) imported, 2 bad" in captured.out
    stored = db.query("SELECT repair_status, barrier, ords_id FROM repair_event WHERE site = 'messy'")
    assert len(stored) == 3
    [normalised] = [row for row in stored if row["ords_id"] == rows[4][0]]
    assert normalised["repair_status"] == "End of life" and normalised["barrier"] == "Spare parts too expensive"


def test_a_file_without_the_ords_header_is_refused(imported: tuple[Path, InfluxTestDB], tmp_path: Path) -> None:
    config, _ = imported
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n")
    assert main(["ords", "import", str(wrong), "--site", "x", "--config", str(config), "--quiet"]) == 2
