"""What a technician reads on the bench page, on a phone-sized headless Chromium in front of a real collector
(issue 16): the barrier select only for End of life (its computed visibility, not its ``hidden`` attribute),
the check-in time labelled as such in the site's time zone with its day when it is not today, and a finish
dialog that tells two laptops apart.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from simulator.services import Influxd, Mosquitto, free_port
from tests.browser.test_bench_page import CHROMIUM, CHROMIUM_ARGS, CONFIGS, pairing_link, token_for
from tests.harness.api import bearer
from tests.harness.influx import InfluxTestDB
from tests.harness.processes import collector_serving, collector_yaml

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]

playwright_sync = pytest.importorskip("playwright.sync_api")

SITE = "gent"
STATION = "bench-1"
# Far from the browser's UTC, so a time shown in the browser's zone cannot pass for the site's.
SITE_ZONE = "Pacific/Auckland"


@pytest.fixture
def collector_url(tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd, influx_db: InfluxTestDB) -> Iterator[str]:
    port = free_port()
    config = collector_yaml(
        tmp_path / "collector.yaml",
        mosquitto.port,
        influxd.url,
        influx_db.database,
        port,
        collector_id="browser-details",
        extra=f"sites:\n  {SITE}:\n    timezone: {SITE_ZONE}\n",
    )
    with collector_serving(config, port, tmp_path / "collector.log") as url:
        CONFIGS[url] = config
        yield url


@pytest.fixture
def page(collector_url: str) -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 360, "height": 740},
                is_mobile=True,
                has_touch=True,
                timezone_id="UTC",
                locale="en-GB",
            )
            yield context.new_page()
        finally:
            browser.close()


def check_in(collector_url: str, item_id: str, brand: str, ts_ms: int) -> None:
    event = {
        "event_id": str(uuid.uuid4()),
        "ts_ms": ts_ms,
        "station": STATION,
        "type": "checked_in",
        "item_id": item_id,
        "category": "Laptop",
        "brand": brand,
        "source": "test",
    }
    request = urllib.request.Request(
        f"{collector_url}/api/sites/{SITE}/events",
        data=json.dumps([event]).encode(),
        headers={"Content-Type": "application/json", **bearer(token_for(collector_url, "write"))},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["accepted"] == [event["event_id"]]


def open_bench(page: Any, collector_url: str, items: int) -> None:
    page.goto(pairing_link(collector_url))
    page.wait_for_function(f"() => document.querySelectorAll('#items li.item').length === {items}")


def test_barrier_select_is_visible_only_for_end_of_life(collector_url: str, page: Any) -> None:
    check_in(collector_url, "bench-1-old-a81f0c", "Dell", int(time.time() * 1000) - 60_000)
    open_bench(page, collector_url, 1)
    page.locator("#items li.item").get_by_role("button", name="Finish").click()
    barrier = page.locator("#barrier-field")
    seen = {}
    for outcome in ["Fixed", "Repairable", "End of life", "Unknown", "", "Fixed"]:
        page.check(f"#finish-form input[name=repair_status][value='{outcome}']")
        display = page.evaluate("getComputedStyle(document.getElementById('barrier-field')).display")
        seen[outcome] = (barrier.is_visible(), display)
    assert seen == {
        "Fixed": (False, "none"),
        "Repairable": (False, "none"),
        "End of life": (True, "block"),
        "Unknown": (False, "none"),
        "": (False, "none"),
    }


def test_check_in_time_is_labelled_in_the_site_zone_with_its_day_and_the_dialog_names_the_item(
    collector_url: str, page: Any
) -> None:
    zone = ZoneInfo(SITE_ZONE)
    now_ms = int(time.time() * 1000)
    old_ms = now_ms - 3 * 86_400_000
    new_ms = now_ms - 60_000
    check_in(collector_url, "bench-1-old-a81f0c", "Dell", old_ms)
    check_in(collector_url, "bench-1-new-77b2e9", "Lenovo", new_ms)
    open_bench(page, collector_url, 2)

    cards = page.locator("#items li.item")
    old_meta = cards.nth(0).locator(".meta").inner_text()
    new_meta = cards.nth(1).locator(".meta").inner_text()
    old_local = datetime.fromtimestamp(old_ms / 1000, zone)
    new_local = datetime.fromtimestamp(new_ms / 1000, zone)
    today = datetime.fromtimestamp(now_ms / 1000, zone).date()

    assert f"checked in {old_local:%a} {old_local.day} {old_local:%b}" in old_meta, old_meta
    assert f"{old_local:%H:%M}" in old_meta, old_meta
    assert f"{datetime.fromtimestamp(old_ms / 1000, ZoneInfo('UTC')):%H:%M}" not in old_meta, old_meta
    if new_local.date() == today:
        assert f"checked in {new_local:%H:%M}" in new_meta, new_meta
    else:  # the test ran in the minute after the site's midnight
        assert f"checked in {new_local:%a} {new_local.day}" in new_meta, new_meta

    cards.nth(1).get_by_role("button", name="Finish").click()
    title = page.locator("#finish h2").inner_text()
    assert "Laptop" in title and "Lenovo" in title and "77b2e9" in title, title
    page.click("#finish-form button[value=cancel]")
    cards.nth(0).get_by_role("button", name="Finish").click()
    title = page.locator("#finish h2").inner_text()
    assert "Dell" in title and "a81f0c" in title, title
