"""Opening hours of a site, e.g. ``"mon-fri 08:30-17:00; sat 10:00-14:00"`` in a time zone.

Used by the base-load KPI (power while closed) and configured per site in collector.yaml::

    opening_hours:
      hours: "mon-fri 08:30-17:00; sat 10:00-14:00"
      timezone: Europe/Brussels
"""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator

from shopfloor.kpi.sessions import DEFAULT_TIMEZONE, Interval

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_EXAMPLE = "e.g. 'mon-fri 08:30-17:00; sat 10:00-14:00'"

WeeklyHours = tuple[tuple[tuple[time, time], ...], ...]  # 7 weekdays (Monday first) x ranges


def _clock(hours: str, minutes: str, rule: str) -> time:
    h, m = int(hours), int(minutes)
    if h == 24 and m == 0:
        return time.max
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(f"{rule!r}: {hours}:{minutes} is not a time of day (00:00 to 24:00)")
    return time(h, m)


def _days(text: str, rule: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        ends = part.strip().split("-")
        if len(ends) > 2 or any(end not in DAYS for end in ends):
            raise ValueError(f"{rule!r}: unknown day {part.strip()!r}, use {'/'.join(DAYS)} or a range like mon-fri")
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        if last < first:
            raise ValueError(f"{rule!r}: day range {part.strip()!r} runs backwards")
        days.extend(range(first, last + 1))
    return days


def parse_hours(spec: str) -> WeeklyHours:
    """Parse ``"<days> <hh:mm-hh:mm>[,<hh:mm-hh:mm>]; ..."``; a day not named is closed all day."""
    week: list[list[tuple[time, time]]] = [[] for _ in DAYS]
    for raw_rule in spec.lower().split(";"):
        rule = raw_rule.strip()
        if not rule:
            continue
        parts = rule.split(None, 1)
        if len(parts) != 2:
            raise ValueError(f"{rule!r} needs days and hours, {_EXAMPLE}")
        days, ranges = parts
        for text in ranges.replace(" ", "").split(","):
            found = _RANGE.match(text)
            if found is None:
                raise ValueError(f"{rule!r}: {text!r} is not a range like 08:30-17:00")
            opens = _clock(found[1], found[2], rule)
            closes = _clock(found[3], found[4], rule)
            if closes <= opens:
                raise ValueError(f"{rule!r}: {text!r} closes before it opens (split ranges past midnight in two)")
            for day in _days(days, rule):
                week[day].append((opens, closes))
    for ranges_of_day in week:
        ranges_of_day.sort()
        for (_, closes), (opens, _) in itertools.pairwise(ranges_of_day):
            if opens < closes:
                raise ValueError(f"{spec!r}: overlapping opening ranges on one day")
    return tuple(tuple(day) for day in week)


def _known_zone(timezone: str) -> str:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}: use an IANA name like Europe/Brussels") from None
    return timezone


# An IANA time zone name, checked when a config is loaded.
TimeZoneName = Annotated[str, AfterValidator(_known_zone)]


class OpeningHours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hours: str
    timezone: TimeZoneName = DEFAULT_TIMEZONE

    @field_validator("hours")
    @classmethod
    def _parses(cls, hours: str) -> str:
        parse_hours(hours)
        return hours

    def weekly(self) -> WeeklyHours:
        return parse_hours(self.hours)

    def open_intervals(self, start_ms: int, end_ms: int) -> list[Interval]:
        """The opening periods within ``[start_ms, end_ms)``, exact across DST changes."""
        zone = ZoneInfo(self.timezone)
        week = self.weekly()
        day = datetime.fromtimestamp(start_ms / 1000, zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(end_ms / 1000, zone).date()
        spans: list[Interval] = []
        while day <= last:
            for opens, closes in week[day.weekday()]:
                begin = max(start_ms, _ms(day, opens, zone))
                end = min(end_ms, _ms(day, closes, zone))
                if end > begin:
                    spans.append(Interval(begin, end))
            day += timedelta(days=1)
        return spans

    def closed_intervals(self, start_ms: int, end_ms: int) -> list[Interval]:
        closed: list[Interval] = []
        cursor = start_ms
        for span in self.open_intervals(start_ms, end_ms):
            if span.start_ms > cursor:
                closed.append(Interval(cursor, span.start_ms))
            cursor = max(cursor, span.end_ms)
        if end_ms > cursor:
            closed.append(Interval(cursor, end_ms))
        return closed


def _ms(day: date, clock: time, zone: ZoneInfo) -> int:
    if clock == time.max:
        return int(datetime.combine(day + timedelta(days=1), time(), zone).timestamp() * 1000)
    return int(datetime.combine(day, clock, zone).timestamp() * 1000)
