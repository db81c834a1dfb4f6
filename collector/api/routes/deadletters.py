"""The dead-letter store over HTTP: list, show, requeue (optionally with an edited payload)."""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from collector.api.deps import Admin, RuntimeDep
from collector.api.errors import ErrorOut, documented, invalid
from collector.ingest.requeue import Refusal, requeue
from collector.storage.dead_letters import CARDINALITY, CONTRACT, WRITE_REJECTED, DeadLetter

# A list shows the head of each payload; one letter (GET /{id}) shows all that was kept.
LIST_PAYLOAD_CHARS = 1024
MAX_PAGE = 500
LetterId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="dead letter id")]


class LetterKind(StrEnum):
    CONTRACT = CONTRACT
    WRITE_REJECTED = WRITE_REJECTED
    CARDINALITY = CARDINALITY


# Dead letters hold any site's raw payloads, and a requeue writes: the admin scope (all sites) only.
router = APIRouter(
    prefix="/api/dead-letters", tags=["dead letters"], dependencies=[Admin], responses=documented(401, 403)
)


class DeadLetterOut(BaseModel):
    id: int
    received_at_ms: int
    topic: str
    site: str | None = Field(description="the site the topic named, when it named a valid one")
    kind: str
    reason: str
    seen: int
    requeued_at_ms: int | None
    payload: str | None = Field(description="the payload as text (in a list: its first 1024 characters)")
    payload_base64: str | None = Field(description="the payload, when it is not UTF-8 text")
    payload_bytes: int = Field(description="the size received")
    payload_complete: bool = Field(description="false when this answer (or the store) holds only the head")
    rejected_line: str | None = Field(default=None, description="write_rejected: the line InfluxDB refused")

    @classmethod
    def of(cls, letter: DeadLetter, head: int | None = None) -> DeadLetterOut:
        """``head``: show at most this many characters (or bytes, of a binary payload)."""
        raw: str | None = None
        try:
            decoded = letter.payload.decode()
            whole = head is None or len(decoded) <= head
            text: str | None = decoded if head is None else decoded[:head]
        except UnicodeDecodeError:
            text = None
            whole = head is None or len(letter.payload) <= head
            raw = base64.b64encode(letter.payload if head is None else letter.payload[:head]).decode()
        return cls(
            id=letter.id,
            received_at_ms=letter.received_at_ms,
            topic=letter.topic,
            site=letter.site,
            kind=letter.kind,
            reason=letter.reason,
            seen=letter.seen,
            requeued_at_ms=letter.requeued_at_ms,
            payload=text,
            payload_base64=raw,
            payload_bytes=letter.payload_bytes or len(letter.payload),
            payload_complete=whole and not letter.truncated,
            rejected_line=letter.line,
        )


class RequeueOut(BaseModel):
    id: int
    requeued: bool
    detail: str


@router.get("", summary="Dead letters not yet requeued, oldest first, a page at a time")
def list_dead_letters(
    runtime: RuntimeDep,
    kind: Annotated[LetterKind | None, Query(description="contract or write_rejected")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size, at most {MAX_PAGE}")] = 100,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> list[DeadLetterOut]:
    letters = runtime.dead_letters.entries(limit, offset, kind.value if kind else None)
    return [DeadLetterOut.of(letter, head=LIST_PAYLOAD_CHARS) for letter in letters]


@router.get("/{letter_id}", summary="One dead letter with its raw payload", responses=documented(404))
def show_dead_letter(letter_id: LetterId, runtime: RuntimeDep) -> DeadLetterOut:
    letter = runtime.dead_letters.get(letter_id)
    if letter is None:
        raise HTTPException(404, f"no dead letter {letter_id}")
    return DeadLetterOut.of(letter)


async def _contract_payload(request: Request) -> bytes | None:
    """The edited contract payload: a JSON body, or none. Line protocol (or any other text) is refused."""
    body = await request.body()
    if not body.strip():
        return None
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise HTTPException(
            415,
            "a requeue takes the letter's contract payload, edited, as JSON (Content-Type: application/json), "
            "or no body; line protocol is never accepted",
        )
    return body


_REQUEUE_ERRORS: dict[int | str, dict[str, object]] = {
    **documented(404, 413),
    409: {"model": ErrorOut, "description": "this letter cannot be requeued (already requeued, lines only, cut)"},
    415: {"model": ErrorOut, "description": "the body is not JSON: line protocol is never requeued"},
}


@router.post(
    "/{letter_id}/requeue",
    summary="Re-validate the letter's contract message (optionally with an edited JSON payload) and spool it",
    description="The topic stays the letter's; the payload goes through the contract, the clock check and the "
    "cardinality limits, as a message from the broker does. A write_rejected letter holds the contract message "
    "rebuilt from its line; one that holds only line protocol is refused (409).",
    responses=_REQUEUE_ERRORS,
    openapi_extra={"requestBody": {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}}},
)
def requeue_dead_letter(
    letter_id: LetterId,
    runtime: RuntimeDep,
    edited: Annotated[bytes | None, Depends(_contract_payload)],
) -> RequeueOut:
    result = requeue(
        runtime.dead_letters,
        runtime.spool,
        letter_id,
        prefix=runtime.settings.broker.prefix,
        edited_payload=edited,
        item_index=runtime.items,
        on_event=runtime.items.record,
        admit=runtime.cardinality.refuses,
        max_future_skew_s=runtime.settings.subscription.max_future_skew_s,
    )
    if result.refusal is Refusal.MISSING:
        raise HTTPException(404, f"no dead letter {letter_id}")
    if result.refusal is Refusal.CONFLICT:
        raise HTTPException(409, result.detail)
    if result.refusal is Refusal.INVALID:
        raise invalid(("body",), result.detail)
    return RequeueOut(id=letter_id, requeued=result.ok, detail=result.detail)
