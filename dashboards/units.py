"""Grafana's units, as text: the ones the dashboards use. Pure; shared by render and its tests."""

from __future__ import annotations

from datetime import datetime

SUFFIX = {
    "kwatt": " kW",
    "watt": " W",
    "kwatth": " kWh",
    "masskg": " kg",
    "percent": "%",
    "percentunit": "%",
    "m": " min",
    "none": "",
}


def age(ms: float, now: datetime) -> str:
    seconds = max(0.0, now.timestamp() - ms / 1000)
    for limit, size, word in ((90, 1, "s"), (5400, 60, "min"), (129600, 3600, "h")):
        if seconds < limit:
            return f"{seconds / size:.0f} {word} ago"
    return f"{seconds / 86400:.0f} d ago"


def format_value(value: object, unit: str, decimals: int | None, now: datetime) -> str:
    if value is None:
        return "–"
    if not isinstance(value, int | float) or isinstance(value, bool):
        return str(value)
    if unit == "dateTimeFromNow":
        return age(value, now)
    number = float(value) * (100 if unit == "percentunit" else 1)
    places = decimals if decimals is not None else (0 if number.is_integer() else 2)
    return f"{number:,.{places}f}{SUFFIX.get(unit, ' ' + unit)}"
