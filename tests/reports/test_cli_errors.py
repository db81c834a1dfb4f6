"""``shopfloor report`` refuses what it cannot do before it reads anything, and says how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.cli import main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "collector.yaml"
    # No InfluxDB behind this: every case below must stop before a query.
    path.write_text("collector_id: cli-test\ninflux:\n  version: 1\n  url: http://127.0.0.1:9\n  database: none\n")
    return path


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--site", "gent", "--month", "2026-13"], "is not YYYY-MM"),
        (["--site", "gent", "--month", "2026-11", "--quarter", "2026-Q4"], "give one range"),
        (["--site", "gent", "--from", "2026-11-01"], "both from and to"),
        (["--site", "gent", "--month", "2026-11", "--lang", "de"], "--lang: no labels for language 'de'"),
        (["--site", "bad site", "--month", "2026-11"], "--site must be an id"),
    ],
)
def test_bad_arguments_exit_2_with_the_fix(
    config: Path, arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--config", str(config), *arguments]) == 2
    assert message in capsys.readouterr().err


def test_site_or_cluster_is_required(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["report", "--config", str(config), "--month", "2026-11"])
    assert exited.value.code == 2 and "one of the arguments --site --cluster is required" in capsys.readouterr().err


def test_influxdb_not_answering_is_an_error_naming_it(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = config.parent / "r.html"
    assert main(["report", "--config", str(config), "--site", "gent", "--month", "2026-11", "--out", str(out)]) == 2
    assert "InfluxDB at http://127.0.0.1:9" in capsys.readouterr().err and not out.exists()
