"""collector.yaml validation: every case folder's error names the file, the key and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collector.settings import InfluxV1Settings, InfluxV2Settings, load_settings
from shopfloor.cli import main
from shopfloor.config import ConfigError
from tests.harness.tls import make_pki

HERE = Path(__file__).parent
REPO = HERE.parents[1]
CASES = sorted(p for p in (HERE / "cases").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_config_error_cases(case: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(case / "collector.yaml")
    text = "\n".join(caught.value.problems)
    for expected in (case / "error.txt").read_text().strip().splitlines():
        assert expected in text


def test_example_file_loads_and_resolves_paths_next_to_it() -> None:
    settings = load_settings(REPO / "examples" / "collector.yaml")
    assert isinstance(settings.influx, InfluxV1Settings)
    assert settings.subscription.shared_group == "writers"
    assert settings.spool.path == REPO / "examples" / "var/collector/spool.sqlite"
    assert settings.sites["gent-repair"].main_meter == "main"


def test_yaml_blocks_in_the_docs_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFLUX_TOKEN", "secret-token")
    make_pki(tmp_path / "certs")  # the TLS example's ca.pem, client.pem and client.key, next to the blocks
    text = (REPO / "docs" / "collector.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert blocks
    for i, block in enumerate(blocks):
        path = tmp_path / f"block{i}.yaml"
        path.write_text(block)
        load_settings(path)


def test_environment_overrides_and_v2_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "collector.yaml"
    path.write_text("collector_id: c1\ninflux:\n  version: 2\n  org: gent\n  token: ${TOKEN}\n")
    monkeypatch.setenv("TOKEN", "t0k")
    monkeypatch.setenv("SHOPFLOOR_COLLECTOR__INFLUX__BUCKET", "other")
    settings = load_settings(path)
    assert isinstance(settings.influx, InfluxV2Settings)
    assert settings.influx.token.get_secret_value() == "t0k"
    assert settings.influx.bucket == "other"


def test_check_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["collector", "check", str(REPO / "examples" / "collector.yaml")]) == 0
    out = capsys.readouterr().out
    assert "$share/writers/shopfloor/v1/+/+/+" in out and "database shopfloor" in out
    assert main(["collector", "check", str(CASES[0] / "collector.yaml")]) == 2
    assert "Fix:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "gzip", "compress"),
    [
        ("http://127.0.0.1:8086", "auto", False),
        ("http://localhost:8086", "auto", False),
        ("http://[::1]:8086", "auto", False),
        ("http://influxdb:8086", "auto", True),
        ("https://eu-central-1-1.aws.cloud2.influxdata.com", "auto", True),
        ("http://127.0.0.1:8086", True, True),
        ("http://influxdb:8086", False, False),
    ],
)
def test_gzip_auto_compresses_only_for_a_remote_influxdb(url: str, gzip: object, compress: bool) -> None:
    assert InfluxV1Settings.model_validate({"url": url, "gzip": gzip}).compress is compress


def test_gzip_accepts_only_a_boolean_or_auto(tmp_path: Path) -> None:
    path = tmp_path / "collector.yaml"
    path.write_text("collector_id: c1\ninflux:\n  gzip: sometimes\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert "influx.gzip" in "\n".join(caught.value.problems)
