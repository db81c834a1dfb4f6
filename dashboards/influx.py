"""Run InfluxQL over HTTP (InfluxDB 1.x /query; 2.x and 3.x through their v1-compatible /query)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any


class InfluxQueryError(RuntimeError):
    """The server refused a query, or could not be reached."""


@dataclass(frozen=True)
class InfluxQL:
    url: str
    database: str
    token: str | None = None
    timeout_s: float = 30.0

    def query(self, influxql: str) -> dict[str, Any]:
        """The result of the (single) statement: ``{"series": [...]}``, times in epoch ms."""
        params = urllib.parse.urlencode({"db": self.database, "q": influxql, "epoch": "ms"})
        request = urllib.request.Request(f"{self.url.rstrip('/')}/query", data=params.encode(), method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        if self.token:
            request.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise InfluxQueryError(f"{self.url}: HTTP {exc.code}: {exc.read()[:300]!r} for {influxql}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise InfluxQueryError(f"cannot reach InfluxDB at {self.url}: {exc}") from exc
        result: dict[str, Any] = body["results"][0]
        if "error" in result:
            raise InfluxQueryError(f"{result['error']} in: {influxql}")
        return result
