"""The comparison's meter piece (``meter_kwh_piece``) has exactly ``meter_piece``'s energy terms, and nothing else."""

from __future__ import annotations

import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from shopfloor.kpi.energy import MeterSample, segments
from shopfloor.kpi.opening_hours import OpeningHours
from shopfloor.kpi.pieces import MeterPiece, clip_segments, meter_kwh_piece, meter_piece

TZ = "Europe/Brussels"
DAY_START = int(datetime(2026, 3, 29, tzinfo=ZoneInfo(TZ)).timestamp() * 1000)  # a 23-hour day
HOURS = OpeningHours(hours="mon-fri 09:00-17:00; sat,sun 10:00-14:00", timezone=TZ)


def samples(seed: int) -> list[MeterSample]:
    """A day of minute samples with gaps, a counter reset and missing values."""
    rng = random.Random(seed)
    rows: list[MeterSample] = []
    counter = 1000.0
    at = DAY_START - 60_000
    while at < DAY_START + 23 * 3_600_000 + 60_000:
        at += 60_000 * (rng.choice([1, 1, 1, 1, 7, 45]) if seed else 1)
        counter = 0.0 if rng.random() < 0.002 else counter + rng.random() / 30
        power = None if rng.random() < 0.05 else rng.random() * 3000
        energy = None if rng.random() < 0.05 else counter
        rows.append(MeterSample(at, power, energy))
    return rows


@pytest.mark.parametrize("seed", range(6))
def test_the_energy_terms_equal_meter_piece_and_the_rest_stays_default(seed: int) -> None:
    segs = clip_segments(segments(samples(seed)), DAY_START, DAY_START + 23 * 3_600_000)
    full = meter_piece(segs, HOURS, TZ)
    only = meter_kwh_piece(segs, TZ)
    assert full.has_data and full.kwh > 0 and full.peak_kw is not None and full.profile, "an empty piece proves nothing"
    for name in ("has_data", "day", "kwh", "covered_ms", "gap"):
        assert getattr(only, name) == getattr(full, name), name
    default = MeterPiece()
    for name in ("closed_kwh", "closed_ms", "open_kwh", "open_ms", "peak_kw", "peak_slot_ms", "profile"):
        assert getattr(only, name) == getattr(default, name), name


def test_no_segments_is_no_data() -> None:
    assert meter_kwh_piece([], TZ) == MeterPiece() == meter_piece([], HOURS, TZ)
