"""docs/reports.md: its collector.yaml example loads, its images exist, and the options it lists are the CLI's."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from collector.settings import SiteSettings
from shopfloor.cli import build_parser

DOC = Path(__file__).resolve().parents[2] / "docs" / "reports.md"


def test_site_facts_example_is_valid() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert blocks
    for block in blocks:
        for site in yaml.safe_load(block)["sites"].values():
            facts = SiteSettings.model_validate(site)
            assert facts.capacity_tariff_eur_per_kw_year is not None and facts.hours() is not None


def test_images_exist() -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", DOC.read_text())
    assert len(images) >= 2
    for image in images:
        assert (DOC.parent / image).is_file(), image


def test_documented_options_are_the_clis() -> None:
    parser = build_parser()
    report = parser._subparsers._group_actions[0].choices["report"]  # type: ignore[union-attr]
    options = {option for action in report._actions for option in action.option_strings}
    table = DOC.read_text().split("## Command line", 1)[1].split("## HTTP", 1)[0]
    documented = set(re.findall(r"`(--[a-z]+)", table))
    assert documented and documented <= options, documented - options
