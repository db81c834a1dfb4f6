"""``last_message_age_seconds`` forgets sources silent for a week (issue 16): a finished backfill's
``<site>-history`` source must not stay in /metrics for the fleet's whole life."""

from __future__ import annotations

import time

from collector.metrics import CollectorMetrics

WEEK_S = 7 * 86_400
SERIES = "shopfloor_collector_last_message_age_seconds"


def test_a_source_silent_for_a_week_leaves_the_metrics_and_a_live_one_stays() -> None:
    metrics = CollectorMetrics()
    now = time.time()
    metrics.last_seen.mark("gent", "gent-history", now - WEEK_S - 60)
    metrics.last_seen.mark("gent", "main", now - 5)
    metrics.last_seen.mark("gent", "bench-1", now - WEEK_S + 3600)  # silent 6 days 23 h: still shown
    text = metrics.render().decode()
    shown = {line.split("{")[1].split("}")[0] for line in text.splitlines() if line.startswith(SERIES + "{")}
    assert shown == {'device="main",site="gent"', 'device="bench-1",site="gent"'}

    metrics.last_seen.mark("gent", "gent-history", time.time())  # it speaks again: it is back
    assert 'device="gent-history"' in metrics.render().decode()
