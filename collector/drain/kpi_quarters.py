"""Keep the quarter-hour energy summaries (``rollup.kpi_quarter``, collector/kpi/quarters.py) current, from
the drainer, beside the day summaries (``KpiDayCatchUp`` drives it).

Per site, a *cursor*: the first quarter not stored yet. Quarters are kept from the oldest day that has not
settled (older days have their day summary). A quarter is computed ``QUARTER_SETTLE_MS`` after it ends,
together with any quarter before it that was not complete (a meter that went silent: its quarters wait
for its next sample), all sites due in the same two requests. A late meter minute (written after it
closed: an edge's backlog, a requeued dead letter) moves the cursor back to the quarter before the one
it falls in, whose last segment it can change, so those quarters are computed again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from collector.kpi.quarters import QUARTER_MS, QuarterSummaries, quarter_start, unsettled_start
from collector.kpi.summaries import MINUTE_MS, SETTLE_MS
from collector.points import NS_PER_MS
from collector.settings import SiteSettings

# A quarter's last minute closes at its end; its points come within seconds, and the rollup's query runs then.
QUARTER_SETTLE_MS = 2 * MINUTE_MS


class QuarterCatchUp:
    def __init__(self, summaries: QuarterSummaries, site: Callable[[str], SiteSettings]) -> None:
        self.summaries = summaries
        self.site = site
        self.cursor: dict[str, int] = {}  # site -> the start of its first quarter not stored yet
        self._tried: dict[str, tuple[int, int]] = {}  # site -> (cursor, end) of the last try that fell short

    def note_written(self, sites: Iterable[str], meter_minutes: Iterable[tuple[int, int]], now_ms: int) -> None:
        """A batch was written: its sites are live; a meter minute of it that had closed moves the cursor back."""
        closed_before = now_ms - now_ms % MINUTE_MS
        late = [start_ns // NS_PER_MS for start_ns, _ in meter_minutes if start_ns // NS_PER_MS < closed_before]
        for site in sites:
            floor = unsettled_start(now_ms, self.site(site), SETTLE_MS)
            cursor = self.cursor.get(site)
            if cursor is None:
                self.cursor[site] = floor
                continue
            for minute in late:
                cursor = min(cursor, quarter_start(minute) - QUARTER_MS)
            self.cursor[site] = max(cursor, floor)

    def due(self, now_ms: int) -> dict[str, tuple[SiteSettings, list[int]]]:
        """Each site's quarters to compute now: from its cursor to the last one that ended long enough ago."""
        wanted: dict[str, tuple[SiteSettings, list[int]]] = {}
        last_end = quarter_start(now_ms - QUARTER_SETTLE_MS)
        for site, cursor in self.cursor.items():
            facts = self.site(site)
            start = max(cursor, unsettled_start(now_ms, facts, SETTLE_MS))
            self.cursor[site] = start
            if start >= last_end or self._tried.get(site) == (start, last_end):
                continue  # nothing ended since, or the same quarters fell short last time (no new sample)
            wanted[site] = (facts, list(range(start, last_end, QUARTER_MS)))
        return wanted

    def run_one(self, now_ms: int) -> bool:
        """Compute and store every site's due quarters (two requests and one write); False when none were due.
        Raises ``InfluxError`` when InfluxDB cannot answer (the cursors stay)."""
        wanted = self.due(now_ms)
        if not wanted:
            return False
        reached = self.summaries.store_many(wanted)
        for site, (_, starts) in wanted.items():
            end = starts[-1] + QUARTER_MS
            self.cursor[site] = max(self.cursor[site], reached.get(site, starts[0]))
            if self.cursor[site] < end:
                self._tried[site] = (self.cursor[site], end)
            else:
                self._tried.pop(site, None)
        return True
