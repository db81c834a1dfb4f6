"""The config examples in docs/edge.md are valid: every ```yaml edge.yaml and ```yaml profile block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edge.profiles import ProfileLibrary, load_profile
from edge.settings import load_settings
from tests.conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "edge.md"
_BLOCK = re.compile(r"^```yaml (edge\.yaml|profile)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(kind: str) -> list[str]:
    return [body for found, body in _BLOCK.findall(DOC.read_text(encoding="utf-8")) if found == kind]


@pytest.mark.parametrize("body", blocks("edge.yaml"))
def test_edge_yaml_blocks(tmp_path: Path, body: str) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text(body, encoding="utf-8")
    settings, _ = load_settings(path, env={})
    assert settings.buses


@pytest.mark.parametrize("body", blocks("profile"))
def test_profile_blocks(tmp_path: Path, body: str) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(body, encoding="utf-8")
    profile = load_profile(path)
    library = ProfileLibrary.load([tmp_path])
    assert library.get(profile.ref) == profile


def test_doc_has_examples() -> None:
    assert blocks("edge.yaml") and blocks("profile")


def test_every_shipped_profile_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in ProfileLibrary.load().names():
        assert f"`{name}`" in text
