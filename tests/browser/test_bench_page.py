"""The bench page on a phone-sized headless Chromium, served by a real collector (``shopfloor collector run``)
in front of real mosquitto and influxd: check an item in, start it, finish it as Fixed; find the event in
InfluxDB and in the KPI API. The connection is made flaky on the way (an answer lost after the server
stored the events, a request that never arrives, then the phone offline): nothing is lost, nothing doubled.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector.settings import load_settings
from simulator.services import Influxd, Mosquitto, free_port, wait_until
from tests.harness.api import bearer, new_token
from tests.harness.cli import shopfloor
from tests.harness.influx import InfluxTestDB
from tests.harness.processes import collector_serving, collector_yaml

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SITE = "gent"
STATION = "bench-1"


# The collector.yaml of each collector_url, for the token CLI.
CONFIGS: dict[str, Path] = {}


def get_json(url: str, token: str) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers=bearer(token)), timeout=10) as response:
        return json.loads(response.read())


def pairing_link(collector_url: str, site: str = SITE, station: str = STATION) -> str:
    """What `shopfloor collector token pair` prints: the link a technician opens on the tablet."""
    args = ["--site", site, "--station", station, "--url", collector_url, "--no-qr"]
    done = shopfloor("collector", "token", "pair", str(CONFIGS[collector_url]), *args)
    assert done.returncode == 0, done.stderr
    link = done.stdout.strip()
    assert link.startswith(f"{collector_url}/bench/{site}/{station}#pair="), link
    return link


def token_for(collector_url: str, scope: str = "read", site: str | None = SITE) -> str:
    return new_token(load_settings(CONFIGS[collector_url]), scope, site)


@pytest.fixture
def collector_url(tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd, influx_db: InfluxTestDB) -> Iterator[str]:
    port = free_port()
    config = collector_yaml(
        tmp_path / "collector.yaml", mosquitto.port, influxd.url, influx_db.database, port, collector_id="browser-test"
    )
    with collector_serving(config, port, tmp_path / "collector.log") as url:
        CONFIGS[url] = config
        yield url


@pytest.fixture
def phone() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
            yield context
        finally:
            browser.close()


def test_check_in_start_finish_fixed_over_a_flaky_connection(
    collector_url: str, phone: Any, influx_db: InfluxTestDB
) -> None:
    posts: list[str] = []

    def flaky(route: Any) -> None:
        posts.append(route.request.post_data or "")
        if len(posts) == 1:
            route.fetch()  # the server stores the events ...
            route.abort("connectionreset")  # ... and the answer is lost: the page must retry, not double
        elif len(posts) == 2:
            route.abort("connectionrefused")  # this time nothing reaches the server
        else:
            route.continue_()

    page = phone.new_page()
    page.route(f"**/api/sites/{SITE}/events", flaky)
    page.goto(pairing_link(collector_url))
    page.wait_for_selector("#checkin select[name=category] option[value=Laptop]", state="attached")
    assert "#pair=" not in page.url  # the one-time code leaves the address bar and the history
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "horizontal scroll at 360 px"
    # The header links the site's report for last month (docs/reports.md), which the collector serves.
    report = page.get_attribute("#report-link", "href") or ""
    assert report.startswith(f"/api/reports/sites/{SITE}?month=") and report.endswith("&format=pdf"), report
    reader = token_for(collector_url)
    with urllib.request.urlopen(
        urllib.request.Request(collector_url + report, headers=bearer(reader)), timeout=60
    ) as response:
        assert response.headers["Content-Type"] == "application/pdf" and response.read(5) == b"%PDF-"

    page.select_option("#checkin select[name=category]", "Laptop")
    page.fill("#checkin input[name=weight_kg]", "2.1")
    page.click("#checkin button[type=submit]")
    item = page.locator("#items li.item")
    item.wait_for()
    # Acknowledged only on the third POST (after the backoff): until then it waits in localStorage.
    page.wait_for_function("() => document.getElementById('sync').textContent === 'Saved'", timeout=30_000)
    assert len(posts) >= 3

    phone.set_offline(True)
    item.get_by_role("button", name="Start").click()
    assert page.locator("#items li.item").get_attribute("data-state") == "working"
    item.get_by_role("button", name="Finish").click()
    page.check("#finish-form input[name=repair_status][value=Fixed]")
    page.click("#finish-confirm")
    page.wait_for_function("() => document.getElementById('sync').textContent === '2 waiting to send'")
    assert page.locator("#items li.item").count() == 0
    queued = page.evaluate(f"JSON.parse(localStorage.getItem('shopfloor.bench.{SITE}.{STATION}.queue'))")
    assert [event["type"] for event in queued] == ["started", "finished"]

    phone.set_offline(False)
    page.wait_for_function("() => document.getElementById('sync').textContent === 'Saved'", timeout=30_000)

    def stored() -> list[dict[str, Any]]:
        return influx_db.query("SELECT * FROM repair_event")

    wait_until(lambda: len(stored()) == 3, 15, "three events in InfluxDB")
    by_type = {row["type"]: row for row in stored()}
    assert set(by_type) == {"checked_in", "started", "finished"}
    finished = by_type["finished"]
    assert finished["repair_status"] == "Fixed" and finished["category"] == "Laptop"
    assert finished["source"] == "bench-page" and finished["kg"] == 2.1 and finished["bench_s"] >= 0
    assert finished["item_id"] == by_type["checked_in"]["item_id"]

    kpis = get_json(f"{collector_url}/api/sites/{SITE}/kpis?days=1", reader)
    assert kpis["items"]["finished"] == 1 and kpis["items"]["fixed"] == 1 and kpis["items"]["fix_rate"] == 1.0
    assert get_json(f"{collector_url}/api/sites/{SITE}/stations/{STATION}/open-items", reader)["items"] == []
    page.reload()
    page.wait_for_selector("#empty", state="visible")
    assert page.locator("#rejected-section").is_hidden()
