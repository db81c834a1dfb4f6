"""What a write request came back with, whichever InfluxDB version answered. Shared by both writers."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import Any, Protocol


class InfluxQueryError(Exception):
    """An InfluxQL statement failed, or the server could not be reached (either InfluxDB version)."""


@dataclass(frozen=True, slots=True)
class Series:
    """One series of an InfluxQL answer, as InfluxDB sends it: column names, and rows of values."""

    name: str | None
    columns: list[str]
    values: list[list[Any]]


def series_of(result: dict[str, Any]) -> list[Series]:
    """The series of one InfluxQL statement's result."""
    return [Series(s.get("name"), s["columns"], s.get("values", [])) for s in result.get("series", [])]


def rows_of(series: list[Series]) -> list[dict[str, Any]]:
    """Each row a column -> value dict with ``_series``: handy for a few rows. Long answers are read by column."""
    rows: list[dict[str, Any]] = []
    for one in series:
        for values in one.values:
            row = dict(zip(one.columns, values, strict=True))
            row["_series"] = one.name
            rows.append(row)
    return rows


class WriteUnreachable(Exception):
    """No HTTP answer at all: connection refused, reset or timed out."""


@dataclass(frozen=True, slots=True)
class WriteResponse:
    status: int
    text: str
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class LineWriter(Protocol):
    """POSTs one batch of line protocol (ns precision). Raises WriteUnreachable when nobody answers."""

    def send(self, lines: list[str]) -> WriteResponse: ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...

    def query(self, statement: str, epoch: str | None = None) -> list[dict[str, Any]]:
        """Rows of one InfluxQL statement (raises InfluxQueryError)."""
        ...

    def series(self, statement: str, epoch: str | None = None) -> list[Series]:
        """The same answer by series, without a dict per row (raises InfluxQueryError)."""
        ...

    @property
    def target(self) -> str: ...


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
