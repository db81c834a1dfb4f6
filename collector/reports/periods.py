"""Report ranges: a local calendar month, a quarter, or from/to days; with the previous period and last year's."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")


class PeriodError(ValueError):
    """A range the user typed that is not one: the message says what is expected."""


@dataclass(frozen=True, slots=True)
class Period:
    kind: str  # "month", "quarter" or "range"
    label: str  # 2026-11, 2026-Q4, 2026-11-03..2026-11-09
    first_day: date
    last_day: date  # included
    timezone: str

    @property
    def start_ms(self) -> int:
        return _midnight_ms(self.first_day, self.timezone)

    @property
    def end_ms(self) -> int:
        return _midnight_ms(self.last_day + timedelta(days=1), self.timezone)

    def previous(self) -> Period:
        """The period just before: the month, the quarter, or as many days."""
        if self.kind == "month":
            return month(_shift_months(self.first_day, -1).strftime("%Y-%m"), self.timezone)
        if self.kind == "quarter":
            start = _shift_months(self.first_day, -3)
            return quarter(f"{start.year}-Q{(start.month - 1) // 3 + 1}", self.timezone)
        days = (self.last_day - self.first_day).days + 1
        return days_range(self.first_day - timedelta(days=days), self.first_day - timedelta(days=1), self.timezone)

    def last_year(self) -> Period | None:
        """The same month or quarter a year before; None for a free range (no calendar counterpart)."""
        if self.kind == "month":
            return month(f"{self.first_day.year - 1}-{self.first_day.month:02d}", self.timezone)
        if self.kind == "quarter":
            return quarter(f"{self.first_day.year - 1}-Q{(self.first_day.month - 1) // 3 + 1}", self.timezone)
        return None


def _midnight_ms(day: date, timezone: str) -> int:
    return int(datetime.combine(day, datetime.min.time(), ZoneInfo(timezone)).timestamp() * 1000)


def _shift_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month(text: str, timezone: str) -> Period:
    found = _MONTH.match(text.strip())
    if found is None or not 1 <= int(found[2]) <= 12:
        raise PeriodError(f"month {text!r} is not YYYY-MM, e.g. 2026-11")
    first = date(int(found[1]), int(found[2]), 1)
    return Period("month", first.strftime("%Y-%m"), first, _shift_months(first, 1) - timedelta(days=1), timezone)


def quarter(text: str, timezone: str) -> Period:
    found = _QUARTER.match(text.strip())
    if found is None:
        raise PeriodError(f"quarter {text!r} is not YYYY-Qn, e.g. 2026-Q4")
    first = date(int(found[1]), 3 * int(found[2]) - 2, 1)
    last = _shift_months(first, 3) - timedelta(days=1)
    return Period("quarter", f"{first.year}-Q{found[2]}", first, last, timezone)


def days_range(first: date, last: date, timezone: str) -> Period:
    if last < first:
        raise PeriodError(f"--to {last} is before --from {first}")
    return Period("range", f"{first.isoformat()}..{last.isoformat()}", first, last, timezone)


def parse_days(start: str, end: str, timezone: str) -> Period:
    """``--from``/``--to`` as local days YYYY-MM-DD, both included."""
    try:
        first, last = date.fromisoformat(start.strip()), date.fromisoformat(end.strip())
    except ValueError:
        raise PeriodError(f"--from {start!r} / --to {end!r}: give days as YYYY-MM-DD (both included)") from None
    return days_range(first, last, timezone)


def choose(
    timezone: str, *, month_text: str | None, quarter_text: str | None, start: str | None, end: str | None
) -> Period:
    """Exactly one of a month, a quarter, or from and to."""
    given = [month_text is not None, quarter_text is not None, start is not None or end is not None]
    if sum(given) != 1:
        raise PeriodError("give one range: a month (2026-11), a quarter (2026-Q4), or from and to (YYYY-MM-DD)")
    if month_text is not None:
        return month(month_text, timezone)
    if quarter_text is not None:
        return quarter(quarter_text, timezone)
    if start is None or end is None:
        raise PeriodError("a range needs both from and to (YYYY-MM-DD, both included)")
    return parse_days(start, end, timezone)
