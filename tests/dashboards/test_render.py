"""``shopfloor dashboards render``: one PNG per dashboard from the seeded influxd, in Grafana's layout and units."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.text import Text

from dashboards import generate
from dashboards.evaluate import Context, default_variables
from dashboards.influx import InfluxQL
from dashboards.render import draw, render
from shopfloor.cli import main
from tests.dashboards import dataset as ds

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DASHBOARDS = generate.load()


def test_every_dashboard_renders_one_axes_per_panel(seeded: InfluxQL, tmp_path: Path) -> None:
    for name, dashboard in DASHBOARDS.items():
        result = render(dashboard, Context(ds.NOW, default_variables(dashboard)), seeded, tmp_path / f"{name}.png")
        data = result.path.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 20_000, name
        assert result.axes == result.panels == len(dashboard["panels"]), name


def test_stats_show_the_queried_numbers_with_units(seeded: InfluxQL) -> None:
    dashboard = DASHBOARDS["site-overview"]
    figure = draw(dashboard, Context(ds.NOW, default_variables(dashboard)), seeded, {"capacity_limit_kw": "40"})
    try:
        texts = {t.get_text() for t in figure.findobj(Text)}
        texts |= {
            c.get_text().get_text() for ax in figure.axes for table in ax.tables for c in table.get_celld().values()
        }
    finally:
        plt.close(figure)
    assert {"36.0 kW", "90%", "64.0 kWh", "94.0 kWh", "2.00 kW", "Peak vs limit (40 kW)"} <= texts
    assert {"working", "paused", "idle", "closed"} <= texts  # station states table


def test_render_command(seeded: InfluxQL, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["dashboards", "render", "--influx-url", seeded.url, "--database", seeded.database]
    args += ["--now", ds.NOW.isoformat(), "--out", str(tmp_path), "--only", "fleet-health", "--var", "site=gent-repair"]
    assert main(args) == 0
    assert "fleet-health.png (5 panels)" in capsys.readouterr().out
    assert (tmp_path / "fleet-health.png").stat().st_size > 10_000
    assert main([*args[:5], "nope", *args[6:]]) == 2
    assert "database not found" in capsys.readouterr().err
