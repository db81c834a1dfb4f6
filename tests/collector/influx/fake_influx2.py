"""A stand-in for the InfluxDB 2 write API, for tests only: no InfluxDB 2 server can run on this machine.

It implements ``POST /api/v2/write``, ``GET /ping`` and ``POST /query`` (the 1.x-compatible InfluxQL
endpoint, answering ``query_answer``), records every request (path, query, headers,
decompressed body) and answers per a policy the test sets: 204, or an error status for some bodies.
"""

from __future__ import annotations

import gzip
import json
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw_body: bytes
    lines: list[str]


# policy(lines) -> (status, headers, json body) ; None means 204 and the lines are "stored"
Policy = Callable[[list[str]], tuple[int, dict[str, str], dict[str, str]] | None]


class FakeInflux2:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.stored: list[str] = []
        self.policy: Policy = lambda lines: None
        self.query_answer: dict[str, object] = {"results": [{"statement_id": 0}]}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(204 if self.path.startswith("/ping") else 404)
                self.end_headers()

            def do_POST(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
                lines = [line for line in body.decode().split("\n") if line]
                fake.requests.append(
                    Recorded("POST", url.path, dict(urllib.parse.parse_qsl(url.query)), dict(self.headers), raw, lines)
                )
                if url.path == "/query":
                    answer: tuple[int, dict[str, str], dict[str, object]] | None = (200, {}, fake.query_answer)
                elif url.path == "/api/v2/write":
                    answer = fake.policy(lines)  # type: ignore[assignment]
                else:
                    answer = (404, {}, {"message": "not found"})
                if answer is None:
                    fake.stored.extend(lines)
                    self.send_response(204)
                    self.end_headers()
                    return
                status, headers, payload = answer
                data = json.dumps(payload).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
