"""How long a group of work may grow before the next spool commit or write request: rate-adaptive pacing.

A commit or a write request costs about the same for one line as for hundreds, so under load the ingest and
the drainer let the next group grow for a pause after each one. A fixed pause is the latency floor at every
load: at 5 % of the ceiling a 20 ms commit pause plus a 25 ms write pause were a p50 of 40 ms, with the CPU
idle. Here the pause is ``share`` times what the last operation itself took, capped by the setting: light
traffic makes quick commits and small writes, so short pauses; under load the operations grow and so do the
pauses, up to the cap, where the batches are as large as before. With ``share`` 2, committing or writing
takes at most a third of its thread's time until the pauses reach the cap.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

PAUSE_PER_OPERATION_TIME = 2.0


@dataclass
class Pace:
    """The pause after each operation: ``share`` × its own duration, at most ``longest_s``."""

    longest_s: float
    share: float = PAUSE_PER_OPERATION_TIME
    last_end: float = field(default=-math.inf, init=False)  # monotonic; -inf: nothing yet, the first goes at once
    pause_s: float = field(default=0.0, init=False)  # what the last operation earned

    def done(self, started: float, ended: float | None = None) -> None:
        """Note an operation that ran from ``started`` (monotonic) until ``ended`` (default: now)."""
        end = time.monotonic() if ended is None else ended
        self.last_end = end
        self.pause_s = min(self.longest_s, self.share * max(0.0, end - started))

    def remaining_s(self, now: float | None = None) -> float:
        """How much of the pause is left (0 or less: the next operation may go now)."""
        return self.last_end + self.pause_s - (time.monotonic() if now is None else now)
