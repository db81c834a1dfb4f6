"""docker-compose.yml is valid for the real docker-compose client, and everything it mounts exists.

No Docker engine runs here; `docker-compose config` needs none: it parses, interpolates and
validates the file the way `docker-compose up` would.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _generated_auth(project: Path) -> Path:
    """What `shopfloor acl generate` writes before the first `up`, in a scratch project folder (never the repo)."""
    out = project / "deploy" / "mosquitto" / "auth"
    command = [sys.executable, "-m", "shopfloor", "acl", "generate", str(ROOT / "deploy/compose/sites.yaml")]
    subprocess.run([*command, "--out", str(out)], check=True, capture_output=True, cwd=ROOT)
    return out


def _config(project: Path) -> dict[str, object]:
    docker_compose = shutil.which("docker-compose")
    if docker_compose is None:
        pytest.fail("docker-compose is not installed. Fix: apt-get install docker-compose (make test does this).")
    _generated_auth(project)
    result = subprocess.run(
        [
            docker_compose,
            "-f",
            str(ROOT / "docker-compose.yml"),
            "--project-directory",
            str(project),
            "--env-file",
            str(ROOT / ".env.example"),
            "config",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, object] = yaml.safe_load(result.stdout)
    return parsed


def test_compose_config_is_valid_and_has_the_whole_stack(tmp_path: Path) -> None:
    services = _config(tmp_path)["services"]
    assert isinstance(services, dict)
    assert {"mosquitto", "influxdb", "grafana", "collector", "simulator"} <= set(services)
    assert sum(name.startswith("edge-") for name in services) == 3
    for name in ("mosquitto", "influxdb", "grafana", "collector", "simulator"):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"


def test_every_mounted_path_exists_in_the_repo() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    named = set(compose.get("volumes", {}))
    mounts = [
        (service, volume.split(":")[0])
        for service, spec in compose["services"].items()
        for volume in spec.get("volumes", [])
    ]
    assert mounts
    for service, source in mounts:
        if source in named:
            continue
        # A file made before the first `up` (the broker's CA) lives in a folder kept for generated files.
        made_later = (ROOT / source).parent / ".gitignore"
        assert (ROOT / source).exists() or made_later.exists(), f"{service} mounts {source}, which is not in the repo"


def test_env_example_sets_every_required_variable() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    env = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required and required <= set(env)


@pytest.fixture
def broker_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The variables compose gives each program: its env_file's MQTT_USERNAME/MQTT_PASSWORD, MQTT_CA_FILE."""
    from tests.harness.tls import make_pki

    monkeypatch.setenv("MQTT_CA_FILE", str(make_pki(tmp_path / "pki").ca_file))
    return _generated_auth(tmp_path)


def use_identity(auth: Path, user: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from shopfloor.acl import parse_env

    for key, value in parse_env((auth / "credentials" / f"{user}.env").read_text()).items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize("path", sorted((ROOT / "deploy" / "compose").glob("edge-*.yaml")), ids=lambda p: p.name)
def test_compose_edge_configs_pass_edge_check(path: Path, broker_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edge.settings import load_settings

    use_identity(broker_env, path.stem.removeprefix("edge-") + "-pi", monkeypatch)
    settings, _ = load_settings(path)
    assert settings.buses and settings.broker.host == "mosquitto"
    assert (settings.broker.port, settings.broker.username) == (8883, settings.edge_id)
    assert settings.broker.tls is not None and settings.broker.password is not None


def test_compose_collector_and_simulator_configs_are_valid(broker_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from collector.settings import load_settings
    from shopfloor.config import load_config
    from simulator.settings import SimulateSettings

    monkeypatch.setenv("INFLUXDB_USER", "writer")
    monkeypatch.setenv("INFLUXDB_PASSWORD", "secret")
    use_identity(broker_env, "collector", monkeypatch)
    collector = load_settings(ROOT / "deploy" / "compose" / "collector.yaml")
    assert collector.influx.url == "http://influxdb:8086"
    assert (collector.broker.port, collector.broker.username, collector.broker.tls is not None) == (
        8883,
        "collector",
        True,
    )
    use_identity(broker_env, "simulator", monkeypatch)
    simulate = load_config(ROOT / "deploy" / "compose" / "simulate.yaml", SimulateSettings)
    assert simulate.sites == 3 and simulate.modbus_port == 5020
    assert simulate.broker.username == "simulator"


def test_compose_collector_knows_every_site_fact_the_demo_sets() -> None:
    """Opening hours and the capacity limit, so base load and the limit are not null (issue 16, item 9)."""
    from simulator.demo import site_facts
    from simulator.sites import default_sites

    compose = yaml.safe_load((ROOT / "deploy" / "compose" / "collector.yaml").read_text())
    expected = {site.id: site_facts(site) for site in default_sites(3)}
    assert compose["sites"] == expected
    for facts in expected.values():
        assert facts["opening_hours"] and facts["capacity_limit_kw"]


def test_every_program_gets_only_its_own_identity(tmp_path: Path) -> None:
    services = _config(tmp_path)["services"]
    assert isinstance(services, dict)
    expected = {"mosquitto": "monitor", "collector": "collector", "simulator": "simulator"}
    expected |= {name: name.removeprefix("edge-") + "-pi" for name in services if name.startswith("edge-")}
    for name, user in expected.items():
        environment = services[name]["environment"]
        assert environment["MQTT_USERNAME"] == user, name
        assert len(environment["MQTT_PASSWORD"]) >= 32, name
    assert [(p["published"], p["target"]) for p in services["mosquitto"]["ports"]] == [(8883, 8883)]  # no plain MQTT
