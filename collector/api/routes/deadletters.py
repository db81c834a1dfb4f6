"""The dead-letter store over HTTP: list, show, requeue (optionally with an edited payload)."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Body, HTTPException, Query
from pydantic import BaseModel

from collector.api.deps import RuntimeDep
from collector.ingest.requeue import requeue
from collector.storage.dead_letters import DeadLetter

router = APIRouter(prefix="/api/dead-letters", tags=["dead letters"])


class DeadLetterOut(BaseModel):
    id: int
    received_at_ms: int
    topic: str
    kind: str
    reason: str
    seen: int
    requeued_at_ms: int | None
    payload: str | None
    payload_base64: str | None

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterOut:
        try:
            text: str | None = letter.payload.decode()
            raw = None
        except UnicodeDecodeError:
            text, raw = None, base64.b64encode(letter.payload).decode()
        return cls(
            id=letter.id,
            received_at_ms=letter.received_at_ms,
            topic=letter.topic,
            kind=letter.kind,
            reason=letter.reason,
            seen=letter.seen,
            requeued_at_ms=letter.requeued_at_ms,
            payload=text,
            payload_base64=raw,
        )


class RequeueOut(BaseModel):
    id: int
    requeued: bool
    detail: str


@router.get("", summary="Dead letters not yet requeued, oldest first")
def list_dead_letters(
    runtime: RuntimeDep,
    kind: str | None = Query(default=None, description="contract or write_rejected"),
    limit: int = Query(default=100, ge=1, le=10_000),
    offset: int = Query(default=0, ge=0),
) -> list[DeadLetterOut]:
    return [DeadLetterOut.of(letter) for letter in runtime.dead_letters.entries(limit, offset, kind)]


@router.get("/{letter_id}", summary="One dead letter with its raw payload")
def show_dead_letter(letter_id: int, runtime: RuntimeDep) -> DeadLetterOut:
    letter = runtime.dead_letters.get(letter_id)
    if letter is None:
        raise HTTPException(404, f"no dead letter {letter_id}")
    return DeadLetterOut.of(letter)


@router.post("/{letter_id}/requeue", summary="Re-validate (optionally an edited payload) and spool it")
def requeue_dead_letter(
    letter_id: int,
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
