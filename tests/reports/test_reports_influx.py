"""Reports against a real influxd and the KPI API of a running collector (real mosquitto too).

The demo's three workshops over 30 days (``tests/reports/demo_data.py``: the simulator's history, read
every 15 minutes instead of every minute to keep the test short), and the hand-computed items of
``tests/kpi/test_sessions_rates.py::test_rates_hand_computed`` posted to the bench API.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.reports.periods import Period, days_range, month, quarter
from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings, InfluxV1Settings
from shopfloor.cli import main as shopfloor_main
from simulator.services import Influxd, Mosquitto, wait_until
from tests.collector.traffic import collector_yaml, load
from tests.harness.api import api_client
from tests.harness.influx import InfluxTestDB
from tests.reports.demo_data import DAY_MS, MINUTE_MS, DemoData, load_demo
from tests.reports.report_html import Figure, parse

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EMPTY_SITE = "empty-site"  # configured, never sent anything


@pytest.fixture(scope="module")
def demo(influxd: Influxd) -> Iterator[tuple[InfluxTestDB, DemoData]]:
    db = InfluxTestDB(influxd.url, f"reports_{uuid.uuid4().hex[:8]}")
    now = int(time.time() * 1000) // MINUTE_MS * MINUTE_MS
    data = load_demo(InfluxV1Settings(url=influxd.url, database=db.database), 30, now, step_ms=15 * MINUTE_MS)
    try:
        yield db, data
    finally:
        db.drop()


def start_api(
    tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd, database: str, sites: str, run: Callable[..., Any]
) -> tuple[TestClient, CollectorSettings]:
    config = collector_yaml(
        tmp_path / "collector.yaml",
        collector_id=f"reports-{uuid.uuid4().hex[:6]}",
        broker_port=mosquitto.port,
        influx_url=influxd.url,
        database=database,
    )
    config.write_text(config.read_text() + sites)
    settings = load(config)
    runtime: CollectorRuntime = run(settings)
    return api_client(settings, runtime), settings


@pytest.fixture
def demo_api(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxd: Influxd,
    demo: tuple[InfluxTestDB, DemoData],
    run_collector: Callable[[CollectorSettings], CollectorRuntime],
) -> Iterator[tuple[TestClient, DemoData, Period]]:
    db, data = demo
    sites = data.sites_yaml(f"  {EMPTY_SITE}:\n    timezone: Europe/Brussels\n")
    client, _ = start_api(tmp_path, mosquitto, influxd, db.database, sites, run_collector)
    middle = datetime.fromtimestamp((data.end_ms - 15 * DAY_MS) / 1000, UTC)
    with client:
        yield client, data, month(middle.strftime("%Y-%m"), "Europe/Brussels")


def api_answers(client: TestClient, site: str | None, period: Period) -> dict[str, Any]:
    """The KPI API's answers for the ranges a report shows, by the report's source names."""

    def get(path: str, shown: Period) -> Any:
        response = client.get(f"{path}?from={shown.start_ms}&to={shown.end_ms}")
        assert response.status_code == 200, response.text
        return response.json()

    if site is None:
        return {"current.compare": get("/api/kpis/compare", period)}
    last_year = period.last_year()
    return {
        "current.kpis": get(f"/api/sites/{site}/kpis", period),
        "previous.kpis": get(f"/api/sites/{site}/kpis", period.previous()),
        "last_year.kpis": get(f"/api/sites/{site}/kpis", last_year) if last_year is not None else None,
        "current.categories": get(f"/api/sites/{site}/kpis/categories", period),
        "current.quality": get(f"/api/sites/{site}/kpis/data-quality", period),
    }


def api_value(answers: dict[str, Any], figure: Figure) -> Any:
    node = answers[figure.source]
    for part in map(urllib.parse.unquote, figure.path.split("/")):
        node = node[int(part)] if isinstance(node, list) else node.get(part)
        if node is None:
            return None
    return node


def printed_scale(figure: Figure) -> float:
    """The unit a figure must be printed in, from what is printed and the field (not from the cell's own claim)."""
    if figure.text.endswith("%"):
        return 0.01
    if figure.path.endswith("median_bench_s"):
        return 60.0  # the column says minutes
    if figure.path.endswith("data_age_s"):
        return 3600.0  # the row says hours
    return 1.0


def assert_every_figure_is_the_apis(html: str, answers: dict[str, Any]) -> list[Figure]:
    report = parse(html)
    assert report.untraced == [], "numbers in the report that name no KPI API field"
    checked = []
    for figure in report.figures:
        expected = api_value(answers, figure)
        if figure.kind == "time":
            assert expected[:10] in figure.text and expected[11:16] in figure.text, figure
        elif expected is None:
            # Only a dead-letter kind the store never saw prints 0 for the API's absent key.
            assert figure.text in {"—", "0"}, figure
        else:
            # Shown rounded to its digits; a data age also moves by the seconds between the two calls.
            tolerance = 0.5 * 10**-figure.digits + 1e-9 + (60 / 3600 if figure.path.endswith("data_age_s") else 0)
            scale = printed_scale(figure)
            assert figure.scale == scale, figure
            assert figure.number() == pytest.approx(expected / scale, abs=tolerance), figure
        checked.append(figure)
    return checked


def test_every_number_in_a_site_report_is_the_kpi_apis(demo_api: tuple[TestClient, DemoData, Period]) -> None:
    client, data, period = demo_api
    site = data.specs[0].id
    response = client.get(f"/api/reports/sites/{site}?month={period.label}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    figures = assert_every_figure_is_the_apis(html, api_answers(client, site, period))
    sources = {figure.source for figure in figures}
    assert sources >= {"current.kpis", "current.categories", "current.quality"}
    keys = {figure.key for figure in figures}
    for needed in (
        "current.kpis:items/checked_in",
        "current.kpis:items/fix_rate",
        "current.kpis:items/kg_diverted",
        "current.kpis:items/co2e_kg",
        "current.kpis:energy/kwh_per_item",
        "current.kpis:items/items_per_bench_hour",
        "current.kpis:energy/peaks/0/peak_kw",
        "current.kpis:energy/peaks/0/cost_eur",
        "current.kpis:energy/base_load/watts",
        "current.kpis:energy/open_load/watts",
        "current.quality:meters/0/uptime",
        "current.quality:items_open",
    ):
        assert needed in keys, needed
    assert len(figures) > 60
    # Self-contained: the charts are inline, nothing is fetched.
    assert html.count('src="data:image/svg+xml;base64,') == 2 and "http://" not in html and "https://" not in html
    # The month before the data began is said to have none, not shown as zeros.
    assert "no data" in html


def test_a_quarter_and_a_range_of_days_are_the_kpi_apis_too(demo_api: tuple[TestClient, DemoData, Period]) -> None:
    client, data, period = demo_api
    site = data.specs[1].id
    q = (period.first_day.month - 1) // 3 + 1
    the_quarter = quarter(f"{period.first_day.year}-Q{q}", "Europe/Brussels")
    response = client.get(f"/api/reports/sites/{site}?quarter={the_quarter.label}")
    assert response.status_code == 200, response.text
    figures = assert_every_figure_is_the_apis(response.text, api_answers(client, site, the_quarter))
    keys = {f.key for f in figures}
    assert {"current.kpis:items/finished", "current.kpis:energy/peaks/0/peak_kw"} <= keys
    # One peak per month of the quarter that has data; last year's column has none.
    peaks = [key for key in keys if key.endswith("/peak_kw")]
    assert 1 <= len(peaks) <= 3 and "Same period last year" in response.text, peaks
    assert not any(f.source == "last_year.kpis" for f in figures)
    first = period.first_day + timedelta(days=9)
    week = days_range(first, first + timedelta(days=6), "Europe/Brussels")
    response = client.get(f"/api/reports/sites/{site}?from={week.first_day}&to={week.last_day}")
    assert response.status_code == 200, response.text
    figures = assert_every_figure_is_the_apis(response.text, api_answers(client, site, week))
    assert not any(f.source == "last_year.kpis" for f in figures)  # a free range has no "last year" column
    assert any(f.source == "previous.kpis" for f in figures)  # the week before has data


def test_cluster_report_ranks_the_workshops_and_marks_a_site_without_data(
    demo_api: tuple[TestClient, DemoData, Period],
) -> None:
    client, data, period = demo_api
    response = client.get(f"/api/reports/cluster?month={period.label}")
    assert response.status_code == 200, response.text
    assert_every_figure_is_the_apis(response.text, api_answers(client, None, period))
    ranking = {row["data-site"]: row for row in parse(response.text).rows if "data-site" in row}
    assert set(ranking) == {spec.id for spec in data.specs} | {EMPTY_SITE}
    for spec in data.specs:
        assert ranking[spec.id]["data-ranked"] == "yes", ranking[spec.id]
    assert ranking[EMPTY_SITE]["data-ranked"] == "no"
    assert "not ranked" in ranking[EMPTY_SITE]["text"] and "0 items finished" in ranking[EMPTY_SITE]["text"]
    # Rank 1 on items per bench-hour is the site with the highest ratio in the API's comparison.
    rows = client.get(f"/api/kpis/compare?from={period.start_ms}&to={period.end_ms}").json()
    best = max((row for row in rows["sites"] if row["site"] != EMPTY_SITE), key=lambda row: row["items_per_bench_hour"])
    assert rows["ranking"][0]["site"] == best["site"] and rows["ranking"][0]["ranks"]["items_per_bench_hour"] == 1


def pdf_pages(pdf: bytes, tmp_path: Path) -> list[str]:
    """Each page's text, by poppler's pdftotext (installed by scripts/bootstrap.sh for the tests)."""
    assert shutil.which("pdftotext"), "pdftotext missing: apt-get install poppler-utils"
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True)
    return [page for page in text.stdout.split("\f") if page.strip()]


def test_pdf_reports_are_a4_pages_with_footer_on_every_page(
    demo_api: tuple[TestClient, DemoData, Period], tmp_path: Path
) -> None:
    client, data, period = demo_api
    site = data.specs[0].id
    response = client.get(f"/api/reports/sites/{site}?month={period.label}&format=pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf" and response.content.startswith(b"%PDF")
    pages = pdf_pages(response.content, tmp_path)
    assert len(pages) == int(response.headers["x-report-pages"]) >= 3
    info = subprocess.run(["pdfinfo", str(tmp_path / "report.pdf")], check=True, capture_output=True, text=True)
    assert "(A4)" in info.stdout, info.stdout
    for number, page in enumerate(pages, 1):
        assert f"Page {number} of {len(pages)}" in page
        assert "shopfloor-monitor 0.1.0" in page and f"{period.first_day} – {period.last_day}" in page
    assert "Headline KPIs" in pages[0] and "Capacity tariff" in pages[0]
    assert any("Fix rate and volume per category" in page for page in pages[1:])
    assert "Data quality" in pages[-1]

    cluster = client.get(f"/api/reports/cluster?month={period.label}&format=pdf&lang=fr")
    assert cluster.status_code == 200
    cluster_pages = pdf_pages(cluster.content, tmp_path)
    assert "Classement" in cluster_pages[0] and "Page 1 sur" in cluster_pages[0]
    words = " ".join(cluster_pages[0].split())
    assert "non classé" in words and "pas assez de données" in words, words


def test_bad_report_requests_are_422_naming_the_parameter(demo_api: tuple[TestClient, DemoData, Period]) -> None:
    client, data, _ = demo_api
    site = data.specs[0].id
    for query, message in (
        ("month=2026-13", "YYYY-MM"),
        ("", "give one range"),
        ("month=2026-11&lang=de", "choose one of"),
        ("from=2026-11-09", "both from and to"),
    ):
        response = client.get(f"/api/reports/sites/{site}?{query}")
        assert response.status_code == 422 and message in response.text, (query, response.text)
    assert client.get(f"/api/reports/sites/{site}?month=2026-11&format=docx").status_code == 422


_counter = iter(range(1_000_000))


def ev(kind: str, at: str, item: str, **extra: object) -> dict[str, Any]:
    """The events of test_rates_hand_computed, as the bench page posts them."""
    ts = int(datetime.fromisoformat(at).replace(tzinfo=UTC).timestamp() * 1000)
    return {"event_id": f"hand-{next(_counter)}", "ts_ms": ts, "station": "b1", "type": kind, "item_id": item, **extra}


HAND_COMPUTED = [
    ev("checked_in", "2026-03-02 08:00", "lap", category="Laptop", weight_kg=2.0),
    ev("finished", "2026-03-02 09:00", "lap", repair_status="Fixed"),
    ev("checked_in", "2026-03-02 08:00", "ket", category="Kettle"),
    ev("finished", "2026-03-02 09:00", "ket", repair_status="End of life", barrier="Lack of equipment"),
    ev("checked_in", "2026-03-02 08:00", "sofa", category="Furniture"),
    ev("finished", "2026-03-02 09:00", "sofa", outcome="reused_as_is"),
    ev("checked_in", "2026-03-02 08:00", "toy", category="Toy"),
    ev("finished", "2026-03-02 09:00", "toy", repair_status="Unknown"),
]


def test_the_hand_computed_month_shows_the_kpi_tests_figures(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxd: Influxd,
    influx_db: InfluxTestDB,
    run_collector: Callable[[CollectorSettings], CollectorRuntime],
) -> None:
    client, _ = start_api(tmp_path, mosquitto, influxd, influx_db.database, "", run_collector)
    with client:
        answer = client.post("/api/sites/hand/events", json=HAND_COMPUTED)
        assert answer.status_code == 200 and len(answer.json()["accepted"]) == 8, answer.text
        # Another site, with a category whose name holds a '/' (the report's field paths must survive it).
        slash = [
            ev("checked_in", "2026-03-03 08:00", "air", category="Aircon/dehumidifier"),
            ev("finished", "2026-03-03 09:00", "air", repair_status="End of life", barrier="Spare parts not available"),
        ]
        assert client.post("/api/sites/other/events", json=slash).status_code == 200
        wait_until(
            lambda: influx_db.scalar("SELECT count(event_id) FROM repair_event WHERE type = 'finished'") == 5,
            15,
            "the five finished events in InfluxDB",
        )
    out = tmp_path / "march.html"
    argv = ["report", "--config", str(tmp_path / "collector.yaml"), "--site", "hand", "--month", "2026-03"]
    assert shopfloor_main([*argv, "--out", str(out)]) == 0
    shown = {figure.key: figure.text for figure in parse(out.read_text()).figures}
    # The figures test_rates_hand_computed computes by hand (the Kettle, Furniture and Toy reference weights).
    kg_final = 2.0 + 1.25 + 29.81 + 0.93
    expected = {
        "current.kpis:items/checked_in": "4",
        "current.kpis:items/finished": "4",
        "current.kpis:items/fix_rate": "50.0\u202f%",  # Fixed / (Fixed + End of life)
        "current.kpis:items/reuse_rate_items": "50.0\u202f%",  # laptop and sofa of 4
        "current.kpis:items/reuse_rate_kg": f"{(2.0 + 29.81) / kg_final * 100:.1f}\u202f%",
        "current.kpis:items/kg_diverted": "2.0",
        "current.kpis:items/co2e_kg": f"{265.32 / 2:.1f}",
        "current.categories:categories/Laptop/fix_rate": "100.0\u202f%",
        "current.categories:categories/Kettle/fix_rate": "0.0\u202f%",
        "current.categories:categories/Toy/unknown": "1",
        "current.categories:barriers/Lack%20of%20equipment": "1",
        "current.quality:items_unknown_outcome": "1",
        "current.quality:items_open": "0",
    }
    assert {key: shown.get(key) for key in expected} == expected
    # And each under its own label.
    rows = [row["text"] for row in parse(out.read_text()).rows]
    assert any(text.startswith("Fix rate 50.0\u202f%") for text in rows), rows
    assert any(text.startswith("Items finished 4 ") for text in rows), rows
    assert any(text.startswith("Lack of equipment 1") for text in rows), rows
    other = tmp_path / "other.html"
    config = ["report", "--config", str(tmp_path / "collector.yaml"), "--month", "2026-03", "--out", str(other)]
    assert shopfloor_main([*config, "--site", "other"]) == 0
    shown = {figure.key: figure.text for figure in parse(other.read_text()).figures}
    assert shown["current.categories:categories/Aircon%2Fdehumidifier/end_of_life"] == "1"
    assert shown["current.categories:barriers/Spare%20parts%20not%20available"] == "1"
    # The same month in Dutch: the catalogue's headings and decimal comma, the same figures.
    dutch = tmp_path / "maart.html"
    assert shopfloor_main([*argv, "--lang", "nl", "--out", str(dutch)]) == 0
    text = dutch.read_text()
    assert "Kerncijfers" in text and "50,0\u202f%" in text and "Headline KPIs" not in text
