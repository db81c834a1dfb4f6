"""/docs and /redoc on a LAN without internet: headless Chromium with every non-loopback request blocked
still renders the endpoint list, from assets the collector serves itself (issue 16, item 4)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.test_bench_page import CHROMIUM, CHROMIUM_ARGS, collector_url, phone  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.browser]

playwright_sync = pytest.importorskip("playwright.sync_api")


def test_api_docs_render_with_the_internet_blocked(collector_url: str) -> None:  # noqa: F811
    blocked: list[str] = []

    def loopback_only(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", loopback_only)
            page.goto(f"{collector_url}/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=30_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            assert "/api/sites/{site}/kpis" in [p.replace("\u200b", "") for p in paths]
            assert blocked == []  # Swagger UI asked for nothing beyond the collector
            page.goto(f"{collector_url}/redoc")
            # ReDoc rendered its menu from /openapi.json (the entry may be folded away, so attached is enough).
            page.get_by_text("Items, throughput and energy KPIs of a site").first.wait_for(
                state="attached", timeout=30_000
            )
        finally:
            browser.close()
    # ReDoc still renders; the only thing it asks the internet for is its own "powered by" logo.
    assert all(url.startswith("https://cdn.redoc.ly/") and url.endswith("logo-mini.svg") for url in blocked), blocked
