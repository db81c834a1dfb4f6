"""Requeue dead letters after a fix: re-validate and move them into the spool.

"After a fix" means the collector or the contract was upgraded (a message that was invalid is valid now),
or the user edited the payload (``--payload FILE``). A ``contract`` letter is decoded again from its
topic and payload; a ``write_rejected`` letter is one line of line protocol, spooled as it is (edited or
not). A letter that is still invalid stays in the store with its new reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from collector.points import ItemIndex, Points, message_points
from collector.storage.dead_letters import CONTRACT, DeadLetterStore
from collector.storage.spool import Lane, Spool
from shopfloor.contract import ContractError, StationEvent, decode


@dataclass(frozen=True, slots=True)
class RequeueResult:
    letter_id: int
    ok: bool
    detail: str


def requeue(
    store: DeadLetterStore,
    spool: Spool,
    letter_id: int,
    *,
    prefix: str,
    edited_payload: bytes | None = None,
    item_index: ItemIndex | None = None,
    on_event: Callable[[str, StationEvent], object] | None = None,
) -> RequeueResult:
    """``item_index``/``on_event``: as in :class:`collector.ingest.pipeline.Ingest`, so a requeued station event
    enters the item index and a requeued ``finished`` event gets its category and bench time."""
    letter = store.get(letter_id)
    if letter is None:
        return RequeueResult(letter_id, False, "no such dead letter")
    if letter.requeued_at_ms is not None:
        return RequeueResult(letter_id, False, "already requeued")
    if letter.truncated and edited_payload is None:
        return RequeueResult(
            letter_id, False, f"only the first {len(letter.payload)} of {letter.payload_bytes} bytes were kept"
        )
    payload = edited_payload if edited_payload is not None else letter.payload
    if letter.kind == CONTRACT:
        try:
            message = decode(letter.topic, payload, prefix)
        except ContractError as exc:
            return RequeueResult(letter_id, False, f"still invalid: {exc}")
        if on_event is not None and isinstance(message.payload, StationEvent):
            on_event(message.topic.site, message.payload)
        points = message_points(message, item_index)
        site: str | None = message.topic.site
    else:
        text = payload.decode(errors="replace").strip()
        if not text or "\n" in text:
            return RequeueResult(letter_id, False, "a rejected write is one line of line protocol")
        points = Points([text])
        site = None  # the line's own tags name it; the letter does not keep it apart
    spool.append(points, Lane.BACKLOG, site)  # old data: live traffic goes first
    store.mark_requeued(letter_id)
    return RequeueResult(letter_id, True, f"{len(points.lines)} point(s) spooled")
