"""Committed JSON = generated JSON; it loads into the Grafana model and uses the provisioned datasource."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard, Panel

from dashboards import generate
from dashboards.cli import register  # noqa: F401  (the CLI module imports nothing heavy)
from shopfloor.cli import main

REPO = Path(__file__).resolve().parents[2]
PROVISIONING = REPO / "dashboards" / "provisioning"
COMMITTED = generate.load()


def test_committed_json_is_not_stale() -> None:
    assert generate.stale() == [], "Fix: shopfloor dashboards generate, then commit dashboards/json"


def test_generate_check_fails_on_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboards", "generate", "--out", str(tmp_path)]) == 0
    assert main(["dashboards", "generate", "--check", "--out", str(tmp_path)]) == 0
    edited = tmp_path / "fleet-health.json"
    edited.write_text(edited.read_text().replace('"Fleet health"', '"Fleet health (edited)"'))
    (tmp_path / "stray.json").write_text("{}")
    assert main(["dashboards", "generate", "--check", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "fleet-health.json: differs from the generator" in out
    assert "stray.json: not generated" in out


def test_generation_is_deterministic() -> None:
    assert generate.expected_files() == generate.expected_files()


@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_loads_into_the_grafana_dashboard_model(name: str) -> None:
    register_default_plugins()
    data = COMMITTED[name]
    model = Dashboard.from_json(data)
    assert model.uid == data["uid"] and model.title == data["title"]
    assert model.panels is not None and len(model.panels) == len(data["panels"])
    for panel in model.panels:
        assert isinstance(panel, Panel)
        # The SDK knows each panel type: its options decode into the typed model, not a bare dict.
        assert type(panel.options).__module__ == f"grafana_foundation_sdk.models.{panel.type_val}", panel.title
        assert panel.grid_pos is not None and panel.grid_pos.x + panel.grid_pos.w <= 24
    again = json.loads(json.dumps(model, cls=JSONEncoder))
    for original, encoded in zip(data["panels"], again["panels"], strict=True):
        assert encoded["targets"] == original["targets"]
        assert encoded["gridPos"] == original["gridPos"]
    assert [v["name"] for v in again["templating"]["list"]] == [v["name"] for v in data["templating"]["list"]]


def _datasource_refs(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node["datasource"]] if isinstance(node.get("datasource"), dict) else []
        return found + [ref for value in node.values() for ref in _datasource_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _datasource_refs(value)]
    return []


def test_every_panel_target_and_variable_uses_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load((PROVISIONING / "datasources" / "influxdb.yaml").read_text())
    (source,) = provisioned["datasources"]
    assert source["type"] == "influxdb" and source["jsonData"]["dbName"] == "shopfloor"
    for name, data in COMMITTED.items():
        refs = _datasource_refs(data)
        targets = [t for p in data["panels"] for t in p["targets"]]
        assert len(refs) >= len(data["panels"]) + len(targets), name
        assert {(r["type"], r["uid"]) for r in refs} == {("influxdb", source["uid"])}, name
        assert all(t["rawQuery"] and t["query"].startswith(("SELECT", "SHOW")) for t in targets)


def test_dashboard_provider_points_at_the_mounted_json() -> None:
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "shopfloor.yaml").read_text())
    (entry,) = provider["providers"]
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./dashboards/json:{entry['options']['path']}:ro" in mounts
    assert "./dashboards/provisioning/datasources:/etc/grafana/provisioning/datasources:ro" in mounts


def test_every_dashboard_has_variables_units_and_a_default_range() -> None:
    for name, data in COMMITTED.items():
        variables = {v["name"] for v in data["templating"]["list"]}
        assert "site" in variables, name
        assert data["time"]["from"].startswith("now") and data["refresh"], name
        for panel in data["panels"]:
            assert panel["fieldConfig"]["defaults"]["unit"], (name, panel["title"])
            for target in panel["targets"]:
                # A panel over the dashboard range must not scan raw 1 Hz data without bounds.
                uses_raw = '"autogen"."meter"' in target["query"]
                # ... unless the panel's range is fixed, or the raw part only reads the range's last hour.
                bounded = panel.get("timeFrom") or "WHERE time >= ${__to}ms - 1h AND" in target["query"]
                assert not uses_raw or bounded, (name, panel["title"])
