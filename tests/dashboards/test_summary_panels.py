"""The panels whose KPI the day summaries hold read ``rollup.kpi_day`` only, and say that they cover settled days.

Their numbers are checked against the KPI API in test_queries.py; this keeps them from drifting back to raw
events or meter data, where Grafana and the API could disagree again (docs/dashboards.md).
"""

from __future__ import annotations

import re

import pytest

from dashboards import generate

DASHBOARDS = generate.load()
SUMMARY_PANELS = (
    ("site-overview", "kWh yesterday"),
    ("cluster-comparison", "Sites side by side"),
    ("cluster-comparison", "kWh per item"),
    ("cluster-comparison", "Reuse rate"),
    ("cluster-comparison", "Throughput per bench-hour"),
    ("cluster-comparison", "kg diverted"),
)


def panel(dashboard: str, title: str) -> dict[str, object]:
    return next(p for p in DASHBOARDS[dashboard]["panels"] if p["title"] == title)


@pytest.mark.parametrize("key", SUMMARY_PANELS, ids=lambda key: f"{key[0]}:{key[1]}")
def test_summary_panels_read_only_the_day_summaries(key: tuple[str, str]) -> None:
    found = panel(*key)
    queries = [target["query"] for target in found["targets"]]  # type: ignore[attr-defined]
    assert queries
    for query in queries:
        sources = re.findall(r'FROM\s+("[^"]+"(?:\."[^"]+")?|\$\w+)', query)
        assert sources == ['"rollup"."kpi_day"'], query
    description = str(found["description"])
    assert "settled" in description and "day summar" in description


def test_the_cluster_comparison_offers_no_filter_the_summaries_cannot_apply() -> None:
    names = {variable["name"] for variable in DASHBOARDS["cluster-comparison"]["templating"]["list"]}
    assert "category" not in names and "main_meter" not in names
    assert "site" in names
