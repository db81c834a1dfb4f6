"""The pause after a commit or a write (collector.pacing): pure arithmetic on the times it is given."""

from __future__ import annotations

import pytest

from collector.pacing import Pace


def test_nothing_done_yet_means_the_first_operation_goes_at_once() -> None:
    pace = Pace(longest_s=0.025)
    assert pace.pause_s == 0.0
    assert pace.remaining_s(now=0.0) < 0


def test_the_pause_is_twice_what_the_operation_took() -> None:
    pace = Pace(longest_s=0.025)
    pace.done(started=10.000, ended=10.004)
    assert pace.pause_s == pytest.approx(0.008)
    assert pace.remaining_s(now=10.004) == pytest.approx(0.008)
    assert pace.remaining_s(now=10.010) == pytest.approx(0.002)
    assert pace.remaining_s(now=10.013) < 0


def test_a_slow_operation_earns_the_cap_not_more() -> None:
    pace = Pace(longest_s=0.025)
    pace.done(started=10.0, ended=10.5)  # a 500 ms write under load
    assert pace.pause_s == 0.025
    pace.done(started=11.0, ended=11.001)  # then a quick one: the pause follows it down
    assert pace.pause_s == pytest.approx(0.002)


def test_a_zero_cap_never_pauses() -> None:
    pace = Pace(longest_s=0.0)
    pace.done(started=1.0, ended=2.0)
    assert pace.pause_s == 0.0
    assert pace.remaining_s(now=2.0) == 0.0


def test_a_clock_that_went_backwards_is_no_negative_pause() -> None:
    pace = Pace(longest_s=0.025)
    pace.done(started=5.0, ended=4.0)
    assert pace.pause_s == 0.0
