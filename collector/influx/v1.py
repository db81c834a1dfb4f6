"""InfluxDB 1.x over HTTP: ``POST /write?db=&rp=&precision=ns``, ``/query``, ``/ping``. The only httpx importer.

Gzip only when InfluxDB is on another host (``influx.gzip: auto``), basic auth when configured.

Writes to a plain ``http://`` InfluxDB go over one keep-alive ``http.client`` connection (:class:`_LeanWriter`):
the drainer sends a write request every few tens of milliseconds under live traffic, and httpx's own Python
(1.1-1.4 ms of CPU for a 100-line request here, against 0.4-0.45 ms on this path; docs/performance.md) was paid
under the same GIL that receives the messages. Queries go the same way (:class:`_LeanReader`, one connection per
thread): httpx read a long answer in small pieces, 8.9 ms for 1.7 MB against 2.7 ms. Pings and ``https://`` keep
httpx.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import threading
import urllib.parse
from collections.abc import Sequence

import httpx
import msgpack

from collector.influx.client import (
    InfluxClient,
    InfluxQueryError,
    InfluxUnreachable,
    Series,
    WriteResponse,
    error_text,
    parse_retry_after,
    series_of,
)
from collector.settings import InfluxV1Settings

_MSGPACK = "application/x-msgpack"


class InfluxV1Client(InfluxClient):
    def __init__(self, settings: InfluxV1Settings) -> None:
        self.settings = settings
        auth = None
        if settings.username is not None and settings.password is not None:
            auth = httpx.BasicAuth(settings.username, settings.password.get_secret_value())
        # Query answers too are gzipped only when remote: over loopback, gzip took influxd 2-3x longer to answer.
        accept = {"Accept-Encoding": "gzip" if settings.compress else "identity"}
        self._http = httpx.Client(base_url=settings.url, auth=auth, timeout=settings.timeout_s, headers=accept)
        self._params = {"db": settings.database, "precision": "ns"}
        if settings.retention_policy:
            self._params["rp"] = settings.retention_policy
        plain = settings.url.startswith("http://")
        self._lean = _LeanWriter(settings, self._params) if plain else None
        self._reader = _LeanReader(settings) if plain else None

    @property
    def target(self) -> str:
        rp = f"/{self.settings.retention_policy}" if self.settings.retention_policy else ""
        return f"{self.settings.url} database {self.settings.database}{rp}"

    def write(self, lines: list[str]) -> WriteResponse:
        body = "\n".join(lines).encode()
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.settings.compress:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        if self._lean is not None:
            return self._lean.write(body, headers)
        try:
            response = self._http.post("/write", params=self._params, content=body, headers=headers)
        except httpx.ProtocolError as exc:
            # A reset before any answer also lands here: delivery pings before it blames the lines.
            return WriteResponse(0, f"InfluxDB's answer could not be read ({exc})", unreadable=True)
        except httpx.TransportError as exc:
            raise InfluxUnreachable(f"{self.settings.url}: {exc or type(exc).__name__}") from exc
        text = error_text(response.text) if response.status_code >= 300 else ""
        return WriteResponse(response.status_code, text, parse_retry_after(response.headers.get("Retry-After")))

    def ping(self) -> bool:
        try:
            return self._http.get("/ping", timeout=2).status_code == 204
        except httpx.TransportError:
            return False

    def series(self, statement: str, epoch: str | None = None) -> list[Series]:
        return self.series_many([statement], epoch)[0]

    def series_many(
        self, statements: Sequence[str], epoch: str | None = None, packed: bool = False
    ) -> list[list[Series]]:
        """One ``/query`` request for all ``statements`` (joined by ``;``), one result each, in order.
        ``packed`` (with ``epoch``): asked as MessagePack (see ``InfluxClient.series_many``)."""
        if not statements:
            return []
        statement = ";\n".join(statements)
        data = {"q": statement, "db": self.settings.database}
        headers = {}
        if epoch is not None:
            data["epoch"] = epoch
            if packed:  # without an epoch, times would come as MessagePack timestamps
                headers["Accept"] = _MSGPACK
        if self._reader is not None:
            status, kind, content = self._reader.query(data, headers)
        else:
            try:
                response = self._http.post("/query", data=data, headers=headers)
            except httpx.TransportError as exc:
                raise InfluxUnreachable(f"cannot reach InfluxDB at {self.settings.url}: {exc}") from exc
            status, kind, content = response.status_code, response.headers.get("content-type", ""), response.content
        return self._answers(statements, statement, status, kind, content)

    def _answers(
        self, statements: Sequence[str], statement: str, status: int, kind: str, content: bytes
    ) -> list[list[Series]]:
        if status == 401:
            raise InfluxQueryError(f"InfluxDB at {self.settings.url} refused the credentials (401)")
        try:
            body = msgpack.unpackb(content, raw=False) if kind.startswith(_MSGPACK) else json.loads(content)
            if "error" in body and "results" not in body:
                raise InfluxQueryError(f"{statement}: {body['error']}")
            results = body["results"]
            if len(results) != len(statements) and len(results) == 1 and "error" in results[0]:
                raise InfluxQueryError(f"{statement}: {results[0]['error']}")
            answers: list[list[Series]] = []
            for one, result in zip(statements, results, strict=True):
                if "error" in result:
                    raise InfluxQueryError(f"{one}: {result['error']}")
                answers.append(series_of(result))
        except (ValueError, KeyError, IndexError, TypeError, msgpack.UnpackException) as exc:
            text = content[:300].decode(errors="replace")
            raise InfluxQueryError(f"{statement}: HTTP {status}: {text}") from exc
        return answers

    def close(self) -> None:
        if self._lean is not None:
            self._lean.close()
        if self._reader is not None:
            self._reader.close()
        self._http.close()


# The answer broke HTTP (influxd echoes an unparsable line, control characters included, in a header), or the
# server went away mid-answer: the request reached InfluxDB, so delivery pings before it blames the lines.
_UNREADABLE = (http.client.HTTPException, ValueError)


def _plain_http(settings: InfluxV1Settings) -> tuple[str, int, str, dict[str, str]]:
    """Host, port, base path and the headers every request of the lean paths sends (encoding, basic auth)."""
    parts = urllib.parse.urlsplit(settings.url)
    headers = {"Accept-Encoding": "gzip" if settings.compress else "identity"}
    if settings.username is not None and settings.password is not None:
        secret = f"{settings.username}:{settings.password.get_secret_value()}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(secret).decode()
    return parts.hostname or "127.0.0.1", parts.port or 80, parts.path.rstrip("/"), headers


class _LeanWriter:
    """``POST /write`` on one keep-alive ``http.client`` connection, reopened when InfluxDB closed it."""

    def __init__(self, settings: InfluxV1Settings, params: dict[str, str]) -> None:
        self._host, self._port, base, self._headers = _plain_http(settings)
        self._url = settings.url
        self._timeout = settings.timeout_s
        self._path = f"{base}/write?{urllib.parse.urlencode(params)}"
        self._conn: http.client.HTTPConnection | None = None

    def write(self, body: bytes, headers: dict[str, str]) -> WriteResponse:
        for attempt in (0, 1):
            reused = self._conn is not None
            conn = self._conn or http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            self._conn = conn
            try:
                conn.request("POST", self._path, body, {**self._headers, **headers})
            except OSError as exc:
                self.close()
                if reused and attempt == 0:
                    continue  # InfluxDB closed the idle connection: the same write on a new one (points are idempotent)
                raise InfluxUnreachable(f"{self._url}: {exc or type(exc).__name__}") from exc
            try:
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                if reused and attempt == 0:
                    continue  # closed before it read the request: nothing was written, send it again
                return WriteResponse(0, f"InfluxDB's answer could not be read ({exc})", unreadable=True)
            except TimeoutError as exc:
                self.close()
                raise InfluxUnreachable(f"{self._url}: no answer within {self._timeout:g} s") from exc
            except (*_UNREADABLE, OSError) as exc:
                self.close()
                return WriteResponse(0, f"InfluxDB's answer could not be read ({exc})", unreadable=True)
            if response.will_close:
                self.close()
            status = response.status
            if status < 300:
                return WriteResponse(status, "")
            if response.getheader("Content-Encoding") == "gzip":
                data = gzip.decompress(data)
            return WriteResponse(status, error_text(data), parse_retry_after(response.getheader("Retry-After")))
        raise AssertionError("unreachable: the second attempt returns or raises")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class _LeanReader:
    """``POST /query`` on one keep-alive ``http.client`` connection per thread (the KPI API asks from two threads
    at once), reopened when InfluxDB closed it. A query only reads, so asking it again on a new connection is safe."""

    def __init__(self, settings: InfluxV1Settings) -> None:
        self._host, self._port, base, self._headers = _plain_http(settings)
        self._headers["Content-Type"] = "application/x-www-form-urlencoded"
        self._url = settings.url
        self._timeout = settings.timeout_s
        self._path = f"{base}/query"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[http.client.HTTPConnection] = []

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        return conn, False

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)

    def query(self, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str, bytes]:
        """The answer's status, content type and body (un-gzipped)."""
        body = urllib.parse.urlencode(data)
        for attempt in (0, 1):
            conn, reused = self._connection()
            try:
                conn.request("POST", self._path, body, {**self._headers, **headers})
                response = conn.getresponse()
                content = response.read()
            except TimeoutError as exc:
                self._drop()
                raise InfluxUnreachable(
                    f"cannot reach InfluxDB at {self._url}: no answer within {self._timeout:g} s"
                ) from exc
            except (http.client.HTTPException, OSError) as exc:
                self._drop()
                if reused and attempt == 0:
                    continue  # InfluxDB closed the idle connection: ask again on a new one
                raise InfluxUnreachable(f"cannot reach InfluxDB at {self._url}: {exc or type(exc).__name__}") from exc
            if response.will_close:
                self._drop()
            if response.getheader("Content-Encoding") == "gzip":
                content = gzip.decompress(content)
            return response.status, response.getheader("Content-Type") or "", content
        raise AssertionError("unreachable: the second attempt returns or raises")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
