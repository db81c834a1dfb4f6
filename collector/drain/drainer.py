"""The spool drainer: oldest rows first, in batches of at most ``batch_size`` lines, into InfluxDB. While InfluxDB
is away it backs off (honouring Retry-After), logs once when the outage starts and once when it ends, and the
spool keeps everything.

Flushing adapts to the traffic. After a quiet spell (no write in the last ``flush_interval_ms``) the drainer
writes what was committed at once, so a point under light traffic waits for no timer. Under load, writes
come at most every ``flush_interval_ms`` (counted from the end of the last one) unless a full batch is
waiting, and each takes all that was committed since, so batches grow with the load, up to ``batch_size``:
InfluxDB pays a WAL sync per request, and a stream of small requests cost the whole machine more than half
its throughput in the live benchmark (bench/README.md). ``flush_interval_ms: 0`` writes every commit at once.
"""

from __future__ import annotations

import logging
import math
import threading
import time

from collector.drain.delivery import Delivered, RetryLater, deliver
from collector.drain.kpi_days import KpiDayCatchUp
from collector.drain.recover import contract_message_of
from collector.drain.rollup import LateMinutes
from collector.influx import schema
from collector.influx.client import InfluxClient, InfluxError
from collector.metrics import CollectorMetrics
from collector.pacing import Pace
from collector.points import NS_PER_MS, dead_letter_line
from collector.settings import InfluxV1Settings, InfluxV2Settings
from collector.storage.dead_letters import WRITE_REJECTED, DeadLetterStore, NewDeadLetter
from collector.storage.spool import Spool, SpoolBatch
from shopfloor.backoff import backoff_s
from shopfloor.contract.topics import DEFAULT_PREFIX

log = logging.getLogger(__name__)

# While a backlog drains, raw points go first: the rollup catch-up re-reads every late point, so it
# runs once the spool is empty, or at this pace during a long backlog.
ROLLUP_EVERY_S_WHILE_BACKLOGGED = 60.0
# An idle drainer wakes at the first commit; this is only how often it looks at the rollup and its stop flag.
IDLE_WAKE_S = 1.0
# The rollup catch-up and a KPI day summary each make influxd re-read data (the late minutes, a whole site-day),
# and late points re-open them after every write. Under traffic the spool is empty between writes many times a
# second, so they run once no write came for this long (or at the backlog's pace): when they ran at every empty
# spool, influxd re-aggregated the same late minutes after every write of a backfill, on the cores the traffic
# needs (the live benchmark's points are of yesterday: every write was late).
QUIET_FOR_CATCH_UP_S = 1.0


def retry_delay_s(attempt: int, retry_max_s: float, retry_after_s: float | None) -> float:
    """Exponential from 0.25 s with jitter, capped; a server's Retry-After wins (capped the same way)."""
    if retry_after_s is not None:
        return min(retry_after_s, retry_max_s)
    return backoff_s(attempt, 0.25, retry_max_s)


class Drainer:
    def __init__(
        self,
        spool: Spool,
        client: InfluxClient,
        dead_letters: DeadLetterStore,
        metrics: CollectorMetrics,
        settings: InfluxV1Settings | InfluxV2Settings,
        *,
        prefix: str = DEFAULT_PREFIX,
        kpi_days: KpiDayCatchUp | None = None,
    ) -> None:
        self.prefix = prefix  # the topics of the contract messages that rejected lines are rebuilt into
        self.spool = spool
        self.client = client
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.settings = settings
        self.influx_ok = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing_since: float | None = None
        self._attempt = 0
        # InfluxDB 1.x only: 2.x/3.x have no continuous query to complete.
        self.late: LateMinutes | None = LateMinutes() if isinstance(settings, InfluxV1Settings) else None
        self._last_rollup = time.monotonic()
        self._rollup_retry_at = 0.0
        self._rollup_failing = False
        # The KPI day summaries (InfluxDB 1.x, like the rollup they read), kept current off the ingest path.
        self.kpi_days = kpi_days if isinstance(settings, InfluxV1Settings) else None
        self._progress_at = time.monotonic()  # the last write that succeeded, or the last empty spool
        # Under load a small batch grows after each write, for twice that write's time (at most the flush interval).
        self.pace = Pace(settings.flush_interval_ms / 1000)
        self._last_summary = -math.inf
        metrics.spool_oldest_age.set_function(self._oldest_age_s)
        metrics.drainer_stalled.set_function(lambda: float(self.stalled()))

    def stalled(self) -> bool:
        """Points wait and nothing was written for ``stall_after_s``: InfluxDB is away, or something is stuck."""
        if self.spool.depth_lines == 0:
            return False
        return time.monotonic() - self._progress_at > self.settings.stall_after_s

    def _oldest_age_s(self) -> float:
        oldest = self.spool.oldest_created_ms()
        return 0.0 if oldest is None else max(0.0, time.time() - oldest / 1000)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="collector-drain", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after a last attempt to write what is spooled (whatever is left stays on disk)."""
        self._stop.set()
        self.spool.wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.drain_once()
            except Exception:  # the one broad catch: the drainer must outlive any single bad batch
                log.exception("drain step failed; retrying")
                self._stop.wait(1.0)

    def drain_once(self) -> None:
        batch_size = self.settings.batch_size
        batch = self.spool.peek(batch_size)
        if batch is None:
            now = time.monotonic()
            self._progress_at = now
            quiet = now - self.pace.last_end >= QUIET_FOR_CATCH_UP_S
            self._complete_rollup(force=quiet)
            if self.kpi_days is not None and not (self.late and self.late.ranges) and self._summary_due(now, quiet):
                self._summarize_one()
            # The first commit wakes us: under light traffic a point is written as soon as it is spooled.
            self.spool.wait(1, IDLE_WAKE_S)
            return
        gap_s = self.pace.remaining_s()
        spooled = self.spool.depth_lines
        if gap_s > 0 and spooled < batch_size and not self._stop.is_set():
            # Under load: let the batch grow for the pause the last write earned (collector.pacing), or until full.
            self.spool.wait(batch_size - spooled, gap_s)
            batch = self.spool.peek(batch_size)
            if batch is None:
                return
        started = time.monotonic()
        try:
            self._write(batch)
        finally:
            self.pace.done(started)

    def _write(self, batch: SpoolBatch) -> None:
        outcome = Delivered()
        size = self.settings.batch_size
        try:
            for start in range(0, len(batch.lines), size):
                started = time.perf_counter()
                request = batch.lines[start : start + size]
                deliver(self.client, request, outcome)
                self.metrics.write_latency.observe(time.perf_counter() - started)
                self.metrics.write_batch_lines.observe(len(request))
        except RetryLater as exc:
            self._failed(exc)
            return
        self._recovered()
        self._progress_at = time.monotonic()
        if outcome.rejected:
            self._dead_letter(batch, outcome.rejected)
        self.spool.remove(batch)
        if self.late is not None:
            self.late.note_written(batch.meter_minutes, time.time_ns())
            self._complete_rollup(force=False)
        if self.kpi_days is not None:
            self.kpi_days.note_written(
                (site for site, _ in batch.row_sites), batch.meter_minutes, int(time.time() * 1000), batch.lines
            )
        self.metrics.written.inc(outcome.written)
        self.metrics.spool_depth.set(self.spool.depth_lines)
        self.metrics.spool_bytes.set(self.spool.depth_bytes)

    def _complete_rollup(self, force: bool) -> None:
        """Re-aggregate the minutes that received late meter points (see collector.drain.rollup).

        One span (at most a day) per call: a 30-day backfill is 30 queries of about a second each, and
        live points are written between them instead of waiting for all of them.
        """
        if self.late is None or not self.late.ranges:
            return
        now = time.monotonic()
        if now < self._rollup_retry_at or (not force and now - self._last_rollup < ROLLUP_EVERY_S_WHILE_BACKLOGGED):
            return
        if not isinstance(self.settings, InfluxV1Settings):
            return
        span = self.late.take_first()
        if span is None:
            return
        self._last_rollup = now
        try:
            self.client.query(schema.rollup_range_statement(self.settings.database, *span))
        except InfluxError as exc:
            self.late.add(*span)
            self._rollup_retry_at = now + 60.0
            if not self._rollup_failing:
                hint = " (run `shopfloor collector init-db` to create it)" if "not found" in str(exc) else ""
                log.warning("cannot complete the 1-minute rollup for late data%s: %s", hint, exc)
            self._rollup_failing = True
            return
        if self._rollup_failing:
            log.warning("the 1-minute rollup for late data is complete again")
            self._rollup_failing = False

    def _summary_due(self, now: float, quiet: bool) -> bool:
        if not quiet and now - self._last_summary < ROLLUP_EVERY_S_WHILE_BACKLOGGED:
            return False
        self._last_summary = now
        return True

    def _summarize_one(self) -> None:
        """One KPI day summary per idle moment: live points never wait for more than one site-day."""
        assert self.kpi_days is not None
        try:
            self.kpi_days.run_one(int(time.time() * 1000))
        except Exception:  # a summary must never stop the drainer; the API computes that day from raw data
            log.exception("KPI day summary failed")

    def _dead_letter(self, batch: SpoolBatch, rejected: list[tuple[str, str]]) -> None:
        letters = [self._rejected_letter(line, reason, batch.site_of(line)) for line, reason in rejected]
        fresh = self.dead_letters.add_many(letters)
        self.metrics.dead_lettered.labels(WRITE_REJECTED).inc(len(fresh))
        log.warning("InfluxDB rejected %d line(s); kept in the dead-letter store: %s", len(rejected), rejected[0][1])
        markers = [
            dead_letter_line(letter.site, letter.kind, letter.reason, at_ms * NS_PER_MS + i % NS_PER_MS)
            for i, (letter, at_ms) in enumerate(fresh)
        ]
        # Markers whose own write is refused are not dead-lettered again: no loop.
        if markers:
            try:
                deliver(self.client, markers)
            except RetryLater:
                log.warning("could not write %d dead_letter marker point(s)", len(markers))

    def _rejected_letter(self, line: str, reason: str, site: str | None) -> NewDeadLetter:
        """The contract message the line came from, so a requeue validates it again; else the line alone."""
        message = contract_message_of(line, site, self.prefix)
        if message is None:
            return NewDeadLetter("", line.encode(), reason, WRITE_REJECTED, site, line)
        topic, payload = message
        return NewDeadLetter(topic, payload, reason, WRITE_REJECTED, site, line)

    def _failed(self, exc: RetryLater) -> None:
        self.influx_ok = False
        self.metrics.influx_up.set(0)
        self.metrics.write_errors.labels(exc.reason.split(":", 1)[0][:40]).inc()
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.error(
                "InfluxDB write to %s failed (%s): keeping %d points in the spool and retrying",
                self.client.target,
                exc.reason,
                self.spool.depth_lines,
            )
        delay = retry_delay_s(self._attempt, self.settings.retry_max_s, exc.retry_after_s)
        self._attempt += 1
        self._stop.wait(delay)

    def _recovered(self) -> None:
        self._attempt = 0
        self.influx_ok = True
        self.metrics.influx_up.set(1)
        if self._failing_since is not None:
            log.warning(
                "InfluxDB writes to %s work again after %.0f s; draining %d spooled points",
                self.client.target,
                time.monotonic() - self._failing_since,
                self.spool.depth_lines,
            )
            self._failing_since = None
