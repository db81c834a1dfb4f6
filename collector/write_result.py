"""What a write request came back with, whichever InfluxDB version answered. Shared by both writers."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import Any, Protocol


class InfluxQueryError(Exception):
    """An InfluxQL statement failed, or the server could not be reached (either InfluxDB version)."""


def rows_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of one InfluxQL statement's result, each a column -> value dict with ``_series``."""
    rows: list[dict[str, Any]] = []
    for series in result.get("series", []):
        name, columns = series.get("name"), series["columns"]
        for values in series.get("values", []):
            row = dict(zip(columns, values, strict=True))
            row["_series"] = name
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
