"""The InfluxDB client the collector talks through, whichever server version answers, and its one error tree.

:class:`InfluxClient` writes line protocol, runs InfluxQL and pings. :mod:`collector.influx.v1` (httpx) and
:mod:`collector.influx.v2` (influxdb-client) implement it; :func:`collector.influx.connect.make_client`
picks one for ``influx.version``.
"""

from __future__ import annotations

import email.utils
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


class InfluxError(Exception):
    """Anything InfluxDB did not do for us. The subclasses say which kind."""


class InfluxUnreachable(InfluxError):
    """No HTTP answer at all: connection refused, reset or timed out."""


class InfluxQueryError(InfluxError):
    """An InfluxQL statement was refused, or its answer could not be read."""


class BucketCheckError(InfluxError):
    """The 2.x bucket could not be checked: missing, no permission."""


@dataclass(frozen=True, slots=True)
class Series:
    """One series of an InfluxQL answer, as InfluxDB sends it: column names, and rows of values."""

    name: str | None
    columns: list[str]
    values: list[list[Any]]
    tags: dict[str, str] = field(default_factory=dict)


def series_of(result: dict[str, Any]) -> list[Series]:
    """The series of one InfluxQL statement's result."""
    return [
        Series(s.get("name"), s["columns"], s.get("values", []), s.get("tags") or {}) for s in result.get("series", [])
    ]


def rows_of(series: list[Series]) -> list[dict[str, Any]]:
    """Each row a column -> value dict with ``_series``: handy for a few rows. Long answers are read by column."""
    rows: list[dict[str, Any]] = []
    for one in series:
        for values in one.values:
            row = dict(zip(one.columns, values, strict=True))
            row["_series"] = one.name
            rows.append(row)
    return rows


@dataclass(frozen=True, slots=True)
class WriteResponse:
    status: int  # 0 with ``unreadable``: an answer came, but not one HTTP can read
    text: str
    retry_after_s: float | None = None
    # InfluxDB answered, but the answer broke HTTP: influxd 1.x echoes a line it cannot parse in its
    # X-Influxdb-Error header, control characters included, and no client accepts such a header.
    unreadable: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 and not self.unreadable


class InfluxClient(ABC):
    """Writes line protocol (ns precision) and runs InfluxQL: the collector's only way to InfluxDB."""

    @property
    @abstractmethod
    def target(self) -> str:
        """Where writes go, for log lines: URL and database (or org and bucket)."""

    @abstractmethod
    def write(self, lines: list[str]) -> WriteResponse:
        """POST one batch. Raises InfluxUnreachable only when the connection failed or timed out; any
        answer, even one that breaks HTTP, is returned."""

    @abstractmethod
    def series(self, statement: str, epoch: str | None = None) -> list[Series]:
        """The series of one InfluxQL statement. ``epoch="ms"``: times as integer ms. Raises InfluxError."""

    def series_many(
        self, statements: Sequence[str], epoch: str | None = None, packed: bool = False
    ) -> list[list[Series]]:
        """The series of each statement, in order. A client that can send them in one request does (InfluxQL
        allows several statements separated by ``;``); this default asks one at a time. ``packed``: the answer
        may come as MessagePack (with ``epoch``), which InfluxDB 1.x writes twice as fast as JSON for long
        answers; a float field's whole numbers then read as floats (JSON's read as ints). Raises InfluxError
        when any statement fails."""
        return [self.series(statement, epoch) for statement in statements]

    @abstractmethod
    def ping(self) -> bool: ...

    @abstractmethod
    def close(self) -> None: ...

    def query(self, statement: str, epoch: str | None = None) -> list[dict[str, Any]]:
        """The same answer as rows of dicts (raises InfluxError)."""
        return rows_of(self.series(statement, epoch))


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


def error_text(body: bytes | str | None) -> str:
    """InfluxDB's error message from a response body, whole: the JSON ``error``/``message`` when there is one."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    if isinstance(parsed, dict):
        return str(parsed.get("error") or parsed.get("message") or parsed)
    return text
