"""InfluxDB 2.x/3.x: ``POST /api/v2/write`` through influxdb-client. The only influxdb-client importer.

influxdb-client's batching WriteApi retries in its own thread and would hide partial writes from us,
so we use its SYNCHRONOUS WriteApi with urllib3 retries off: one call is one request, and the status
code comes back to :mod:`collector.drain.delivery`, which owns retries, splitting and dead-lettering.
"""

from __future__ import annotations

import json

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ProtocolError as Urllib3ProtocolError

from collector.influx.client import (
    BucketCheckError,
    InfluxClient,
    InfluxQueryError,
    InfluxUnreachable,
    Series,
    WriteResponse,
    error_text,
    parse_retry_after,
    series_of,
)
from collector.settings import InfluxV2Settings


class InfluxV2Client(InfluxClient):
    def __init__(self, settings: InfluxV2Settings) -> None:
        self.settings = settings
        self._client = InfluxDBClient(
            url=settings.url,
            token=settings.token.get_secret_value(),
            org=settings.org,
            timeout=int(settings.timeout_s * 1000),
            enable_gzip=settings.compress,
            retries=False,
        )
        self._write = self._client.write_api(write_options=SYNCHRONOUS)

    @property
    def target(self) -> str:
        return f"{self.settings.url} org {self.settings.org} bucket {self.settings.bucket}"

    def write(self, lines: list[str]) -> WriteResponse:
        try:
            self._write.write(
                bucket=self.settings.bucket,
                org=self.settings.org,
                record="\n".join(lines),
                write_precision=WritePrecision.NS,  # type: ignore[arg-type]
            )
        except ApiException as exc:
            headers: dict[str, str] = dict(exc.headers or {})
            return WriteResponse(
                int(exc.status or 0), error_text(exc.body), parse_retry_after(headers.get("Retry-After"))
            )
        except Urllib3ProtocolError as exc:
            return WriteResponse(0, f"InfluxDB's answer could not be read ({exc})", unreadable=True)
        except (Urllib3Error, OSError) as exc:
            raise InfluxUnreachable(f"{self.settings.url}: {exc}") from exc
        return WriteResponse(204, "")

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except Exception:  # influxdb-client's ping raises whatever urllib3 raised
            return False

    def series(self, statement: str, epoch: str | None = None) -> list[Series]:
        """InfluxQL through the 1.x compatibility API (``/query``): needs the DBRP mapping ``<bucket>/autogen``."""
        params = [("db", self.settings.bucket), ("q", statement)]
        if epoch is not None:
            params.append(("epoch", epoch))
        try:
            response = self._client.api_client.call_api(  # type: ignore[no-untyped-call]
                "/query",
                "POST",
                query_params=params,
                header_params={"Accept": "application/json"},
                auth_settings=[],
                _preload_content=False,
                _return_http_data_only=True,
            )
            result = json.loads(response.data)["results"][0]
        except ApiException as exc:
            raise InfluxQueryError(f"{statement}: HTTP {exc.status}: {error_text(exc.body)}") from exc
        except (Urllib3Error, OSError) as exc:
            raise InfluxUnreachable(f"cannot reach InfluxDB at {self.settings.url}: {exc}") from exc
        except (ValueError, KeyError, IndexError) as exc:
            raise InfluxQueryError(f"{statement}: unreadable answer ({exc})") from exc
        if "error" in result:
            raise InfluxQueryError(f"{statement}: {result['error']}")
        return series_of(result)

    def check_bucket(self) -> str:
        try:
            bucket = self._client.buckets_api().find_bucket_by_name(self.settings.bucket)  # type: ignore[no-untyped-call]
        except ApiException as exc:
            raise BucketCheckError(f"{self.target}: HTTP {exc.status}: {error_text(exc.body)}") from exc
        except (Urllib3Error, OSError) as exc:
            raise InfluxUnreachable(f"cannot reach InfluxDB at {self.settings.url}: {exc}") from exc
        if bucket is None:
            raise BucketCheckError(
                f"bucket {self.settings.bucket!r} not found in org {self.settings.org!r}. "
                "Fix: influx bucket create --name shopfloor --retention 400d, then a DBRP mapping shopfloor/autogen"
            )
        return f"bucket {bucket.name} ok"

    def close(self) -> None:
        self._write.close()  # type: ignore[no-untyped-call]
        self._client.close()  # type: ignore[no-untyped-call]
