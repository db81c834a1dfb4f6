"""edge.yaml validation: every bad config in cases/ gives exactly its error.txt; the example is valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.settings import load_settings
from shopfloor.config import ConfigError
from tests.conftest import REPO_ROOT

CASES = Path(__file__).parent / "cases"


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_bad_config(case: str) -> None:
    folder = CASES / case
    with pytest.raises(ConfigError) as caught:
        load_settings(folder / "edge.yaml", env={})
    assert "\n".join(caught.value.problems) == (folder / "error.txt").read_text(encoding="utf-8").strip()


def test_enough_cases() -> None:
    assert len([p for p in CASES.iterdir() if p.is_dir()]) >= 8


def test_example_passes_check_command() -> None:
    """`shopfloor edge check examples/edge.yaml` succeeds, without reaching any of its addresses."""
    result = subprocess.run(
        [sys.executable, "-m", "shopfloor", "edge", "check", str(REPO_ROOT / "examples" / "edge.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "OK — site gent-repair, edge gent-pi, 4 device(s)" in result.stdout
    assert "main: unit 1 on /dev/ttyUSB0, eastron-sdm630@1, every 5 s, 1 request(s) per poll" in result.stdout


def test_bad_config_exit_code(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shopfloor", "edge", "check", str(CASES / "unknown-profile" / "edge.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (CASES / "unknown-profile" / "error.txt").read_text(encoding="utf-8").strip()


def test_environment_supplies_secret() -> None:
    settings, _ = load_settings(
        REPO_ROOT / "examples" / "edge.yaml", env={"SHOPFLOOR_EDGE__BROKER__PASSWORD": "s3cret"}
    )
    assert settings.broker.password is not None
    assert settings.broker.password.get_secret_value() == "s3cret"
