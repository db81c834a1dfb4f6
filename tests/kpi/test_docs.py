"""The configuration examples in docs/kpis.md load as collector.yaml ``sites:`` blocks."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from collector.settings import SiteSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "kpis.md"


def test_opening_hours_examples_are_valid() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert blocks, "docs/kpis.md has no yaml example"
    for block in blocks:
        for site in yaml.safe_load(block)["sites"].values():
            hours = SiteSettings.model_validate(site).hours()
            assert hours is not None and hours.weekly()[5]  # Saturday is open in the example
