"""InfluxQL for the dashboards' previews and checks, through the collector's InfluxDB client.

The panels' frames (:mod:`dashboards.frames`) read InfluxDB's JSON result shape, so this adapter hands the
client's series back in that shape. InfluxDB 2.x/3.x answer through their 1.x-compatible ``/query``,
which takes the API token as the basic-auth password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from collector.influx.client import InfluxClient, InfluxError, InfluxQueryError
from collector.influx.connect import make_client
from collector.settings import InfluxV1Settings

__all__ = ["InfluxError", "InfluxQL", "InfluxQueryError"]


@dataclass
class InfluxQL:
    url: str
    database: str
    token: str | None = None
    timeout_s: float = 30.0
    _client: InfluxClient | None = field(default=None, init=False, repr=False, compare=False)

    def _connected(self) -> InfluxClient:
        if self._client is None:
            credentials: dict[str, Any] = (
                {"username": "shopfloor-dashboards", "password": SecretStr(self.token)} if self.token else {}
            )
            self._client = make_client(
                InfluxV1Settings(url=self.url, database=self.database, timeout_s=self.timeout_s, **credentials)
            )
        return self._client

    def query(self, influxql: str) -> dict[str, Any]:
        """The result of the (single) statement: ``{"series": [...]}``, times in epoch ms. Raises InfluxError."""
        series = self._connected().series(influxql, epoch="ms")
        return {
            "series": [
                {
                    "name": one.name,
                    "columns": one.columns,
                    "values": one.values,
                    **({"tags": one.tags} if one.tags else {}),
                }
                for one in series
            ]
        }

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
