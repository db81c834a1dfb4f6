"""Grafana's InfluxQL macros, substituted the way Grafana does: time range, interval, template variables.

Pure functions. ``render`` and the tests use them to run each panel's query outside Grafana.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

# Grafana's rangeutil.roundInterval: the interval snaps to the next "nice" value.
_NICE_INTERVALS_MS = [
    (15, 10),
    (35, 20),
    (75, 50),
    (150, 100),
    (350, 200),
    (750, 500),
    (1500, 1000),
    (3500, 2000),
    (7500, 5000),
    (12500, 10000),
    (17500, 15000),
    (25000, 20000),
    (45000, 30000),
    (90000, 60000),
    (150000, 120000),
    (270000, 300000),
    (450000, 300000),
    (750000, 600000),
    (1050000, 900000),
    (1500000, 1200000),
    (2700000, 1800000),
    (5400000, 3600000),
    (9000000, 7200000),
    (16200000, 10800000),
    (32400000, 21600000),
    (86400000, 43200000),
    (172800000, 86400000),
    (604800000, 86400000),
    (1209600000, 604800000),
    (2592000000, 1209600000),
]


class MacroError(ValueError):
    """A time expression or variable that this substitution does not understand."""


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


@dataclass(frozen=True)
class Variable:
    """A template variable's current value(s). ``regex`` ones (multi or include-all) are regex-escaped."""

    values: tuple[str, ...]
    regex: bool = True

    @classmethod
    def of(cls, value: str | Sequence[str], regex: bool = True) -> Variable:
        return cls((value,) if isinstance(value, str) else tuple(value), regex)


ALL = Variable((".*",), regex=False)

_RELATIVE = re.compile(r"^now(?:(?P<sign>[+-])(?P<n>\d+)(?P<unit>[smhdwMy]))?(?:/(?P<round>[smhdwMy]))?$")


def _shift(moment: datetime, amount: int, unit: str) -> datetime:
    if unit in UNIT_SECONDS:
        return moment + timedelta(seconds=amount * UNIT_SECONDS[unit])
    months = moment.month - 1 + amount * (12 if unit == "y" else 1)
    year, month = moment.year + months // 12, months % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _round(moment: datetime, unit: str, up: bool) -> datetime:
    if unit == "d":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "w":
        start = (moment - timedelta(days=moment.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "M":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "y":
        start = moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "h":
        start = moment.replace(minute=0, second=0, microsecond=0)
    else:
        raise MacroError(f"cannot round to {unit!r}")
    if not up:
        return start
    return _shift(start, 1, unit) - timedelta(milliseconds=1)


def parse_time(expr: str, now: datetime, round_up: bool = False) -> datetime:
    """Grafana date math: ``now``, ``now-7d``, ``now/d``, ``now-1d/d``, ``now/M``."""
    match = _RELATIVE.match(expr.strip())
    if not match:
        raise MacroError(f"unsupported time expression {expr!r}")
    moment = now
    if match["n"]:
        amount = int(match["n"]) * (-1 if match["sign"] == "-" else 1)
        moment = _shift(moment, amount, match["unit"])
    if match["round"]:
        moment = _round(moment, match["round"], round_up)
    return moment


def dashboard_range(time_from: str, time_to: str, now: datetime) -> TimeRange:
    return TimeRange(parse_time(time_from, now), parse_time(time_to, now, round_up=True))


def panel_range(base: TimeRange, now: datetime, time_from: str | None, time_shift: str | None) -> TimeRange:
    """Grafana's panel time overrides: ``timeFrom`` replaces the range, ``timeShift`` moves it back."""
    time_range = base
    if time_from:
        expr = time_from if time_from.startswith("now") else f"now-{time_from}"
        time_range = TimeRange(parse_time(expr, now), now)
    if time_shift:
        shift = f"now-{time_shift}"
        match = _RELATIVE.match(shift)
        if not match:
            raise MacroError(f"unsupported time shift {time_shift!r}")
        amount, unit, rounding = -int(match["n"]), match["unit"], match["round"]
        start, end = _shift(time_range.start, amount, unit), _shift(time_range.end, amount, unit)
        if rounding:
            start, end = _round(start, rounding, False), _round(end, rounding, True)
        time_range = TimeRange(start, end)
    return time_range


def parse_duration_ms(text: str) -> int:
    match = re.fullmatch(r"(\d+)(ms|[smhdw])", text.strip())
    if not match:
        raise MacroError(f"unsupported interval {text!r}")
    number, unit = int(match[1]), match[2]
    return number if unit == "ms" else number * UNIT_SECONDS[unit] * 1000


def interval_ms(time_range: TimeRange, max_data_points: int, min_interval: str | None = None) -> int:
    """``$__interval`` as Grafana computes it: range / max data points, rounded to a nice value."""
    raw = (time_range.end_ms - time_range.start_ms) / max(max_data_points, 1)
    nice = next((value for limit, value in _NICE_INTERVALS_MS if raw <= limit), 2592000000)
    if raw <= 10:
        nice = 1
    if min_interval:
        nice = max(nice, parse_duration_ms(min_interval))
    return nice


def format_interval(ms: int) -> str:
    for unit, seconds in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if ms % (seconds * 1000) == 0:
            return f"{ms // (seconds * 1000)}{unit}"
    return f"{ms}ms"


def _format_variable(variable: Variable) -> str:
    if not variable.regex:
        return "|".join(variable.values) if len(variable.values) > 1 else variable.values[0]
    escaped = [re.sub(r"([\\/^$.|?*+()\[\]{}])", r"\\\1", value) for value in variable.values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def substitute(
    query: str,
    time_range: TimeRange,
    interval: int,
    variables: Mapping[str, Variable],
) -> str:
    """Replace ``$timeFilter``, ``$__interval(_ms)``, ``$__from``/``$__to`` and ``$name``/``${name}``."""
    builtins = {
        "timeFilter": f"time >= {time_range.start_ms}ms and time <= {time_range.end_ms}ms",
        "__interval_ms": str(interval),
        "__interval": format_interval(interval),
        "__from": str(time_range.start_ms),
        "__to": str(time_range.end_ms),
    }

    def replace(match: re.Match[str]) -> str:
        name = match["braced"] or match["plain"]
        if name in builtins:
            return builtins[name]
        if name in variables:
            return _format_variable(variables[name])
        if name.startswith("tag_"):  # alias patterns, resolved per series
            return match[0]
        raise MacroError(f"no value for template variable ${name}")

    return re.sub(r"\$(?:\{(?P<braced>\w+)\}|(?P<plain>\w+))", replace, query)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
