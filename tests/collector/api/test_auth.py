"""API tokens against a running collector (``shopfloor collector run``, real mosquitto and influxd), managed
with the real CLI while it runs: no token -> 401, another site's token -> 403, a read token cannot write,
dead letters need admin, and a token revoked on the command line is refused from the next request on."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from collector.settings import CollectorSettings, load_settings
from collector.storage.dead_letters import CONTRACT, DeadLetterStore, NewDeadLetter
from simulator.services import Influxd, Mosquitto, free_port, wait_until
from tests.harness.api import new_token
from tests.harness.cli import shopfloor
from tests.harness.influx import InfluxTestDB
from tests.harness.processes import collector_serving, collector_yaml

pytestmark = pytest.mark.integration

SITE_A = "gent"
SITE_B = "leuven"


@dataclass
class Running:
    url: str
    config: Path
    settings: CollectorSettings
    db: InfluxTestDB


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(url: str, token: str | None = None, body: Any = None, method: str | None = None, **headers: str) -> Answer:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, mosquitto: Mosquitto, influxd: Influxd) -> Iterator[Running]:
    folder = tmp_path_factory.mktemp("auth")
    db = InfluxTestDB(influxd.url, f"test_{uuid.uuid4().hex[:10]}")
    db.create()
    port = free_port()
    config = collector_yaml(
        folder / "collector.yaml", mosquitto.port, influxd.url, db.database, port, collector_id="auth-test"
    )
    try:
        with collector_serving(config, port, folder / "collector.log") as url:
            yield Running(url, config, load_settings(config), db)
    finally:
        db.drop()
    # Tokens are never logged, not even their ids' secrets.
    assert "sfm_" not in (folder / "collector.log").read_text()


def events(station: str = "bench-1") -> list[dict[str, Any]]:
    now = int(time.time() * 1000)
    item = f"{station}-{uuid.uuid4().hex[:8]}"
    return [{"event_id": uuid.uuid4().hex, "ts_ms": now, "station": station, "type": "checked_in", "item_id": item,
             "category": "Toaster"}]  # fmt: skip


def test_no_token_is_401_with_a_bearer_challenge_and_health_stays_open(running: Running) -> None:
    url = running.url
    for method, path, body in [
        ("POST", f"/api/sites/{SITE_A}/events", events()),
        ("GET", f"/api/sites/{SITE_A}/kpis", None),
        ("GET", f"/api/sites/{SITE_A}/stations/bench-1/open-items", None),
        ("GET", "/api/kpis/compare", None),
        ("GET", "/api/dead-letters", None),
        ("POST", "/api/dead-letters/1/requeue", b"{}"),
        ("GET", "/metrics", None),
        ("GET", "/api/categories", None),
    ]:
        answer = call(url + path, body=body, method=method)
        assert answer.status == 401, (path, answer.body)
        assert answer.headers["www-authenticate"].startswith("Bearer"), path
    bad = call(f"{url}/api/sites/{SITE_A}/kpis", token="sfm_00000000_" + "x" * 43)
    assert bad.status == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
    assert call(f"{url}/api/sites/{SITE_A}/kpis", token="not a token at all").status == 401
    assert call(f"{url}/healthz").status == 200
    assert call(f"{url}/readyz").status in (200, 503)
    assert call(f"{url}/docs").status == 200
    assert call(f"{url}/openapi.json").json()["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    assert running.db.query("SELECT * FROM repair_event") == []


def test_a_site_token_writes_and_reads_only_its_own_site(running: Running) -> None:
    url = running.url
    token = new_token(running.settings, "write", SITE_A)
    mine = events()
    answer = call(f"{url}/api/sites/{SITE_A}/events", token, mine)
    assert answer.status == 200 and answer.json()["accepted"] == [mine[0]["event_id"]]
    theirs = events()
    refused = call(f"{url}/api/sites/{SITE_B}/events", token, theirs)
    assert refused.status == 403 and SITE_B in refused.json()["detail"]
    assert call(f"{url}/api/sites/{SITE_B}/kpis", token).status == 403
    assert call(f"{url}/api/sites/{SITE_B}/stations/bench-1/open-items", token).status == 403
    assert call(f"{url}/api/kpis/compare", token).status == 403  # every site's figures: an all-sites token
    assert call(f"{url}/api/sites/{SITE_A}/stations/bench-1/open-items", token).status == 200
    wait_until(lambda: len(running.db.query("SELECT * FROM repair_event")) >= 1, 15, "site A's event stored")
    assert running.db.query(f"SELECT * FROM repair_event WHERE site = '{SITE_B}'") == []
    assert {row["event_id"] for row in running.db.query("SELECT * FROM repair_event")} >= {mine[0]["event_id"]}


def test_a_read_token_cannot_write_and_a_station_token_only_its_station(running: Running) -> None:
    url = running.url
    reader = new_token(running.settings, "read", SITE_A)
    denied = call(f"{url}/api/sites/{SITE_A}/events", reader, events())
    assert denied.status == 403 and "read scope" in denied.json()["detail"]
    assert call(f"{url}/api/sites/{SITE_A}/kpis?days=1", reader).status == 200
    station = new_token(running.settings, "write", SITE_A, "bench-1")
    assert call(f"{url}/api/sites/{SITE_A}/events", station, events("bench-1")).status == 200
    other = call(f"{url}/api/sites/{SITE_A}/events", station, events("bench-2"))
    assert other.status == 403 and "bench-2" in other.json()["detail"]
    assert call(f"{url}/api/sites/{SITE_A}/stations/bench-2/open-items", station).status == 403
    coordinator = new_token(running.settings, "read", None)
    assert call(f"{url}/api/kpis/compare?days=1", coordinator).status == 200
    assert call(f"{url}/metrics", coordinator).status == 200
    assert call(f"{url}/metrics", reader).status == 403  # every site's gauges


def test_dead_letters_need_the_admin_scope(running: Running) -> None:
    url = running.url
    store = DeadLetterStore(running.settings.dead_letters.path)
    try:
        store.add_many([NewDeadLetter(f"shopfloor/v1/{SITE_A}/m1/reading", b"{", "not JSON", CONTRACT, SITE_A)])
    finally:
        store.close()
    writer = new_token(running.settings, "write", None)
    paths = [("GET", "/api/dead-letters"), ("GET", "/api/dead-letters/1"), ("POST", "/api/dead-letters/1/requeue")]
    for method, path in paths:
        answer = call(url + path, writer, b"" if method == "POST" else None, method=method)
        assert answer.status == 403 and "admin" in answer.json()["detail"], path
    admin = new_token(running.settings, "admin", None)
    [letter] = call(f"{url}/api/dead-letters", admin).json()
    assert letter["reason"] == "not JSON"
    assert call(f"{url}/api/dead-letters/{letter['id']}", admin).status == 200


def test_the_cli_creates_lists_and_revokes_on_the_running_collector(running: Running) -> None:
    url, config = running.url, str(running.config)
    created = shopfloor("collector", "token", "create", config, "--site", SITE_A, "--scope", "read", "--label", "wall")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("sfm_") and "\n" not in token
    token_id = token.split("_")[1]
    assert call(f"{url}/api/sites/{SITE_A}/kpis?days=1", token).status == 200  # no restart
    listing = shopfloor("collector", "token", "list", config)
    assert listing.returncode == 0 and token_id in listing.stdout and "wall" in listing.stdout
    assert token.split("_", 2)[2] not in listing.stdout  # never the secret
    line = next(line for line in listing.stdout.splitlines() if line.startswith(token_id))
    assert "read" in line and SITE_A in line and "never" not in line.split("wall")[0].split()[-1]  # last used
    revoked = shopfloor("collector", "token", "revoke", config, token_id)
    assert revoked.returncode == 0, revoked.stderr
    answer = call(f"{url}/api/sites/{SITE_A}/kpis?days=1", token)
    assert answer.status == 401 and 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert shopfloor("collector", "token", "revoke", config, token_id).returncode == 2
    refused = shopfloor("collector", "token", "create", config, "--site", SITE_A, "--scope", "admin")
    assert refused.returncode == 2 and "--all-sites" in refused.stderr
    helped = shopfloor("collector", "token", "create", "--help")
    assert "--all-sites" in helped.stdout and "admin" in helped.stdout


def test_answers_carry_security_headers_and_no_cors(running: Running) -> None:
    url = running.url
    page = call(f"{url}/bench/{SITE_A}/bench-1")
    assert page.status == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    api = call(f"{url}/api/sites/{SITE_A}/kpis", Origin="http://evil.example")
    assert api.headers["x-frame-options"] == "DENY" and "default-src 'none'" in api.headers["content-security-policy"]
    assert not any(name.startswith("access-control-") for name in api.headers)
    preflight = call(
        f"{url}/api/sites/{SITE_A}/events",
        method="OPTIONS",
        Origin="http://evil.example",
        Access_Control_Request_Method="POST",
        Access_Control_Request_Headers="authorization,content-type",
    )
    assert preflight.status == 405 and not any(name.startswith("access-control-") for name in preflight.headers)
    assert "set-cookie" not in page.headers
