"""The Grafana HTTP endpoints that ``dashboards.push`` calls, in a stdlib server on loopback.

A stand-in, because no Grafana server can run in the test environment. It follows Grafana's
documented behaviour for these endpoints: folders by uid, dashboards by uid, and
``POST /api/dashboards/db`` answering 412 ``version-mismatch`` when ``overwrite`` is false and the
stored version differs from the posted one.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeGrafana:
    def __init__(self, token: str = "secret-token") -> None:
        self.token = token
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.edit_before_next_save: str | None = None  # uid someone saves between our read and write
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def edit_in_ui(self, uid: str, title: str) -> None:
        """What a user's save in the Grafana UI does: new content, version + 1."""
        stored = self.dashboards[uid]
        stored["dashboard"] = {**stored["dashboard"], "title": title}
        stored["version"] += 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        grafana = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {grafana.token}":
                    self._send(401, {"message": "Unauthorized"})
                    return False
                return True

            def do_GET(self) -> None:
                grafana.requests.append(("GET", self.path))
                if not self._authorised():
                    return None
                if match := re.fullmatch(r"/api/folders/([\w-]+)", self.path):
                    folder = grafana.folders.get(match[1])
                    return self._send(200, folder) if folder else self._send(404, {"message": "folder not found"})
                if match := re.fullmatch(r"/api/dashboards/uid/([\w-]+)", self.path):
                    stored = grafana.dashboards.get(match[1])
                    if not stored:
                        return self._send(404, {"message": "Dashboard not found"})
                    body = {**stored["dashboard"], "version": stored["version"]}
                    return self._send(200, {"dashboard": body, "meta": {"folderUid": stored["folderUid"]}})
                return self._send(404, {"message": "not found"})

            def do_POST(self) -> None:
                grafana.requests.append(("POST", self.path))
                if not self._authorised():
                    return None
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if self.path == "/api/folders":
                    uid = body["uid"]
                    if uid in grafana.folders:
                        return self._send(409, {"message": "a folder with the same uid already exists"})
                    grafana.folders[uid] = {"uid": uid, "title": body["title"], "id": len(grafana.folders) + 1}
                    return self._send(200, grafana.folders[uid])
                if self.path == "/api/dashboards/db":
                    return self._save(body)
                return self._send(404, {"message": "not found"})

            def _save(self, body: dict[str, Any]) -> None:
                dashboard = body["dashboard"]
                uid = dashboard["uid"]
                if body.get("folderUid") not in grafana.folders:
                    return self._send(400, {"message": "folder not found"})
                if grafana.edit_before_next_save == uid:
                    grafana.edit_before_next_save = None
                    grafana.edit_in_ui(uid, "edited during the push")
                stored = grafana.dashboards.get(uid)
                if stored and not body.get("overwrite") and dashboard.get("version") != stored["version"]:
                    return self._send(
                        412,
                        {"status": "version-mismatch", "message": "The dashboard has been changed by someone else"},
                    )
                version = stored["version"] + 1 if stored else 1
                grafana.dashboards[uid] = {"dashboard": dashboard, "version": version, "folderUid": body["folderUid"]}
                return self._send(200, {"status": "success", "uid": uid, "version": version, "id": 1, "url": "/d/x"})

        return Handler
