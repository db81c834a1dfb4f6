"""The dashboards' report links lead to the collector's report routes, with a range the routes accept."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import pytest

from collector.api.routes.reports import router
from collector.reports.periods import choose
from dashboards import generate


@pytest.mark.parametrize(
    ("uid", "route"),
    [
        ("shopfloor-site-overview", "/api/reports/sites/{site}"),
        ("shopfloor-cluster-comparison", "/api/reports/cluster"),
    ],
)
def test_report_link_opens_a_report_route(uid: str, route: str) -> None:
    dashboards: dict[str, Any] = {board["uid"]: board for board in generate.load().values()}
    board = dashboards[uid]
    [link] = [link for link in board["links"] if "/api/reports/" in link.get("url", "")]
    assert link["type"] == "link" and link["targetBlank"] is True
    names = {variable["name"] for variable in board["templating"]["list"]}
    assert "collector_url" in names
    # As Grafana fills it in for one site and the dashboard's days.
    url = (
        link["url"]
        .replace("${collector_url}", "http://127.0.0.1:8080")
        .replace("${site}", "gent-repair")
        .replace("${__from:date:YYYY-MM-DD}", "2026-11-01")
        .replace("${__to:date:YYYY-MM-DD}", "2026-11-30")
    )
    assert "$" not in url, url
    parts = urllib.parse.urlsplit(url)
    pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", route) + "$"
    assert re.match(pattern, parts.path), parts.path
    assert route in {getattr(r, "path", "") for r in router.routes}
    query = dict(urllib.parse.parse_qsl(parts.query))
    assert query["format"] == "pdf"
    period = choose("Europe/Brussels", month_text=None, quarter_text=None, start=query["from"], end=query["to"])
    assert period.label == "2026-11-01..2026-11-30"
