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
    """``power_w`` in W, ``energy_kwh`` the device's own (resettable) total; ``ts_ms`` None = receive time."""

    power_w: float | None = None
    energy_kwh: float | None = None
    ts_ms: int | None = None


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


def json_object(payload: bytes, what: str) -> dict[str, Any]:
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"{what}: not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise PayloadError(f"{what}: expected a JSON object")
    return body
