"""The configuration examples in docs/kpis.md load."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from shopfloor.kpi.opening_hours import OpeningHours

DOC = Path(__file__).resolve().parents[2] / "docs" / "kpis.md"


def test_opening_hours_examples_are_valid() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert blocks, "docs/kpis.md has no yaml example"
    for block in blocks:
        hours = OpeningHours.model_validate(yaml.safe_load(block)["opening_hours"])
        assert hours.weekly()[5]  # Saturday is open in the example
