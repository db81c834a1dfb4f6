"""``shopfloor dashboards push`` against a local HTTP server that implements the Grafana endpoints push calls.

No Grafana server can run in this environment, so ``fake_grafana.FakeGrafana`` stands in for it
(folders, dashboards by uid, and Grafana's 412 version-mismatch rule). grafana-client itself is real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboards import generate
from shopfloor.cli import main
from simulator.services import free_port
from tests.dashboards.fake_grafana import FakeGrafana

UIDS = {d.uid for d in generate.dashboards().values()}


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    with FakeGrafana() as server:
        yield server


def push(grafana: FakeGrafana, state: Path, *extra: str) -> int:
    return main(["dashboards", "push", "--url", grafana.url, "--token", grafana.token, "--state", str(state), *extra])


def test_creates_folder_and_dashboards_then_updates_them(
    grafana: FakeGrafana, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    assert push(grafana, state) == 0
    assert grafana.folders["shopfloor"]["title"] == "Shopfloor"
    assert set(grafana.dashboards) == UIDS
    assert {d["folderUid"] for d in grafana.dashboards.values()} == {"shopfloor"}
    assert grafana.dashboards["shopfloor-site-overview"]["dashboard"]["panels"][0]["title"] == "Live power"
    assert capsys.readouterr().out.count("created ") == len(UIDS)

    assert push(grafana, state) == 0  # nothing changed in Grafana: a plain update
    assert {d["version"] for d in grafana.dashboards.values()} == {2}
    assert capsys.readouterr().out.count("updated ") == len(UIDS)
    assert ("POST", "/api/folders") in grafana.requests and grafana.requests.count(("POST", "/api/folders")) == 1


def test_a_dashboard_edited_in_grafana_is_a_conflict_not_clobbered(
    grafana: FakeGrafana, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    assert push(grafana, state) == 0
    grafana.edit_in_ui("shopfloor-fleet-health", "Fleet health (tuned by hand)")
    capsys.readouterr()

    assert push(grafana, state) == 1
    out = capsys.readouterr().out
    assert "conflict shopfloor-fleet-health" in out and "expected 1" in out
    assert grafana.dashboards["shopfloor-fleet-health"]["dashboard"]["title"] == "Fleet health (tuned by hand)"
    assert grafana.dashboards["shopfloor-site-overview"]["version"] == 2  # the others went through

    assert push(grafana, state, "--force") == 0
    assert grafana.dashboards["shopfloor-fleet-health"]["dashboard"]["title"] == "Fleet health"
    assert push(grafana, state) == 0  # the forced version is recorded


def test_grafana_412_during_the_push_is_reported(
    grafana: FakeGrafana, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.json"
    assert push(grafana, state) == 0
    grafana.edit_before_next_save = "shopfloor-station-detail"
    assert push(grafana, state, "--only", "station-detail") == 1
    out = capsys.readouterr().out
    assert "conflict shopfloor-station-detail" in out and "Client Error 412" in out
    assert grafana.dashboards["shopfloor-station-detail"]["dashboard"]["title"] == "edited during the push"


def test_existing_dashboard_without_record_needs_expect_version(
    grafana: FakeGrafana, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert push(grafana, tmp_path / "someone-else.json", "--only", "fleet-health") == 0
    grafana.edit_in_ui("shopfloor-fleet-health", "theirs")  # now at version 2
    mine = tmp_path / "mine.json"
    assert push(grafana, mine, "--only", "fleet-health") == 1
    assert "exists at version 2, not pushed from here" in capsys.readouterr().out
    assert push(grafana, mine, "--only", "fleet-health", "--expect-version", "1") == 1
    assert push(grafana, mine, "--only", "fleet-health", "--expect-version", "2") == 0
    assert grafana.dashboards["shopfloor-fleet-health"]["version"] == 3


def test_wrong_token_and_unreachable_grafana_are_clear_errors(
    grafana: FakeGrafana, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = str(tmp_path / "s.json")
    assert main(["dashboards", "push", "--url", grafana.url, "--token", "wrong", "--state", state]) == 2
    assert "Grafana refused the credentials" in capsys.readouterr().err
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["dashboards", "push", "--url", url, "--token", "t", "--state", state]) == 2
    assert f"cannot reach Grafana at {url}" in capsys.readouterr().err
