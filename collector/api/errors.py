"""The API's error answers: one shape for every 422, inputs never echoed whole, and a bound on request bodies.

FastAPI's own 422s carry the whole offending input; a 200 MB body would come straight back. Here every
422 keeps FastAPI's documented shape (``{"detail": [{"loc", "msg", "type"}]}``), with inputs cut short.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

ECHO_CHARS = 100

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ErrorOut(BaseModel):
    """Every error answer but 422: what went wrong, and the fix where there is one."""

    detail: str


_MEANING = {
    400: "the body could not be read at all (not UTF-8 text)",
    401: "no bearer token, or one that is unknown or revoked (docs/security.md#api-tokens)",
    403: "the token's site, station or scope does not cover this",
    404: "no such thing: the answer names what exists",
    413: "the request body is larger than http.max_body_bytes",
    503: "InfluxDB or the spool cannot take or answer this now; retry later",
}


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: the error answers it may give besides 200 and 422."""
    return {code: {"model": ErrorOut, "description": _MEANING[code]} for code in codes}


def invalid(loc: tuple[str, ...], msg: str) -> RequestValidationError:
    """A 422 for a parameter that passed its type but not its meaning (``raise invalid(("query", "to"), ...)``)."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": msg}])


def _short(value: object) -> object:
    text = repr(value)
    return value if len(text) <= ECHO_CHARS else f"{text[:ECHO_CHARS]}… ({len(text)} characters)"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        shown = {key: value for key, value in error.items() if key in ("type", "loc", "msg")}
        if tuple(error.get("loc", ()))[-1:] == ("days",) and error.get("type") == "less_than_equal":
            shown["msg"] = f"{error['msg']}: days covers at most 10 years; for a longer range give 'from' and 'to'"
        if "input" in error:
            shown["input"] = _short(error["input"])
        errors.append(shown)
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


class BodyLimit:
    """Refuse request bodies above ``max_bytes`` with 413, counted as they arrive (chunked bodies too)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._discard(receive, int(declared))
            await self._refuse(send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route's body parsing: FastAPI answers an HTTPException as it is.
                    raise HTTPException(413, self._why())
            return message

        await self.app(scope, counted, send)

    @staticmethod
    async def _discard(receive: Receive, declared: int) -> None:
        """Read and drop a refused body (up to 64 MB), so the client gets the 413 and not a reset connection;
        nothing of it is kept. A bigger one is left unread: the connection closes after the answer."""
        if declared > 64 * 1024 * 1024:
            return
        while True:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return

    def _why(self) -> str:
        return f"request body larger than {self.max_bytes} bytes (http.max_body_bytes)"

    async def _refuse(self, send: Send) -> None:
        body = JSONResponse({"detail": self._why()}).body
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def install(app: FastAPI, max_body_bytes: int) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
