"""Keep the KPI day summaries (``rollup.kpi_day``, collector/kpi/summaries.py) current, from the drainer.

The drainer tells this module what it wrote (the sites of a batch and the minutes of its meter points),
off the ingest path. A local day is summarized once it has settled (``SETTLE_MS`` after its midnight), and
again when points for it arrive later: an edge's backlog, a requeued dead letter. The work is batched per
site and day and done one site-day at a time, after the 1-minute rollup caught up (the summaries read it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from collector.influx.client import InfluxClient, InfluxError
from collector.kpi.summaries import SETTLE_MS, DaySummaries, day_bounds, local_midnights
from collector.points import NS_PER_MINUTE
from collector.settings import SiteSettings

log = logging.getLogger(__name__)
NS_PER_MS = 1_000_000


class KpiDayCatchUp:
    def __init__(self, client: InfluxClient, writer: InfluxClient, site: Callable[[str], SiteSettings]) -> None:
        self.summaries = DaySummaries(client, writer)
        self.site = site
        self.pending: set[tuple[str, int]] = set()  # (site, local midnight in ms)
        self.settled: dict[str, int] = {}  # site -> the newest day summarized once it settled
        self._failing = False

    def note_written(self, sites: Iterable[str | None], meter_minutes: Iterable[tuple[int, int]], now_ms: int) -> None:
        """A batch was written: its sites are live, and any of its minutes in a settled day re-open that day."""
        names = {site for site in sites if site}
        spans = list(meter_minutes)
        for site in names:
            facts = self.site(site)
            self.settled.setdefault(site, 0)  # first look: the newest settled day (the collector may have been down)
            for start_ns, end_ns in spans:
                start_ms, end_ms = start_ns // NS_PER_MS, (end_ns + NS_PER_MINUTE) // NS_PER_MS
                first = day_bounds(start_ms, facts.timezone)[0]
                for day in [first, *local_midnights(start_ms, end_ms, facts.timezone)]:
                    if day_bounds(day, facts.timezone)[1] + SETTLE_MS <= now_ms:
                        self.pending.add((site, day))

    def _due(self, now_ms: int) -> None:
        """Days that settled since the last look: each site's days up to the newest settled one."""
        for site, done in self.settled.items():
            facts = self.site(site)
            newest = day_bounds(now_ms - SETTLE_MS, facts.timezone)[0]
            newest = day_bounds(newest - 1, facts.timezone)[0]  # the day before it is the one that settled
            if newest > done:
                self.pending.add((site, newest))
                self.settled[site] = newest

    def run_one(self, now_ms: int) -> bool:
        """Summarize the oldest pending site-day; False when there was nothing to do."""
        self._due(now_ms)
        if not self.pending:
            return False
        site, day = min(self.pending, key=lambda key: (key[1], key[0]))
        self.pending.discard((site, day))
        try:
            self.summaries.summarize(site, self.site(site), day)
        except InfluxError as exc:
            self.pending.add((site, day))
            if not self._failing:
                fix = " (run `shopfloor collector init-db`)" if "retention policy not found" in str(exc) else ""
                log.warning(
                    "cannot write the KPI day summary of %s: %s%s; the API reads raw data meanwhile", site, exc, fix
                )
            self._failing = True
            return False
        self._failing = False
        return True
