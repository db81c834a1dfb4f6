"""Exponential back-off, the one form every retry loop of the project uses."""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_s(attempt: int, minimum: float, maximum: float, rand: Callable[[], float] | None = random.random) -> float:
    """The pause before retry ``attempt`` (0 first): cap = minimum * 2^attempt, at most ``maximum``.

    With ``rand`` (the default), jittered: uniform in [cap/2, cap], so many clients that failed together
    (a site's edges after a broker restart) do not retry in lockstep. ``rand=None``: exactly the cap.
    """
    cap = min(maximum, minimum * (2 ** min(attempt, 30)))
    if rand is None:
        return float(cap)
    return float(cap / 2 + rand() * cap / 2)
