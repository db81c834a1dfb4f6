"""What a plant manager sees with three sites: readable stats, whole tables and labels, legends beside the lines,
fresh data to the second, 0 dead letters shown as 0 (issue 16, items 10-13).

The data are the simulator's three workshops (events, meter readings, edge status) in a real influxd; the
dashboards are drawn with the real renderer and the drawn text is measured where matplotlib put it.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from collector.points import event_line
from dashboards import generate
from dashboards.evaluate import Context, default_variables, evaluate_panel, variable_value
from dashboards.influx import InfluxQL
from dashboards.render import draw
from shopfloor.cli import main
from simulator.services import Influxd
from simulator.sites import default_sites
from simulator.workshop import Workshop
from tests.harness.influx import InfluxTestDB

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DASHBOARDS = generate.load()
NOW = datetime(2026, 11, 27, 15, 0, 30, tzinfo=ZoneInfo("Europe/Brussels"))  # a Friday afternoon
NOW_MS = int(NOW.timestamp() * 1000)
START_MS = NOW_MS - 7 * 86_400_000
SITES = default_sites(3)
STEP_MS = 10 * 60_000
QUIET_SITE = "mechelen-furniture"  # its edge went quiet 3 hours ago
QUIET_SINCE_MS = NOW_MS - 3 * 3_600_000
LIVE_AGE_MS = 2_000  # the other sites' newest raw reading


def _rollup_minute(ts_ms: int) -> int:
    return ts_ms - ts_ms % 60_000


def lines() -> Iterator[str]:
    for site in SITES:
        shop = Workshop(site, seed=42)
        yield from (event_line(site.id, event) for event in shop.events_between(START_MS, NOW_MS))
        end = QUIET_SINCE_MS if site.id == QUIET_SITE else NOW_MS - STEP_MS
        kwh = dict.fromkeys(shop.devices, 100.0)
        for ts in range(START_MS, end, STEP_MS):
            for device in shop.devices:
                power = shop.power_w(device, ts)
                kwh[device] += power * STEP_MS / 3_600_000_000
                tags = f"site={site.id},device={device},edge={site.id}-pi"
                fields = f"power={power},energy_import={kwh[device]}"
                yield f'meter,{tags} {fields},quality="ok",seq={ts // 1000}i {ts}000000'
                # What the continuous query writes for the minute (a completed minute only).
                yield f"meter_1m,{tags} {fields},max_power={power} {_rollup_minute(ts)}000000"
        if site.id != QUIET_SITE:
            ts = NOW_MS - LIVE_AGE_MS  # a live reading, in a minute the rollup has not closed yet
            for device in shop.devices:
                tags = f"site={site.id},device={device},edge={site.id}-pi"
                yield f'meter,{tags} power=100.0,energy_import={kwh[device]},quality="ok",seq=1i {ts}000000'
        for n, ts in enumerate(range(NOW_MS - 6 * 3_600_000, NOW_MS, 30 * 60_000)):
            yield f"edge_status,site={site.id},edge={site.id}-pi online=1i,buffer_depth={n % 5}i {ts}000000"


@pytest.fixture(scope="module")
def shop_data(influxd: Influxd) -> Iterator[InfluxQL]:
    db = InfluxTestDB(influxd.url, f"readable_{uuid.uuid4().hex[:10]}")
    db.create()
    db.query(f'CREATE RETENTION POLICY "rollup" ON "{db.database}" DURATION INF REPLICATION 1')
    try:
        batch: list[str] = []
        for line in lines():
            batch.append(line)
            if len(batch) >= 5000:
                _write(db, batch)
                batch = []
        _write(db, batch)
        yield InfluxQL(influxd.url, db.database)
    finally:
        db.drop()


def _write(db: InfluxTestDB, batch: list[str]) -> None:
    rollup = [line for line in batch if line.startswith("meter_1m,")]
    raw = [line for line in batch if not line.startswith("meter_1m,")]
    for lines_, rp in ((raw, "autogen"), (rollup, "rollup")):
        if lines_:
            status, body = db._post(
                "/write", {"db": db.database, "rp": rp, "precision": "ns"}, "\n".join(lines_).encode()
            )
            assert status == 204, body


def _figure(name: str, client: InfluxQL, **values: str) -> Figure:
    dashboard = DASHBOARDS[name]
    variables = default_variables(dashboard)
    variables.update({key: variable_value(dashboard, key, value) for key, value in values.items()})
    figure = draw(dashboard, Context(NOW, variables, time_from="now-7d"), client, {"capacity_limit_kw": "40"})
    figure.canvas.draw()  # lays the tables and legends out where the PNG has them
    return figure


def _panel(figure: Figure, name: str, title: str) -> tuple[Bbox, plt.Axes]:
    """The panel's white box (in pixels) and its axes; panels are drawn in the dashboard's order."""
    index = next(i for i, p in enumerate(DASHBOARDS[name]["panels"]) if p["title"] == title)
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    return figure.artists[index].get_window_extent(renderer), figure.axes[index]


def _extents(figure: Figure, artists: list[plt.Artist]) -> list[Bbox]:
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    return [a.get_window_extent(renderer) for a in artists if a.get_visible() and getattr(a, "get_text", str)()]


def _inside(inner: Bbox, outer: Bbox, slack: float = 1.0) -> bool:
    return (
        inner.x0 >= outer.x0 - slack
        and inner.x1 <= outer.x1 + slack
        and inner.y0 >= outer.y0 - slack
        and inner.y1 <= outer.y1 + slack
    )


def test_site_overview_stats_stay_readable_with_every_site(shop_data: InfluxQL) -> None:
    figure = _figure("site-overview", shop_data)
    try:
        for title in ("Fix rate", "Reuse rate", "kg diverted", "CO2e avoided", "Base load (7 days)"):
            box, ax = _panel(figure, "site-overview", title)
            texts = _extents(figure, list(ax.texts))
            names = {t.get_text() for t in ax.texts}
            assert {site.id for site in SITES} <= names, (title, names)
            for a, b in itertools.combinations(texts, 2):
                assert not a.overlaps(b), f"{title}: texts drawn on top of each other"
            assert all(_inside(t, box) for t in texts), f"{title}: text outside its panel"
    finally:
        plt.close(figure)


def test_freshness_reads_the_newest_raw_reading(shop_data: InfluxQL) -> None:
    dashboard = DASHBOARDS["cluster-comparison"]
    panel = next(p for p in dashboard["panels"] if p["title"] == "Data freshness")
    (frame,) = evaluate_panel(dashboard, panel, Context(NOW, default_variables(dashboard)), shop_data)
    ages = {row["site"]: (NOW_MS - row["Time (max)"]) / 1000 for row in frame.records()}
    # Seconds old, not the rollup's "a minute or two ago" ...
    assert ages["gent-repair"] == ages["brussels-textile"] == LIVE_AGE_MS / 1000
    # ... and a site quiet for hours still shows, from the rollup, to its minute.
    last_quiet = max(range(START_MS, QUIET_SINCE_MS, STEP_MS))
    assert ages[QUIET_SITE] == (NOW_MS - _rollup_minute(last_quiet)) / 1000


def test_fleet_health_shows_zero_dead_letters_whole_tables_and_uncovered_lines(shop_data: InfluxQL) -> None:
    figure = _figure("fleet-health", shop_data)
    try:
        box, ax = _panel(figure, "fleet-health", "Last reading per device")
        (table,) = ax.tables
        rows = {cell.get_text().get_text() for (row, col), cell in table.get_celld().items() if col == 1 and row}
        assert rows == {device for site in SITES for device in Workshop(site).devices}
        cells = [cell.get_window_extent(figure.canvas.get_renderer()) for cell in table.get_celld().values()]  # type: ignore[attr-defined]
        assert all(_inside(cell, box) for cell in cells), "table rows cut off at the panel's bottom"

        box, ax = _panel(figure, "fleet-health", "Buffer depth")
        legend = ax.get_legend()
        assert legend is not None and len(legend.get_texts()) == len(SITES)
        renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
        assert not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer)), "legend over lines"
        assert _inside(legend.get_window_extent(renderer), box)

        _, ax = _panel(figure, "fleet-health", "Dead letters")
        assert [t.get_text() for t in ax.texts] == ["0"]  # none in the range: 0, not "No data"
    finally:
        plt.close(figure)


def test_station_detail_shows_whole_barrier_labels(shop_data: InfluxQL) -> None:
    figure = _figure("station-detail", shop_data, site="gent-repair")
    try:
        box, ax = _panel(figure, "station-detail", "Barrier codes (End of life)")
        labels = [label for label in ax.get_yticklabels() if label.get_text()]
        assert len(labels) >= 3
        for extent in _extents(figure, list(labels)):
            assert _inside(extent, box), "barrier label clipped by the panel"
        for a, b in itertools.combinations(_extents(figure, list(labels)), 2):
            assert not a.overlaps(b)
    finally:
        plt.close(figure)


def test_render_writes_to_the_working_directory_not_the_docs(
    shop_data: InfluxQL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["dashboards", "render", "--influx-url", shop_data.url, "--database", shop_data.database]
    assert main([*args, "--now", NOW.isoformat(), "--only", "fleet-health"]) == 0
    assert (tmp_path / "fleet-health.png").stat().st_size > 10_000
    assert not (tmp_path / "docs").exists()
