"""docs/peak-guard.md: its edge.yaml example loads, and the replay figures it quotes are today's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge.settings import load_settings
from tests.conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "peak-guard.md"
_BLOCK = re.compile(r"^```yaml edge\.yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_the_edge_yaml_example_is_valid(tmp_path: Path) -> None:
    [body] = _BLOCK.findall(DOC.read_text(encoding="utf-8"))
    path = tmp_path / "edge.yaml"
    path.write_text(body, encoding="utf-8")
    settings, _ = load_settings(path, env={})
    guard = settings.peak_guard
    assert guard is not None
    assert [load.id for load in guard.loads] == ["kiln", "water-heater", "compressor"]
    assert guard.state_path == tmp_path / "peak_guard.json"


def test_the_example_names_problems_with_the_fix(tmp_path: Path) -> None:
    [body] = _BLOCK.findall(DOC.read_text(encoding="utf-8"))
    path = tmp_path / "edge.yaml"
    path.write_text(body.replace("meter: main", "meter: mian").replace("bus: relays", "bus: relay"), encoding="utf-8")
    try:
        load_settings(path, env={})
    except Exception as exc:  # ConfigError: one line per problem
        text = str(exc)
    else:
        raise AssertionError("a wrong meter and bus must be refused")
    assert "edge.yaml: peak_guard.meter: 'mian' is not a device of buses[]" in text
    assert "peak_guard.loads[0].coil.bus: no bus 'relay'" in text and "relays" in text


@pytest.mark.slow
def test_the_quoted_replay_table_is_what_replay_prints_today() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "shopfloor", "peak-guard", "replay", "--month", "2026-03"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    doc = DOC.read_text(encoding="utf-8")
    for line in result.stdout.splitlines():
        if line.startswith(("2026-03", "heater")):
            assert line in doc, f"docs/peak-guard.md quotes an old replay; today: {line!r}"


def test_edge_check_summarises_the_guard(tmp_path: Path) -> None:
    import subprocess
    import sys

    [body] = _BLOCK.findall(DOC.read_text(encoding="utf-8"))
    path = tmp_path / "edge.yaml"
    path.write_text(body, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "shopfloor", "edge", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "peak guard on main: keeps quarters under the month's peak (floor 2.5 kW); kiln 4 kW" in result.stdout
