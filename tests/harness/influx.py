"""A tiny InfluxDB 1.x HTTP client for tests: write line protocol, query InfluxQL."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from collector.influx.client import InfluxClient, Series, WriteResponse


class InfluxTestDB:
    def __init__(self, url: str, database: str) -> None:
        self.url = url
        self.database = database

    def _post(self, path: str, params: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
        query = urllib.parse.urlencode(params)
        req = urllib.request.Request(f"{self.url}{path}?{query}", data=body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def create(self) -> None:
        status, body = self._post("/query", {"q": f'CREATE DATABASE "{self.database}"'})
        assert status == 200, body

    def drop(self) -> None:
        self._post("/query", {"q": f'DROP DATABASE "{self.database}"'})

    def write(self, lines: str, precision: str = "ms") -> None:
        status, body = self._post("/write", {"db": self.database, "precision": precision}, lines.encode())
        assert status == 204, body

    def query(self, influxql: str) -> list[dict[str, Any]]:
        """Rows of the first statement, each a dict column -> value (plus tags, when grouped)."""
        status, body = self._post("/query", {"db": self.database, "q": influxql, "epoch": "ms"})
        assert status == 200, body
        result = json.loads(body)["results"][0]
        assert "error" not in result, result["error"]
        rows: list[dict[str, Any]] = []
        for series in result.get("series", []):
            tags = series.get("tags", {})
            for values in series.get("values", []):
                rows.append({**tags, **dict(zip(series["columns"], values, strict=True))})
        return rows

    def scalar(self, influxql: str, column: str | None = None) -> Any:
        rows = self.query(influxql)
        if not rows:
            return None
        row = rows[0]
        if column is None:
            column = next(c for c in row if c != "time")
        return row[column]


class CountingClient(InfluxClient):
    """Delegates to a real client and counts its /query requests, their InfluxQL statements and their time: a
    call's cost in requests does not depend on the machine's load (tests/kpi/test_read_model.py, bench/kpi_api.py).
    The wrapped client belongs to the caller: ``close`` leaves it open."""

    def __init__(self, inner: InfluxClient) -> None:
        self.inner = inner
        self.requests = 0
        self.statements = 0
        self.seconds = 0.0
        self._lock = threading.Lock()

    @property
    def target(self) -> str:
        return self.inner.target

    def write(self, lines: list[str]) -> WriteResponse:
        return self.inner.write(lines)

    def series(self, statement: str, epoch: str | None = None) -> list[Series]:
        started = time.perf_counter()
        try:
            return self.inner.series(statement, epoch)
        finally:
            self._count(1, started)

    def series_many(
        self, statements: Sequence[str], epoch: str | None = None, packed: bool = False
    ) -> list[list[Series]]:
        started = time.perf_counter()
        try:
            return self.inner.series_many(statements, epoch, packed)
        finally:
            self._count(len(statements), started)

    def _count(self, statements: int, started: float) -> None:
        with self._lock:  # compare asks from two threads
            self.seconds += time.perf_counter() - started
            self.requests += 1
            self.statements += statements

    def ping(self) -> bool:
        return self.inner.ping()

    def close(self) -> None:
        pass
