"""Reset-safe energy counters. Pure.

A plug's total restarts at 0 after a power cut (Shelly Gen1/Gen2) or a ``EnergyReset``
(Tasmota). The edge publishes ``energy_import`` as ``offset + raw`` and, when ``raw`` drops,
adds the last raw total to ``offset``: the published counter keeps rising, the delta across
the reset is the energy counted since it (never negative, never a jump back to the old total).
The state is persisted with every reading in the outbox's database, so a restart of the
edge continues the count.

A drop smaller than ``tolerance_kwh`` is rounding noise, not a reset: the last value is held.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

DEFAULT_TOLERANCE_KWH = 0.001


@dataclass(frozen=True, slots=True)
class CounterState:
    offset_kwh: float = 0.0
    last_raw_kwh: float | None = None
    resets: int = 0

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, text: str | None) -> CounterState:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(float(data["offset_kwh"]), data["last_raw_kwh"], int(data["resets"]))


def advance(
    state: CounterState, raw_kwh: float, tolerance_kwh: float = DEFAULT_TOLERANCE_KWH
) -> tuple[CounterState, float]:
    """The new state and the monotonic total to publish for the device's ``raw_kwh``."""
    last = state.last_raw_kwh
    if last is not None and raw_kwh < last:
        if last - raw_kwh <= tolerance_kwh:
            return state, _tidy(state.offset_kwh + last)
        state = CounterState(state.offset_kwh + last, raw_kwh, state.resets + 1)
        return state, _tidy(state.offset_kwh + raw_kwh)
    state = replace(state, last_raw_kwh=raw_kwh)
    return state, _tidy(state.offset_kwh + raw_kwh)


def _tidy(kwh: float) -> float:
    # Sums of floats carry dust (12.345000000000001); a Wh resolution is far below any meter's.
    return round(kwh, 6)
