"""Keep ``rollup.meter_1m`` complete when meter data arrives late.

InfluxDB's continuous query aggregates each minute once, right after it closes. Points written
later never reach the rollup: an edge's backlog after an outage, the simulator's backfill, a
requeued dead letter. The dashboards read the rollup for long ranges, so they would show holes.
The drainer notes the minutes of late meter points it has written (:class:`LateMinutes`) and
re-runs the continuous query's own body for just those minutes. ``INTO`` overwrites identical
points, so a repeat is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from collector.influx import schema
from collector.influx.connect import make_client
from collector.points import NS_PER_MINUTE, merge_ranges
from collector.settings import InfluxV1Settings

__all__ = ["MAX_SPAN_NS", "NS_PER_MINUTE", "LateMinutes", "rebuild_rollup"]
# One query covers at most a day, so a month of backfill is 30 modest queries, not one huge one.
MAX_SPAN_NS = 24 * 60 * NS_PER_MINUTE


@dataclass
class LateMinutes:
    """Minute ranges holding meter points written after their minute closed."""

    ranges: list[tuple[int, int]] = field(default_factory=list)

    def note_written(self, meter_minutes: Iterable[tuple[int, int]], now_ns: int) -> None:
        """Minute ranges of meter points just written: those minutes that had already closed are late."""
        closed_before = now_ns - now_ns % NS_PER_MINUTE
        for start, end in meter_minutes:
            if start < closed_before:
                self.add(start, min(end, closed_before))

    def add(self, start_ns: int, end_ns: int) -> None:
        self.ranges = merge_ranges([*self.ranges, (start_ns, end_ns)])

    def take_first(self) -> tuple[int, int] | None:
        """The oldest range, at most a day of it, taken out; the rest stays for later."""
        if not self.ranges:
            return None
        start, end = self.ranges[0]
        cut = min(end, start + MAX_SPAN_NS)
        if cut == end:
            self.ranges.pop(0)
        else:
            self.ranges[0] = (cut, end)
        return start, cut

    def take(self) -> list[tuple[int, int]]:
        """The ranges to re-aggregate, cut into spans of at most a day; the accumulator is emptied."""
        spans: list[tuple[int, int]] = []
        while (span := self.take_first()) is not None:
            spans.append(span)
        return spans


def rebuild_rollup(settings: InfluxV1Settings, days: float, now_ns: int) -> int:
    """Re-aggregate the last ``days`` of raw meter data into the rollup; returns the queries run."""
    late = LateMinutes()
    end = now_ns - now_ns % NS_PER_MINUTE + NS_PER_MINUTE
    late.add(end - int(days * 24 * 60) * NS_PER_MINUTE, end)
    client = make_client(settings)
    try:
        spans = late.take()
        for start_ns, end_ns in spans:
            client.query(schema.rollup_range_statement(settings.database, start_ns, end_ns))
        return len(spans)
    finally:
        client.close()
