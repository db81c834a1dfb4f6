"""Quarter-hour energy summaries (``rollup.kpi_quarter``): the main meter's kWh terms per site and 15 minutes
of the days that have not settled yet (today, and yesterday until ``SETTLE_MS`` past its midnight), written by
the drainer's catch-up (collector/drain/kpi_quarters.py) and read by the comparison (docs/kpis.md).

A day summary waits until 08:15 the next morning, because a station that never sent ``closed`` may still
count as staffed that long. A quarter's *energy* is final much sooner: once the meter has a sample after
the quarter's end, the segment that crosses it is known. So the comparison, which needs only the main
meter's kWh from a raw piece (its staffed time and items come from events, a few hundred rows), adds up
the stored quarters of the piece's start and reads raw minute rows only after the last of them.

A quarter is stored *complete*, or not at all: computed from the same reads as a raw piece of that quarter
alone (``MeterReads``: the rollup's rows, their neighbours, the raw minutes the rollup lacks), and only when
the meter had a sample at or after the quarter's end. A quarter whose data changes later (a late minute)
is computed again by the catch-up. Its ``basis`` is the day summaries' (``summaries.basis``): a quarter of
another main meter or time zone is not used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from collector.influx import schema
from collector.influx.client import InfluxClient, InfluxQueryError, Series
from collector.kpi.merge import Select
from collector.kpi.queries import Range, checked_id
from collector.kpi.summaries import Answers, MeterReads, ask, basis, day_bounds, now_ms
from collector.points import NS_PER_MS, point
from collector.settings import SiteSettings
from shopfloor.kpi.energy import QUARTER_HOUR_MS
from shopfloor.kpi.pieces import MeterPiece, meter_kwh_piece
from shopfloor.kpi.runs import Span

KPI_QUARTER = "kpi_quarter"
QUARTER_MS = QUARTER_HOUR_MS
_FIELDS = ("has_data", "main_kwh", "covered_ms", "gap")


def quarter_start(at_ms: int) -> int:
    return at_ms - at_ms % QUARTER_MS


def unsettled_start(now: int, facts: SiteSettings, settle_ms: int) -> int:
    """The local midnight of the oldest day without a settled summary: where quarters are kept from."""
    return day_bounds(now - settle_ms, facts.timezone)[0]


class QuarterSummaries:
    """Compute, store and read the quarter summaries. ``writer``: a client whose writes go to the rollup
    retention policy (``DaySummaries.writer_for``); without it, this object only reads."""

    def __init__(self, client: InfluxClient, writer: InfluxClient | None = None) -> None:
        self.client = client
        self.writer = writer

    def store_many(self, wanted: Mapping[str, tuple[SiteSettings, Sequence[int]]]) -> dict[str, int]:
        """Compute the quarters (their starts) of several sites (site -> its facts and quarters) from raw data,
        all sites' reads together (two rounds), and store the complete ones in one write. Per site: the end of
        the complete quarters that follow each other from its first one (its first one, when that is not)."""
        runs: dict[str, tuple[SiteSettings, list[Span], MeterReads]] = {}
        for site, (facts, starts) in wanted.items():
            if not starts:
                continue
            spans = [Span(at, at + QUARTER_MS, False, False, at + QUARTER_MS) for at in sorted(set(starts))]
            runs[site] = (facts, spans, MeterReads(site, [facts.main_meter], spans, per_minute=True))
        reached = {site: min(starts) for site, (_, starts) in wanted.items() if starts}
        if not runs:
            return reached
        first = {site: reads.first() for site, (_, _, reads) in runs.items()}
        firsts = _cut(first, ask(self.client, [statement for asked in first.values() for statement in asked]))
        second = {site: runs[site][2].second(firsts[site]) for site in runs}
        follows = _cut(second, ask(self.client, [statement for asked in second.values() for statement in asked]))
        lines: list[str] = []
        computed = now_ms()
        for site, (facts, spans, reads) in runs.items():
            current = basis(facts)
            per_span = reads.segments(follows[site])[facts.main_meter]
            # The meter's newest sample read: a quarter that ends after it lacks its last segment (not stored).
            last_seen = max((segs[-1].end_ms for segs in per_span if segs), default=None)
            for span, segs in zip(spans, per_span, strict=True):
                if last_seen is None or last_seen < span.end_ms:
                    break
                if span.start_ms == reached[site]:
                    reached[site] = span.end_ms
                meter = meter_kwh_piece(segs, facts.timezone)
                lines.append(self._line(site, current, span.start_ms, meter, computed))
        if lines:
            if self.writer is None:
                raise RuntimeError("QuarterSummaries was made without a writer")
            response = self.writer.write(lines)
            if not response.ok:
                raise InfluxQueryError(f"cannot write the quarter summaries: {response.text[:200]}")
        return reached

    @staticmethod
    def _line(site: str, current_basis: str, start_ms: int, meter: MeterPiece, computed_ms: int) -> str:
        fields: dict[str, str | int | float | bool] = {
            "basis": current_basis,
            "computed_ms": computed_ms,
            "has_data": meter.has_data,
            "covered_ms": meter.covered_ms,
            "gap": meter.gap,
        }
        if meter.has_data:
            fields["main_kwh"] = meter.kwh
        return point(KPI_QUARTER, {"site": site}, fields, start_ms * NS_PER_MS)

    @staticmethod
    def select(site: str, window: Range) -> Select:
        """A site's stored quarters of ``window``, with their basis: sites of one window are one statement
        (``ask`` merges them), whatever their bases."""
        return Select(
            f'SELECT basis, {", ".join(_FIELDS)} FROM "{schema.ROLLUP_RP}"."{KPI_QUARTER}"',
            (("site", checked_id(site)),),
            window.where(),
        )

    def read_many(self, wanted: Mapping[str, tuple[SiteSettings, Range]]) -> dict[str, dict[int, MeterPiece]]:
        """The stored quarters of several sites (site -> its facts and window), in one request, by start. A
        database without the rollup policy has none."""
        asked = [(site, facts, window) for site, (facts, window) in wanted.items() if window.end_ms > window.start_ms]
        found: dict[str, dict[int, MeterPiece]] = {site: {} for site in wanted}
        if not asked:
            return found
        answers = ask(self.client, [(self.select(site, window), True) for site, _, window in asked])
        for (site, facts, _), answer in zip(asked, answers, strict=True):
            found[site] = dict(quarters_of(answer, basis(facts), facts.timezone))
        return found


def quarters_of(answer: Iterable[Series], current: str, timezone: str) -> Iterable[tuple[int, MeterPiece]]:
    """The stored quarters of an answer of the ``current`` basis, as kWh-only meter pieces (``meter_kwh_piece``'s
    terms)."""
    for one in answer:
        of, at, has, kwh, covered, gap = (one.columns.index(name) for name in ("basis", "time", *_FIELDS))
        for row in one.values:
            if row[of] != current:
                continue
            start = int(row[at])
            if not row[has]:
                yield start, MeterPiece()
                continue
            yield (
                start,
                MeterPiece(
                    has_data=True,
                    day=_local_day(start, timezone),
                    kwh=float(row[kwh] or 0.0),
                    covered_ms=int(row[covered] or 0),
                    gap=bool(row[gap]),
                ),
            )


def _local_day(at_ms: int, timezone: str) -> str:
    return datetime.fromtimestamp(at_ms / 1000, ZoneInfo(timezone)).date().isoformat()


def _cut(asked: Mapping[str, Sequence[object]], answers: Answers) -> dict[str, Answers]:
    """One request's answers cut back per site, in the order the sites asked."""
    cut: dict[str, Answers] = {}
    offset = 0
    for site, statements in asked.items():
        cut[site] = answers[offset : offset + len(statements)]
        offset += len(statements)
    return cut
