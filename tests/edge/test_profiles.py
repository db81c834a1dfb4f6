"""Profiles: the seven shipped meters load; a user profile works without code; bad profiles say why."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.profiles import ProfileLibrary
from shopfloor.config import ConfigError

SHIPPED = {
    "abb-b23",
    "carlogavazzi-em24",
    "carlogavazzi-em340",
    "eastron-sdm120",
    "eastron-sdm630",
    "finder-7m",
    "schneider-iem3155",
}


def test_shipped_profiles() -> None:
    library = ProfileLibrary.load()
    assert set(library.names()) == SHIPPED
    iem = library.get("schneider-iem3155@1")
    assert iem is not None
    assert iem.fields["power"].scale == 1000  # kW -> W
    assert iem.resolved(["energy_import"])[0].function == 3


def test_user_profile_dir_adds_and_versions(tmp_path: Path) -> None:
    (tmp_path / "my-meter.yaml").write_text(
        "name: my-meter\nversion: 2\ndefaults: {function: 3, type: u16}\n"
        "fields:\n  voltage_l1: {address: 10, scale: 0.1, unit: V}\n",
        encoding="utf-8",
    )
    library = ProfileLibrary.load([tmp_path])
    profile = library.get("my-meter")
    assert profile is not None and profile.ref == "my-meter@2"
    assert library.get("my-meter@1") is None


def test_wrong_unit_is_explained(tmp_path: Path) -> None:
    bad = tmp_path / "finder-wh.yaml"
    bad.write_text("name: finder-wh\nversion: 1\nfields:\n  energy_import: {address: 2752, unit: Wh}\n")
    with pytest.raises(ConfigError) as caught:
        ProfileLibrary.load([tmp_path])
    (problem,) = caught.value.problems
    assert problem.startswith("finder-wh.yaml: fields: ")
    assert "energy_import.unit must be 'kWh' (got 'Wh')" in problem
    assert "Wh -> kWh is scale 0.001" in problem
