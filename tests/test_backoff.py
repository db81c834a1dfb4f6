"""The one back-off of the project (shopfloor.backoff): edge reconnects, InfluxDB retries, meter polls, imports."""

from __future__ import annotations

from shopfloor.backoff import backoff_s


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    assert backoff_s(0, 1, 60, rand=lambda: 0.0) == 0.5
    assert backoff_s(0, 1, 60, rand=lambda: 1.0) == 1.0
    assert backoff_s(3, 1, 60, rand=lambda: 1.0) == 8.0
    assert backoff_s(20, 1, 60, rand=lambda: 0.0) == 30.0
    assert backoff_s(20, 1, 60, rand=lambda: 1.0) == 60.0


def test_without_jitter_it_is_exactly_the_cap() -> None:
    assert [backoff_s(n, 0.5, 8.0, rand=None) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
