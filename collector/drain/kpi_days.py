"""Keep the KPI day summaries (``rollup.kpi_day``, collector/kpi/summaries.py) current, from the drainer.

The drainer tells this module what it wrote (the sites of a batch, the minutes of its meter points, and its
lines: repair events and finished items, dated by their timestamps), off the ingest path. A local day is
summarized once it has settled (``SETTLE_MS`` after its midnight), and again when points for it arrive
later: an edge's backlog, a requeued dead letter, events alone. The work is batched per site and day and
done one site-day at a time, in the drainer's idle moments, after the 1-minute rollup caught up.

The *backfill* then finds the settled days from the site's oldest data on that have no current summary
(days missed while the collector was down, history written by another tool, summaries of an older basis,
and days without data between them) and summarizes them, newest first: the recent days are the ones
dashboards and monthly reports ask for, and the scan can stop at the site's oldest data. Each idle step
does one bounded piece of it (``SCAN_DAYS`` looked at, or ``BACKFILL_DAYS`` summarized), so live points
never wait long.

Between the two, an idle step stores the quarter-hour energy of the days not settled yet
(``collector.drain.kpi_quarters``), for all sites at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from collector.drain.kpi_quarters import QuarterCatchUp
from collector.influx import schema
from collector.influx.client import InfluxClient, InfluxError, rows_of
from collector.kpi.quarters import QuarterSummaries
from collector.kpi.queries import Range
from collector.kpi.summaries import (
    KPI_DAY,
    SESSION_LOOKBACK_MS,
    SETTLE_MS,
    DaySummaries,
    ask,
    day_bounds,
    local_midnights,
)
from collector.points import NS_PER_MINUTE
from collector.settings import SiteSettings
from shopfloor.contract.topics import is_valid_id
from shopfloor.kpi.sessions import STAFFED_MAX_SILENCE_MS

log = logging.getLogger(__name__)
NS_PER_MS = 1_000_000
DAY_MS = 86_400_000
SCAN_DAYS = 92  # days a backfill step looks at for a current summary
BACKFILL_DAYS = 7  # days a backfill step summarizes (read as one run, stored in one write)
_EVENT_PREFIX = f"{schema.REPAIR_EVENT},"


def event_times(lines: Iterable[str]) -> Iterator[tuple[str, int]]:
    """The site and time (ms) of each repair event (station events and finished items) in ``lines``."""
    for line in lines:
        if not line.startswith(_EVENT_PREFIX):
            continue
        at = line.find(",site=")
        while at > 0 and line[at - 1] == "\\":  # an escaped comma inside an earlier tag value
            at = line.find(",site=", at + 1)
        if at < 0:
            continue
        start = at + len(",site=")
        end = min((i for i in (line.find(",", start), line.find(" ", start)) if i >= 0), default=-1)
        stamp = line.rpartition(" ")[2]
        if end < 0 or not stamp.isdigit():
            continue
        yield line[start:end], int(stamp) // NS_PER_MS


class KpiDayCatchUp:
    def __init__(self, client: InfluxClient, writer: InfluxClient, site: Callable[[str], SiteSettings]) -> None:
        self.summaries = DaySummaries(client, writer)
        self.site = site
        self.pending: set[tuple[str, int]] = set()  # (site, local midnight in ms)
        self.settled: dict[str, int] = {}  # site -> the newest day summarized once it settled
        # The backfill, per site: how far back its scan has come (a local midnight; None: not started,
        # absent: done) and the days it found without a current summary, newest first.
        self.scan: dict[str, int | None] = {}
        self.backfill: dict[str, list[int]] = {}
        self._oldest: dict[str, int] = {}  # site -> the local day of its oldest data
        self._failing = False
        # The days not settled yet: their main meters' energy per quarter hour (collector/drain/kpi_quarters.py).
        self.quarters = QuarterCatchUp(QuarterSummaries(client, writer), site)

    def note_written(
        self,
        sites: Iterable[str | None],
        meter_minutes: Iterable[tuple[int, int]],
        now_ms: int,
        lines: Iterable[str] = (),
    ) -> None:
        """A batch was written: its sites are live, and any of its meter minutes or repair events (``lines``)
        in a settled day re-open that day."""
        names = {site for site in sites if site}
        spans = list(meter_minutes)
        for site in names:
            facts = self.site(site)
            if site not in self.settled:
                # First look: the newest settled day, then the backfill of older ones (the collector may have
                # been down, or the history imported).
                self.settled[site] = 0
                self.scan[site] = None
            for start_ns, end_ns in spans:
                start_ms, end_ms = start_ns // NS_PER_MS, (end_ns + NS_PER_MINUTE) // NS_PER_MS
                first = day_bounds(start_ms, facts.timezone)[0]
                for day in [first, *local_midnights(start_ms, end_ms, facts.timezone)]:
                    if day_bounds(day, facts.timezone)[1] + SETTLE_MS <= now_ms:
                        self.pending.add((site, day))
        self._note_events(lines, now_ms)
        self.quarters.note_written(names, spans, now_ms)

    def _note_events(self, lines: Iterable[str], now_ms: int) -> None:
        """A late event re-opens its settled day, the next one (whose sessions may have begun before it, up to
        the lookback) and, near midnight, the one before (whose staffed time runs on until it)."""
        cutoffs: dict[str, int] = {}  # site -> its oldest day not settled yet: the events before it are late
        for site, at_ms in event_times(lines):
            cutoff = cutoffs.get(site)
            if cutoff is None:
                cutoff = cutoffs[site] = day_bounds(now_ms - SETTLE_MS, self.site(site).timezone)[0]
            if at_ms >= cutoff:
                continue  # the usual case, live events: an int comparison per line
            zone = self.site(site).timezone
            day, next_day = day_bounds(at_ms, zone)
            reached = {day, day_bounds(at_ms - STAFFED_MAX_SILENCE_MS, zone)[0]}
            if at_ms >= next_day - SESSION_LOOKBACK_MS:
                reached.add(next_day)
            self.pending.update((site, one) for one in reached if one < cutoff)

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
        """Summarize the oldest pending site-day, else the quarters due, else one backfill step; False when
        there was nothing to do."""
        self._due(now_ms)
        if not self.pending:
            try:
                if self.quarters.run_one(now_ms):
                    self._failing = False
                    return True
            except InfluxError as exc:
                self._failed("its sites", exc, "quarter-hour summaries")
                return False
            return self._backfill_one(now_ms)
        site, day = min(self.pending, key=lambda key: (key[1], key[0]))
        self.pending.discard((site, day))
        try:
            self.summaries.summarize(site, self.site(site), day)
        except InfluxError as exc:
            self.pending.add((site, day))
            self._failed(site, exc)
            return False
        self._failing = False
        return True

    def _failed(self, site: str, exc: InfluxError, what: str = "KPI day summary") -> None:
        if not self._failing:
            fix = " (run `shopfloor collector init-db`)" if "retention policy not found" in str(exc) else ""
            log.warning("cannot write the %s of %s: %s%s; the API reads raw data meanwhile", what, site, exc, fix)
        self._failing = True

    def _backfill_one(self, now_ms: int) -> bool:
        """One bounded backfill step: summarize a few found days of a site, else scan a stretch of its days."""
        for site, days in self.backfill.items():
            if not days:
                continue
            chosen, self.backfill[site] = days[:BACKFILL_DAYS], days[BACKFILL_DAYS:]
            try:
                self.summaries.summarize_days(site, self.site(site), chosen)
            except InfluxError as exc:
                self.backfill[site] = chosen + self.backfill[site]
                self._failed(site, exc)
                return False
            self._failing = False
            return True
        for site in list(self.scan):
            try:
                self._scan(site, now_ms)
            except InfluxError as exc:
                self._failed(site, exc)
                return False
            return True
        return False

    def _scan(self, site: str, now_ms: int) -> None:
        """Look at up to ``SCAN_DAYS`` settled days of ``site``, newest first, for days without a current
        summary (one request); the first step finds the site's oldest data, where the scan ends."""
        if not is_valid_id(site):
            del self.scan[site]  # not a contract id: no site of ours (and never inside a statement)
            return
        facts = self.site(site)
        zone = facts.timezone
        where = f"site = '{site}'"
        cursor = self.scan[site]
        if cursor is None:
            oldest = self._oldest_data(where)
            if oldest is None:
                del self.scan[site]
                return
            self._oldest[site] = day_bounds(oldest, zone)[0]
            cursor = day_bounds(now_ms - SETTLE_MS, zone)[0]  # the oldest day not settled yet
        start = max(self._oldest[site], day_bounds(cursor - SCAN_DAYS * DAY_MS, zone)[0])
        if start >= cursor:
            del self.scan[site]
            return
        window = Range(start, cursor).where()
        statement = f'SELECT basis, computed_ms FROM "{schema.ROLLUP_RP}"."{KPI_DAY}" WHERE {where} AND {window}'
        [rows] = ask(self.summaries.client, [(statement, True)])
        days = [start, *local_midnights(start, cursor, zone)]
        current = DaySummaries._current(rows_of(rows), facts, days)
        waiting = {day for name, day in self.pending if name == site}
        # Every day from the oldest data on, also a day without data: its (empty) summary keeps the
        # stored days next to each other, so a long range is one read of them, not one raw run per gap.
        missing = [day for day in days if day not in current and day not in waiting]
        self.backfill[site] = [*self.backfill.get(site, []), *reversed(missing)]
        if start <= self._oldest[site]:
            del self.scan[site]
        else:
            self.scan[site] = start

    def _oldest_data(self, where: str) -> int | None:
        answers = ask(
            self.summaries.client,
            [
                (f"SELECT first(event_id) FROM {schema.REPAIR_EVENT} WHERE {where}", False),
                (f'SELECT first(power) FROM "{schema.ROLLUP_RP}"."{schema.METER_1M}" WHERE {where}', True),
            ],
        )
        found = [int(row["time"]) for answer in answers for row in rows_of(answer)]
        return min(found) if found else None
