"""The config loader: errors name the file, the key path and the fix; env expansion and overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from shopfloor.config import ConfigError, load_config
from tests.harness.cli import REPO_ROOT, shopfloor


class _V1(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    database: str = "shopfloor"


class _V2(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[2]
    bucket: str


class _Broker(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "localhost"
    port: int = Field(default=1883, ge=1, le=65535)
    password: str | None = None


class _Root(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: str
    broker: _Broker = _Broker()
    influx: Annotated[_V1 | _V2, Field(discriminator="version")] = _V1()


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> _Root:
    path = tmp_path / "app.yaml"
    path.write_text(text)
    return load_config(path, _Root, env_prefix="APP", env=env or {})


def _problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text, env)
    return caught.value.problems


def test_missing_key_names_file_key_and_fix(tmp_path: Path) -> None:
    assert _problems(tmp_path, "broker: {}\n") == ["app.yaml: site: Field required. Fix: add this key."]


def test_typo_gets_a_did_you_mean_even_inside_a_union(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, "site: a\ninflux: {version: 1, databse: x}\n")
    assert problem.startswith("app.yaml: influx.databse: Extra inputs are not permitted")
    assert "did you mean 'database'?" in problem


def test_out_of_range_value_shows_what_was_given(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, "site: a\nbroker: {port: 70000}\n")
    assert "broker.port" in problem and "(got 70000)" in problem and "Fix: give a number" in problem


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, "site: a\nbroker:\n  host: [unclosed\n")
    assert problem.startswith("app.yaml: line ") and "not valid YAML" in problem


def test_env_reference_and_prefix_override(tmp_path: Path) -> None:
    root = _load(
        tmp_path,
        "site: a\nbroker: {password: '${MQTT_PASSWORD}', host: '${MQTT_HOST:-broker.local}'}\n",
        env={"MQTT_PASSWORD": "s3cret", "APP__BROKER__PORT": "8883"},
    )
    assert root.broker.password == "s3cret"
    assert root.broker.host == "broker.local"
    assert root.broker.port == 8883


def test_unset_env_reference_names_the_variable_and_key(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, "site: a\nbroker: {password: '${MQTT_PASSWORD}'}\n")
    assert problem == (
        "app.yaml: broker.password: environment variable MQTT_PASSWORD is not set. "
        "Fix: export MQTT_PASSWORD=... or write ${MQTT_PASSWORD:-default}."
    )


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml", _Root)
    assert "file not found" in caught.value.problems[0]
    assert "examples/ (collector.yaml, edge-stations.yaml, edge.yaml)" in caught.value.problems[0]


def test_missing_file_points_at_the_example_of_its_name(tmp_path: Path) -> None:
    """Through the CLI, as a user meets it; the examples live in examples/, not docs/ (issue 16)."""
    result = shopfloor("edge", "check", str(tmp_path / "edge.yaml"))
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"{tmp_path / 'edge.yaml'}: file not found. Fix: check the path, or copy examples/edge.yaml and edit it."
    )
    assert (REPO_ROOT / "examples" / "edge.yaml").is_file()
