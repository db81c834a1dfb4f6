"""Pairing, token rotation and CSRF in headless Chromium, against ``shopfloor collector run`` (real mosquitto and
influxd), with tokens managed by the real CLI while the collector runs.

- A tablet pairs from the link `token pair` prints, checks an item in, starts and finishes it. Offline, the
  technician taps on while the station's token is revoked and the page is paired again; back online, the
  refused send keeps every tap ("re-pair needed"), and after re-pairing exactly the tapped events arrive, once.
- A page on another loopback origin (``localhost`` against the collector's ``127.0.0.1``) fires fetch POSTs
  with ``mode: 'no-cors'`` and form submits at the event and requeue endpoints, from a browser whose
  collector tab holds a paired token: nothing reaches InfluxDB, the spool or the dead letters.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from collector.settings import load_settings
from collector.storage.dead_letters import CONTRACT, DeadLetterStore, NewDeadLetter
from simulator.services import free_port, wait_until
from tests.browser.test_bench_page import (
    CONFIGS,
    SITE,
    STATION,
    collector_url,  # noqa: F401
    get_json,
    pairing_link,
    phone,  # noqa: F401
    token_for,
)
from tests.collector.traffic import base_ts_ms, reading
from tests.harness.cli import shopfloor
from tests.harness.influx import InfluxTestDB

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]

playwright_sync = pytest.importorskip("playwright.sync_api")


def sync_text(page: Any) -> str:
    return str(page.evaluate("document.getElementById('sync').textContent"))


def test_pairing_then_rotation_while_offline_then_flush_delivers_every_tap_once(
    collector_url: str,  # noqa: F811
    phone: Any,  # noqa: F811
    influx_db: InfluxTestDB,
) -> None:
    config = str(CONFIGS[collector_url])
    page = phone.new_page()
    page.goto(pairing_link(collector_url))
    page.wait_for_selector("#checkin select[name=category] option[value=Laptop]", state="attached")
    assert page.locator("#problem-banner").is_hidden()
    stored_token = page.evaluate(f"JSON.parse(localStorage.getItem('shopfloor.bench.{SITE}.{STATION}.token'))")
    assert stored_token.startswith("sfm_")
    old_id = stored_token.split("_")[1]

    page.select_option("#checkin select[name=category]", "Laptop")
    page.fill("#checkin input[name=weight_kg]", "1.8")
    page.click("#checkin button[type=submit]")
    item = page.locator("#items li.item")
    item.wait_for()
    page.wait_for_function("() => document.getElementById('sync').textContent === 'Saved'", timeout=30_000)

    # Offline: the tablet taps on while, at the office, its token is rotated (revoked, a new link printed).
    phone.set_offline(True)
    item.get_by_role("button", name="Start").click()
    item.get_by_role("button", name="Finish").click()
    page.check("#finish-form input[name=repair_status][value=Repairable]")
    page.click("#finish-confirm")
    page.wait_for_function("() => document.getElementById('sync').textContent === '2 waiting to send'")
    revoked = shopfloor("collector", "token", "revoke", config, old_id)
    assert revoked.returncode == 0, revoked.stderr
    new_link = pairing_link(collector_url)

    # Back online with the revoked token: refused, and every tap stays queued.
    phone.set_offline(False)
    page.wait_for_function("() => !document.getElementById('problem-banner').hidden", timeout=30_000)
    assert "Re-pair needed" in page.inner_text("#problem-banner")
    assert sync_text(page) == "2 waiting to send"
    queued = page.evaluate(f"JSON.parse(localStorage.getItem('shopfloor.bench.{SITE}.{STATION}.queue'))")
    assert [event["type"] for event in queued] == ["started", "finished"]

    # Re-paired (the new link opened in the same tab): the queue flushes.
    page.goto(new_link)
    page.wait_for_function("() => document.getElementById('sync').textContent === 'Saved'", timeout=30_000)
    assert page.locator("#problem-banner").is_hidden()

    def rows() -> list[dict[str, Any]]:
        return influx_db.query("SELECT * FROM repair_event")

    wait_until(lambda: len(rows()) == 3, 15, "the three tapped events in InfluxDB")
    events = rows()
    assert sorted(row["type"] for row in events) == ["checked_in", "finished", "started"]
    assert len({row["event_id"] for row in events}) == 3
    finished = next(row for row in events if row["type"] == "finished")
    assert finished["repair_status"] == "Repairable" and finished["category"] == "Laptop"
    reader = token_for(collector_url)
    kpis = get_json(f"{collector_url}/api/sites/{SITE}/kpis?days=1", reader)
    assert kpis["items"]["finished"] == 1 and kpis["items"]["repairable"] == 1
    # A pairing link works once.
    used = pairing_link(collector_url)
    tab = phone.new_page()
    tab.goto(used)
    token_key = f"shopfloor.bench.{SITE}.{STATION}.token"
    tab.wait_for_function(f"() => localStorage.getItem('{token_key}') !== {json.dumps(json.dumps(stored_token))}")
    tab.evaluate(f"localStorage.removeItem('{token_key}')")
    tab.goto(f"{collector_url}/bench/{SITE}/{STATION}?again=1{used[used.index('#') :]}")
    tab.wait_for_function("() => !document.getElementById('problem-banner').hidden", timeout=15_000)
    assert "refused" in tab.inner_text("#problem-banner")


ATTACK_PAGE = """<!doctype html><html><body>
<form id="event" method="POST" action="{api}/api/sites/{site}/events" enctype="text/plain">
  <input name='{form_json}' value='"}}]'>
</form>
<form id="requeue" method="POST" action="{api}/api/dead-letters/{letter}/requeue" enctype="text/plain" target="sink">
  <input name="a" value="b">
</form>
<iframe name="sink"></iframe>
<script>
const event = JSON.stringify([{{event_id: "fetch-1", ts_ms: {now}, station: "{station}", type: "checked_in",
  item_id: "evil-1", category: "Laptop"}}]);
window.attack = Promise.allSettled([
  fetch("{api}/api/sites/{site}/events", {{method: "POST", mode: "no-cors", body: event,
    headers: {{"Content-Type": "text/plain"}}}}),
  fetch("{api}/api/sites/{site}/events", {{method: "POST", mode: "no-cors", credentials: "include", body: event}}),
  fetch("{api}/api/dead-letters/{letter}/requeue", {{method: "POST", mode: "no-cors"}}),
  // A Blob without a type sends no Content-Type at all: the body would be read as JSON.
  fetch("{api}/api/sites/{site}/events", {{method: "POST", mode: "no-cors", body: new Blob([event])}}),
  fetch("{api}/api/sites/{site}/events", {{method: "POST", body: event,
    headers: {{"Content-Type": "application/json", "Authorization": "Bearer " + (localStorage.getItem("t") || "")}}}}),
]).then((results) => results.map((r) => r.status));
</script></body></html>"""


@pytest.fixture
def attacker() -> Iterator[tuple[str, dict[str, str]]]:
    """A web server on another origin (localhost, another port) that serves the attack page."""
    pages: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}", pages
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_origin_cannot_create_an_event_or_requeue_a_letter(
    collector_url: str,  # noqa: F811
    phone: Any,  # noqa: F811
    influx_db: InfluxTestDB,
    attacker: tuple[str, dict[str, str]],
) -> None:
    import time

    settings = load_settings(CONFIGS[collector_url])
    store = DeadLetterStore(settings.dead_letters.path)
    # A valid reading: requeued, it would be spooled and written.
    body = json.dumps(reading(1, 1, base_ts_ms()))
    try:
        letter_in = NewDeadLetter(f"shopfloor/v1/{SITE}/m01/reading", body.encode(), "test letter", CONTRACT, SITE)
        store.add_many([letter_in])
        [letter] = store.entries()
    finally:
        store.close()

    # The technician's browser: the bench page is paired, its token in the collector origin's localStorage.
    tablet = phone.new_page()
    tablet.goto(pairing_link(collector_url))
    tablet.wait_for_function(
        f"() => localStorage.getItem('shopfloor.bench.{SITE}.{STATION}.token') !== null", timeout=15_000
    )

    origin, pages = attacker
    now = int(time.time() * 1000)
    # A text/plain form whose name=value pair spells a JSON array of one event (the classic JSON CSRF).
    form_json = json.dumps(
        [{"event_id": "form-1", "ts_ms": now, "station": STATION, "type": "finished", "item_id": "x", "x": ""}]
    )[:-3]
    pages["/"] = ATTACK_PAGE.format(
        api=collector_url, site=SITE, station=STATION, now=now, letter=letter.id, form_json=form_json
    )
    evil = phone.new_page()
    requests: list[str] = []
    evil.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
    evil.goto(f"{origin}/")
    outcomes = evil.evaluate("window.attack")
    assert len(outcomes) == 5
    # The readable request was stopped by CORS (no CORS headers): it rejects. The others went out opaquely.
    assert outcomes[4] == "rejected" and outcomes.count("fulfilled") == 4
    evil.evaluate("document.getElementById('requeue').submit()")
    with evil.expect_navigation():
        evil.evaluate("document.getElementById('event').submit()")
    assert "401" in evil.content() or "bearer" in evil.content().lower()
    assert sum(f"POST {collector_url}/api/" in line for line in requests) >= 5  # the attacks were sent

    # Nothing was stored: no event in InfluxDB or the item index, the letter is not requeued, the spool is empty.
    admin = token_for(collector_url, "admin", None)
    [still] = get_json(f"{collector_url}/api/dead-letters", admin)
    assert still["id"] == letter.id and still["requeued_at_ms"] is None
    metrics = get_json_text(f"{collector_url}/metrics", admin)
    assert 'shopfloor_collector_messages_received_total{kind="event"}' not in metrics or (
        'shopfloor_collector_messages_received_total{kind="event"} 0.0' in metrics
    )
    assert influx_db.query("SELECT * FROM repair_event") == []
    assert influx_db.query("SELECT * FROM meter") == []


def get_json_text(url: str, token: str) -> str:
    import urllib.request

    from tests.harness.api import bearer

    with urllib.request.urlopen(urllib.request.Request(url, headers=bearer(token)), timeout=10) as response:
        return str(response.read().decode())
