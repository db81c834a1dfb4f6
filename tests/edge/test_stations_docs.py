"""docs/edge-stations.md and examples/edge-stations.yaml: every edge.yaml example passes the checks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from edge.settings import load_settings
from tests.conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "edge-stations.md"
_BLOCK = re.compile(r"^```yaml edge\.yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks() -> list[str]:
    return _BLOCK.findall(DOC.read_text(encoding="utf-8"))


@pytest.mark.parametrize("body", blocks())
def test_edge_yaml_blocks(tmp_path: Path, body: str) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(body, encoding="utf-8")
    settings, _ = load_settings(path, env={})
    assert settings.mqtt_sources or settings.stations_io


def test_doc_has_examples_and_is_linked() -> None:
    assert len(blocks()) >= 4
    assert "edge-stations.md" in (REPO_ROOT / "docs" / "edge.md").read_text(encoding="utf-8")


def test_example_passes_check_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shopfloor", "edge", "check", str(REPO_ROOT / "examples" / "edge-stations.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "  bench-2: shelly-gen1 shellyplug-s-AABBCC on 127.0.0.1:1883" in lines
    assert "  bench-1: I/O unit 10 on rs485, discrete_inputs 0=start, 1=pause, 2=done, 3=done" in lines
    assert "  bench bench-2: energy plug-bench-2, events box-bench-2, mon-fri 09:00-17:00; sat 10:00-14:00" in lines


def test_every_format_is_documented() -> None:
    from edge.station_settings import MqttFormat

    text = DOC.read_text(encoding="utf-8")
    for name in MqttFormat.__args__:  # type: ignore[attr-defined]
        assert f"| `{name}` |" in text
