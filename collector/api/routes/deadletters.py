"""The dead-letter store over HTTP: list, show, requeue (optionally with an edited payload)."""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from collector.api.deps import Admin, RuntimeDep
from collector.api.errors import documented
from collector.ingest.requeue import requeue
from collector.storage.dead_letters import CONTRACT, WRITE_REJECTED, DeadLetter

# A list shows the head of each payload; one letter (GET /{id}) shows all that was kept.
LIST_PAYLOAD_CHARS = 1024
MAX_PAGE = 500
LetterId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="dead letter id")]


class LetterKind(StrEnum):
    CONTRACT = CONTRACT
    WRITE_REJECTED = WRITE_REJECTED


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


@router.post(
    "/{letter_id}/requeue",
    summary="Re-validate (optionally an edited payload) and spool it",
    responses=documented(400, 404, 413),
)
def requeue_dead_letter(
    letter_id: LetterId,
    runtime: RuntimeDep,
    payload: str | None = Body(
        default=None, media_type="text/plain", description="edited payload; the stored one when empty"
    ),
) -> RequeueOut:
    edited = payload.encode() if payload else None
    result = requeue(
        runtime.dead_letters,
        runtime.spool,
        letter_id,
        prefix=runtime.settings.broker.prefix,
        edited_payload=edited,
        item_index=runtime.items,
        on_event=runtime.items.record,
    )
    if not result.ok and result.detail == "no such dead letter":
        raise HTTPException(404, f"no dead letter {letter_id}")
    return RequeueOut(id=letter_id, requeued=result.ok, detail=result.detail)
