"""What a plug message says, in contract units, before the edge adds its counter and ids."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any


class PayloadError(ValueError):
    """The payload is not what the device format promises; the message is skipped and logged."""


@dataclass(frozen=True, slots=True)
class Sample:
    """``power_w`` in W, ``energy_kwh`` the device's own (resettable) total; ``ts_ms`` None = receive time.

    ``energy_channels_kwh``: a multi-channel device's total per channel (``energy_kwh`` is their sum),
    so that a reset of one channel is found in that channel. ``advice``: what to change on the device
    for a better reading, logged once per source.
    """

    power_w: float | None = None
    energy_kwh: float | None = None
    ts_ms: int | None = None
    energy_channels_kwh: tuple[float, ...] = ()
    advice: str | None = None


def number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PayloadError(f"{what} is not a number: {value!r}"[:200])
    try:
        result = float(value)
    except ValueError:
        raise PayloadError(f"{what} is not a number: {value!r}"[:200]) from None
    if not math.isfinite(result):
        raise PayloadError(f"{what} is not finite: {value!r}")
    return result


EARLIEST_MS, LATEST_MS = 946_684_800_000, 4_102_444_800_000  # the contract's range: 2000..2100


def plausible_ms(ts_ms: int) -> int | None:
    """A device clock that was never set (1970) or is far off gives no time: the receive time is used."""
    return ts_ms if EARLIEST_MS <= ts_ms <= LATEST_MS else None


def json_object(payload: bytes, what: str) -> dict[str, Any]:
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"{what}: not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise PayloadError(f"{what}: expected a JSON object")
    return body
