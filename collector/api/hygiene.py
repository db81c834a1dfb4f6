"""Headers on every answer, and CORS only when configured (docs/security.md#the-web-side).

- ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` and ``Referrer-Policy: no-referrer`` on every
  answer: no answer is rendered as another type, framed by another site (clickjacking the bench page), or
  leaks its URL to the sites it links to.
- ``Content-Security-Policy``: the bench page runs only its own script and style and talks only to its own
  origin; JSON answers may run nothing at all. /docs and /redoc keep the inline script of fastapi-offline's
  pages, with everything else from the collector itself.
- CORS: without ``api.cors_origins`` there is no CORS middleware, so no browser page of another origin may
  read an answer. With it, only those origins, and never with credentials (the API has no cookies).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from collector.api.errors import ASGIApp, Message, Receive, Scope, Send

BENCH_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
# A PDF report opens in the browser's viewer; HTML reports carry their own inline styles and SVG.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'"

_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def policy_for(path: str) -> str:
    if path.startswith("/bench/"):
        return BENCH_PAGE_CSP
    if path.startswith(("/docs", "/redoc", "/static-offline-docs")):
        return DOCS_CSP
    if path.startswith("/api/reports/"):
        return REPORT_CSP
    return API_CSP


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = policy_for(scope.get("path", "")).encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-security-policy"]
                message["headers"] = [*headers, *_ALWAYS, (b"content-security-policy", policy)]
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI, cors_origins: list[str]) -> None:
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_credentials=False,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(SecurityHeaders)
