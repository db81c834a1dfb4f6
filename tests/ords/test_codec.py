"""ORDS v0.3 codec: the real Restart Project export, spellings, bad rows, and the round trip."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from collector.ords import (
    COLUMNS,
    OrdsFormatError,
    barrier,
    cells,
    read_rows,
    repair_status,
    stored_point,
    to_import,
    to_record,
    write_csv,
)
from shopfloor.contract import Barrier, RepairStatus
from shopfloor.kpi import outcome_fields
from shopfloor.kpi.rates import fix_rate_by_category, stored_item
from tests.harness.data import ords_dir

REAL = ords_dir() / "OpenRepairData_v0.3_RestartProject_202204.csv"
HEADER = ",".join(COLUMNS)


def parse(text: str) -> list:  # type: ignore[type-arg]
    return list(read_rows(io.StringIO(text, newline="")))


def round_trip(record):  # type: ignore[no-untyped-def]
    imported = to_import(record, station="ords")
    point = stored_point(imported.event, imported.extra_fields)
    return to_record(point, site="s", data_provider="x", country="XXX", timezone="Europe/Brussels")


@pytest.fixture(scope="module")
def real_rows() -> list:  # type: ignore[type-arg]
    with REAL.open(newline="", encoding="utf-8") as f:
        return list(read_rows(f))


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Fixed", RepairStatus.FIXED),
        ("fixed", RepairStatus.FIXED),
        ("Repaired", RepairStatus.FIXED),
        ("1", RepairStatus.FIXED),
        ("repairable", RepairStatus.REPAIRABLE),
        ("2", RepairStatus.REPAIRABLE),
        ("End of life", RepairStatus.END_OF_LIFE),
        ("end-of-life", RepairStatus.END_OF_LIFE),
        ("End_of_Life.", RepairStatus.END_OF_LIFE),
        ("EoL", RepairStatus.END_OF_LIFE),
        ("3", RepairStatus.END_OF_LIFE),
        ("Unknown", RepairStatus.UNKNOWN),
        ("0", RepairStatus.UNKNOWN),
    ],
)
def test_status_spellings(text: str, status: RepairStatus) -> None:
    assert repair_status(text) is status


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No way to open product", Barrier.NO_WAY_TO_OPEN),
        ("No way to open the product", Barrier.NO_WAY_TO_OPEN),
        ("Too worn out", Barrier.TOO_WORN_OUT),
        ("Item too worn out", Barrier.TOO_WORN_OUT),
        ("spare parts not available", Barrier.PARTS_NOT_AVAILABLE),
        ("2", Barrier.PARTS_TOO_EXPENSIVE),
        ("4", Barrier.NO_REPAIR_INFO),
        ("5", Barrier.LACK_OF_EQUIPMENT),
        ("6", Barrier.TOO_WORN_OUT),
        ("", None),
    ],
)
def test_barrier_spellings(text: str, expected: Barrier | None) -> None:
    assert barrier(text) is expected


def test_unknown_spellings_are_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match="'Kaput'"):
        repair_status("Kaput")
    with pytest.raises(ValueError, match="'7'"):
        barrier("7")


def test_bad_rows_are_reported_by_line_and_good_rows_kept() -> None:
    text = "\n".join(
        [
            HEADER,
            'a1,P,BEL,Lamp,Lamp,15,,,,fixed,,G,2021-05-01,"flickers"',
            "a2,P,BEL,Lamp,Lamp,15,,,,Kaput,,G,2021-05-01,x",
            'a3,P,BEL,Kettle,Kettle,14,,,,EoL,3,G,2021-05-01,"two',
            'lines"',
            "a4,P,BE,Lamp,Lamp,15,,,,Fixed,,G,2021-05-01,x",
            "a5,P,BEL,Lamp,Laptop,15,,,,Fixed,,G,2021-05-01,x",
            "a6,P,BEL,Lamp,Lamp,15,,,,Fixed,,G,21/05/2021,x",
            "a7,P,BEL,Lamp,Lamp,15,,,,Fixed,,G,2021-05-01",
            "a8,P,BEL,Sofa,Unpowered - Furniture,,IKEA,2015,6.5,Repairable,,G,2021-05-02,",
        ]
    )
    rows = parse(text)
    assert [(r.line, r.record is not None) for r in rows] == [
        (2, True),
        (3, False),
        (4, True),
        (6, False),
        (7, False),
        (8, False),
        (9, False),
        (10, True),
    ]
    errors = {r.line: r.error for r in rows if r.error}
    assert "repair_status 'Kaput'" in errors[3]
    assert "country 'BE'" in errors[6]
    assert "is id 16" in errors[7]
    assert "event_date" in errors[8]
    assert "13 cells" in errors[9]
    kettle = rows[2].record
    assert kettle.repair_barrier_if_end_of_life is Barrier.NO_WAY_TO_OPEN and kettle.problem == "two\nlines"
    sofa = rows[-1].record
    assert (sofa.product_category, sofa.product_category_id, sofa.product_age) == ("Furniture", None, 6.5)


def test_a_missing_column_is_a_format_error() -> None:
    with pytest.raises(OrdsFormatError, match="problem"):
        parse(HEADER.removesuffix(",problem") + "\n")


def test_real_export_parses_completely(real_rows: list) -> None:  # type: ignore[type-arg]
    assert len(real_rows) == 23_940
    assert [r.error for r in real_rows if r.error] == []
    with REAL.open(newline="", encoding="utf-8") as f:
        raw = list(csv.DictReader(f))
    statuses: dict[str, int] = {}
    for record in (r.record for r in real_rows):
        statuses[record.repair_status.value] = statuses.get(record.repair_status.value, 0) + 1
    expected: dict[str, int] = {}
    for row in raw:
        expected[row["repair_status"]] = expected.get(row["repair_status"], 0) + 1
    assert statuses == expected
    assert real_rows[0].record.event_date == date(2016, 11, 19)


def test_real_export_round_trips_every_field(real_rows: list) -> None:  # type: ignore[type-arg]
    records = [r.record for r in real_rows]
    back = [round_trip(record) for record in records]
    assert back == records
    out = io.StringIO(newline="")
    assert write_csv(back, out) == len(records)
    again = [r.record for r in parse(out.getvalue())]
    assert again == records
    # Cell for cell against the original file, up to surrounding spaces and "5.0" vs "5".
    with REAL.open(newline="", encoding="utf-8") as f:
        raw = list(csv.reader(f))[1:]
    for original, record in zip(raw, records, strict=True):
        exported = cells(record)
        for column, was, now in zip(COLUMNS, original, exported, strict=True):
            if column in {"product_age", "year_of_manufacture", "product_category_id"} and was:
                assert float(was) == float(now), (column, was, now)
            elif column == "repair_barrier_if_end_of_life":
                # Written as the 2025 table schema spells it ("No way to open product"): the same barrier.
                assert barrier(was) == barrier(now), (column, was, now)
            else:
                assert was.strip() == now, (column, was, now)


def test_barrier_on_a_non_end_of_life_row_is_kept_outside_the_event() -> None:
    (row,) = parse(HEADER + "\nr1,P,GBR,Fan,Fan,7,,,,Repairable,Lack of equipment,G,2020-01-01,x\n")
    imported = to_import(row.record, station="ords")
    assert imported.event.barrier is None and imported.extra_fields["ords_barrier"] == "Lack of equipment"
    assert round_trip(row.record) == row.record


def test_live_bench_event_exports_with_site_defaults() -> None:
    (row,) = parse(HEADER + "\nr1,P,GBR,Fan,Fan,7,,,,Fixed,,G,2020-01-01,\n")
    point = stored_point(to_import(row.record, station="ords").event, {})
    point["item_id"] = "bench-item-1"
    point["ts_ms"] = 1_577_919_600_000  # 2020-01-01 23:00 UTC = 2020-01-02 00:00 in Brussels
    record = to_record(point, site="gent", data_provider="Repair Gent", country="BEL", timezone="Europe/Brussels")
    assert record is not None
    assert (record.id, record.data_provider, record.country, record.group_identifier) == (
        "bench-item-1",
        "Repair Gent",
        "BEL",
        "gent",
    )
    assert record.event_date == date(2020, 1, 2) and record.partner_product_category == "Fan"
    reuse_only = dict(point, repair_status="", outcome="reused_as_is")
    assert to_record(reuse_only, site="g", data_provider="p", country="BEL", timezone="UTC") is None


def test_fix_rate_per_category_of_the_real_file_matches_a_plain_csv_count(real_rows: list) -> None:  # type: ignore[type-arg]
    """The KPI module, fed through the import path, agrees with counting the CSV by hand."""
    items = []
    for row in real_rows:
        event = to_import(row.record, station="ords").event
        terms = outcome_fields(event.repair_status, event.outcome, event.category, event.weight_kg)
        items.append(stored_item("restart", "ords", event.ts_ms, event.category, terms.as_fields()))
    by_category = fix_rate_by_category(items)
    counts: dict[str, dict[str, int]] = {}
    with REAL.open(newline="", encoding="utf-8") as f:
        for raw in csv.DictReader(f):
            tally = counts.setdefault(raw["product_category"], {})
            tally[raw["repair_status"]] = tally.get(raw["repair_status"], 0) + 1
    assert set(by_category) == set(counts)
    for category, tally in counts.items():
        known = tally.get("Fixed", 0) + tally.get("Repairable", 0) + tally.get("End of life", 0)
        assert by_category[category].fix_rate == pytest.approx(tally.get("Fixed", 0) / known), category
        assert by_category[category].unknown == tally.get("Unknown", 0)
