"""Cross-site comparison, normalised per item and per bench-hour."""

from __future__ import annotations

import pytest

from shopfloor.kpi.compare import SiteTotals, compare_sites


def test_sites_are_normalised_and_empty_ones_give_none() -> None:
    busy = SiteTotals("gent", 40, 30, 120.0, 90.0, 60.0, 2000.0, 80.0, 20.0, 1_700_000_000_000)
    empty = SiteTotals("brussel", 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, None, None)
    rows = compare_sites([busy, empty], now_ms=1_700_000_060_000)
    assert [r.site for r in rows] == ["brussel", "gent"]
    none_row, gent = rows
    assert gent.items_per_bench_hour == 0.5 and gent.kwh_per_item == 0.5 and gent.kwh_per_bench_hour == 0.25
    assert gent.reuse_rate_items == 0.75 and gent.reuse_rate_kg == 0.75
    assert gent.kg_diverted_per_item == 1.5 and gent.co2e_kg_per_item == 50.0
    assert gent.data_age_s == pytest.approx(60.0)
    assert none_row.items_per_bench_hour is None and none_row.kwh_per_item is None
    assert none_row.reuse_rate_items is None and none_row.data_age_s is None
