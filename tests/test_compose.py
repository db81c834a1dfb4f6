"""docker-compose.yml is valid for the real docker-compose client, and everything it mounts exists.

No Docker engine runs here; `docker-compose config` needs none: it parses, interpolates and
validates the file the way `docker-compose up` would.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _config() -> dict[str, object]:
    docker_compose = shutil.which("docker-compose")
    if docker_compose is None:
        pytest.fail("docker-compose is not installed. Fix: apt-get install docker-compose (make test does this).")
    result = subprocess.run(
        [docker_compose, "--env-file", str(ROOT / ".env.example"), "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, object] = yaml.safe_load(result.stdout)
    return parsed


def test_compose_config_is_valid_and_has_the_whole_stack() -> None:
    services = _config()["services"]
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
        assert (ROOT / source).exists(), f"{service} mounts {source}, which is not in the repo"


def test_env_example_sets_every_required_variable() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    env = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required and required <= set(env)


@pytest.mark.parametrize("path", sorted((ROOT / "deploy" / "compose").glob("edge-*.yaml")), ids=lambda p: p.name)
def test_compose_edge_configs_pass_edge_check(path: Path) -> None:
    from edge.settings import load_settings

    settings, _ = load_settings(path)
    assert settings.buses and settings.broker.host == "mosquitto"


def test_compose_collector_and_simulator_configs_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    from collector.settings import load_settings
    from shopfloor.config import load_config
    from simulator.settings import SimulateSettings

    monkeypatch.setenv("INFLUXDB_USER", "writer")
    monkeypatch.setenv("INFLUXDB_PASSWORD", "secret")
    collector = load_settings(ROOT / "deploy" / "compose" / "collector.yaml")
    assert collector.influx.url == "http://influxdb:8086"
    simulate = load_config(ROOT / "deploy" / "compose" / "simulate.yaml", SimulateSettings)
    assert simulate.sites == 3 and simulate.modbus_port == 5020


def test_compose_collector_knows_every_site_fact_the_demo_sets() -> None:
    """Opening hours and the capacity limit, so base load and the limit are not null (issue 16, item 9)."""
    from simulator.demo import site_facts
    from simulator.sites import default_sites

    compose = yaml.safe_load((ROOT / "deploy" / "compose" / "collector.yaml").read_text())
    expected = {site.id: site_facts(site) for site in default_sites(3)}
    assert compose["sites"] == expected
    for facts in expected.values():
        assert facts["opening_hours"] and facts["capacity_limit_kw"]
