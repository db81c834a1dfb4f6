"""Reset-safe energy counters. Pure.

A plug's total restarts at 0 after a power cut (Shelly Gen1/Gen2) or a ``EnergyReset``
(Tasmota). The edge publishes ``energy_import`` as ``offset + raw`` and, when ``raw`` drops,
adds the last raw total to ``offset``: the published counter keeps rising, the delta across
the reset is the energy counted since it (never negative, never a jump back to the old total).
The state is persisted with every reading in the outbox's database, so a restart of the
edge continues the count.

A drop smaller than ``tolerance_kwh`` is rounding noise, not a reset: the last value is held.

A multi-channel device (a Tasmota with ``SetOption129 1``) reports one total per channel and
resets one channel at a time (``EnergyTotal2 0``). Each channel gets its own counter and the
published total is their sum, so a reset of one channel adds back only that channel's total.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

DEFAULT_TOLERANCE_KWH = 0.001


@dataclass(frozen=True, slots=True)
class CounterState:
    """One device total; with ``channels``, ``offset_kwh`` is added to the sum of the channels' counters."""

    offset_kwh: float = 0.0
    last_raw_kwh: float | None = None
    resets: int = 0
    channels: tuple[CounterState, ...] = field(default=())

    def dumps(self) -> str:
        return json.dumps(self._plain())

    def _plain(self) -> dict[str, object]:
        plain: dict[str, object] = {
            "offset_kwh": self.offset_kwh,
            "last_raw_kwh": self.last_raw_kwh,
            "resets": self.resets,
        }
        if self.channels:
            plain["channels"] = [c._plain() for c in self.channels]
        return plain

    @classmethod
    def loads(cls, text: str | None) -> CounterState:
        if not text:
            return cls()
        return cls._from_plain(json.loads(text))

    @classmethod
    def _from_plain(cls, data: dict[str, Any]) -> CounterState:
        raw = data["last_raw_kwh"]
        return cls(
            float(data["offset_kwh"]),
            None if raw is None else float(raw),
            int(data["resets"]),
            tuple(cls._from_plain(c) for c in data.get("channels") or ()),
        )


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


def advance_channels(
    state: CounterState, raw_kwh: Sequence[float], tolerance_kwh: float = DEFAULT_TOLERANCE_KWH
) -> tuple[CounterState, float]:
    """:func:`advance` for a device with one total per channel: a reset is found per channel, then summed.

    When the number of channels changes (the first list after a single total, an edge that summed
    the channels before, a device reconfigured), the sum is advanced once as a single total and
    the channels start from there: the published counter neither drops nor jumps.
    """
    if len(raw_kwh) == 1 and not state.channels:
        return advance(state, raw_kwh[0], tolerance_kwh)
    if state.channels and len(state.channels) == len(raw_kwh):
        advanced = [advance(c, raw, tolerance_kwh) for c, raw in zip(state.channels, raw_kwh, strict=True)]
        channels = tuple(c for c, _ in advanced)
        resets = state.resets + sum(new.resets - old.resets for new, old in zip(channels, state.channels, strict=True))
        state = replace(state, channels=channels, resets=resets)
        return state, _tidy(state.offset_kwh + sum(total for _, total in advanced))
    summed = CounterState(
        state.offset_kwh + sum(c.offset_kwh for c in state.channels),
        sum(c.last_raw_kwh or 0.0 for c in state.channels) if state.channels else state.last_raw_kwh,
        state.resets,
    )
    summed, published = advance(summed, sum(raw_kwh), tolerance_kwh)
    if len(raw_kwh) == 1:
        return summed, published
    fresh = tuple(CounterState(0.0, raw) for raw in raw_kwh)
    return CounterState(_tidy(published - sum(raw_kwh)), None, summed.resets, fresh), published


def _tidy(kwh: float) -> float:
    # Sums of floats carry dust (12.345000000000001); a Wh resolution is far below any meter's.
    return round(kwh, 6)
