"""The report's labels: one YAML catalogue per language in ``labels/``; English is the reference.

A new language is a file with the same keys as ``en.yaml``, no code (docs/reports.md).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

DEFAULT_LANGUAGE = "en"


class LabelError(ValueError):
    """An unknown language, or a catalogue that lacks keys of en.yaml."""


def languages() -> list[str]:
    folder = resources.files("collector.reports") / "labels"
    return sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml"))


@cache
def catalogue(language: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """The labels of ``language``; raises LabelError naming the missing keys."""
    if language not in languages():
        raise LabelError(f"no labels for language {language!r}: choose one of {', '.join(languages())}")
    path = resources.files("collector.reports") / "labels" / f"{language}.yaml"
    labels: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if language != DEFAULT_LANGUAGE:
        missing = sorted(set(catalogue(DEFAULT_LANGUAGE)) - set(labels))
        if missing:
            raise LabelError(f"collector/reports/labels/{language}.yaml lacks {', '.join(missing)} (see en.yaml)")
    return labels
