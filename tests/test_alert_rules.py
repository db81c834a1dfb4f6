"""The alert rules as code: Debian's promtool checks and unit-tests them, amtool checks the example routing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.test_compose import _config

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "shopfloor.rules.yml"
TESTS = sorted((PROMETHEUS / "tests").glob("*.test.yml"))
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed. Fix: apt-get install {package} (scripts/bootstrap.sh does this).")
    return found


def run(*command: str) -> str:
    result = subprocess.run(command, cwd=PROMETHEUS, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_promtool_checks_the_rules_and_the_config(tmp_path: Path) -> None:
    promtool = tool("promtool", "prometheus")
    assert "SUCCESS" in run(promtool, "check", "rules", str(RULES))
    # The config as deployed: beside the rules and the scrape token file it names (made on the server, never in git).
    shutil.copytree(PROMETHEUS, tmp_path / "prometheus")
    (tmp_path / "prometheus" / "collector.token").write_text("sfm_00000000_" + "x" * 43 + "\n")
    assert "SUCCESS" in run(promtool, "check", "config", str(tmp_path / "prometheus" / "prometheus.yml"))


def test_promtool_unit_tests_pass() -> None:
    promtool = tool("promtool", "prometheus")
    assert TESTS
    out = run(promtool, "test", "rules", *(str(t) for t in TESTS))
    assert "FAILED" not in out


def test_every_alert_has_a_unit_test_a_summary_and_a_runbook() -> None:
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]
    tested = {
        case["alertname"]
        for path in TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    for rule in rules:
        assert rule["alert"] in tested, f"{rule['alert']} has no promtool test that expects it to fire"
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule["alert"]
        assert rule["labels"]["scope"] in ("site", "fleet"), rule["alert"]


def test_amtool_accepts_the_example_alertmanager_config() -> None:
    amtool = tool("amtool", "prometheus-alertmanager")
    result = subprocess.run(
        [amtool, "check-config", str(ALERTMANAGER)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_site_alerts_go_to_the_site_and_fleet_alerts_to_the_coordinator() -> None:
    amtool = tool("amtool", "prometheus-alertmanager")

    def receiver(*labels: str) -> str:
        result = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return result.stdout.strip()

    assert receiver("scope=site", "site=gent-repair", "alertname=ShopfloorMeterStale") == "gent-repair"
    assert receiver("scope=site", "site=brussels-textile", "alertname=ShopfloorEdgeOffline") == "brussels-textile"
    assert receiver("scope=fleet", "alertname=ShopfloorInfluxUnreachable") == "coordinator"
    assert receiver("scope=site", "site=a-new-site", "alertname=ShopfloorMeterStale") == "coordinator"


def test_compose_runs_prometheus_and_alertmanager_from_deploy(tmp_path: Path) -> None:
    services = _config(tmp_path)["services"]
    assert isinstance(services, dict)
    for name, mounted in (("prometheus", "deploy/prometheus"), ("alertmanager", "deploy/alertmanager")):
        assert name in services
        assert "healthcheck" in services[name]
        assert any(str(ROOT / mounted) in str(v) or mounted in str(v) for v in services[name]["volumes"]), name
