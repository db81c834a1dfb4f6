"""Requeue dead letters after a fix: re-validate and move them into the spool.

"After a fix" means the collector or the contract was upgraded (a message that was invalid is valid now),
InfluxDB was fixed (a longer retention, a dropped measurement), a limit was raised, or the user edited the
payload (``--payload FILE``, or the JSON body of ``POST /api/dead-letters/{id}/requeue``).

Every letter is requeued as a *contract message*: the letter's own topic (an edited payload cannot move it to
another site or source) and its payload, through the same steps as a message from the broker: the contract's
models, the clock check, the cardinality limits and the pipeline's own point building. Line protocol is never
spooled from a letter: a ``write_rejected`` letter holds the contract message rebuilt from the line InfluxDB
refused (collector/drain/recover.py); one that holds only the line (kept before that, or not rebuildable) is
refused, and its data must be published again from the edge. A letter that is still invalid stays in the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from collector.points import ItemIndex, ahead_of_clock, message_points
from collector.storage.dead_letters import DeadLetterStore
from collector.storage.spool import Lane, Spool
from shopfloor.contract import ContractError, StationEvent, Topic, decode

# Told a valid message's topic; answers why its site, device or station is refused (collector/ingest/cardinality.py).
Admit = Callable[[Topic], str | None]

ONLY_LINES = (
    "this letter predates keeping the contract message of a rejected write (it holds only line protocol, "
    "which is never requeued); re-publish the data from the edge"
)


class Refusal(StrEnum):
    MISSING = "missing"  # no such letter
    CONFLICT = "conflict"  # this letter cannot be requeued as it is (already requeued, only lines, truncated)
    INVALID = "invalid"  # its payload, stored or edited, is still refused


@dataclass(frozen=True, slots=True)
class RequeueResult:
    letter_id: int
    ok: bool
    detail: str
    refusal: Refusal | None = None


def _looks_like_line_protocol(payload: bytes) -> bool:
    head = payload.lstrip()[:1]
    return bool(head) and head not in (b"{", b"[")


def requeue(
    store: DeadLetterStore,
    spool: Spool,
    letter_id: int,
    *,
    prefix: str,
    edited_payload: bytes | None = None,
    item_index: ItemIndex | None = None,
    on_event: Callable[[str, StationEvent], object] | None = None,
    admit: Admit | None = None,
    max_future_skew_s: float = 86_400,
) -> RequeueResult:
    """``item_index``/``on_event``: as in :class:`collector.ingest.pipeline.Ingest`, so a requeued station event
    enters the item index and a requeued ``finished`` event gets its category and bench time. ``admit``: the
    running collector's cardinality guard."""
    letter = store.get(letter_id)
    if letter is None:
        return RequeueResult(letter_id, False, "no such dead letter", Refusal.MISSING)
    if letter.requeued_at_ms is not None:
        return RequeueResult(letter_id, False, "already requeued", Refusal.CONFLICT)
    if letter.only_lines:
        return RequeueResult(letter_id, False, ONLY_LINES, Refusal.CONFLICT)
    if letter.truncated and edited_payload is None:
        return RequeueResult(
            letter_id,
            False,
            f"only the first {len(letter.payload)} of {letter.payload_bytes} bytes were kept",
            Refusal.CONFLICT,
        )
    payload = edited_payload if edited_payload is not None else letter.payload
    if _looks_like_line_protocol(payload):
        return RequeueResult(
            letter_id,
            False,
            "still invalid: a requeue takes a contract payload (JSON), never line protocol",
            Refusal.INVALID,
        )
    try:
        message = decode(letter.topic, payload, prefix)
    except ContractError as exc:
        return RequeueResult(letter_id, False, f"still invalid: {exc}", Refusal.INVALID)
    refused = admit(message.topic) if admit is not None else None
    points = message_points(message, item_index)
    ahead = ahead_of_clock(points.latest_ms, int(time.time() * 1000), max_future_skew_s)
    if refused is not None or ahead is not None:
        return RequeueResult(letter_id, False, f"still invalid: {refused or ahead}", Refusal.INVALID)
    if on_event is not None and isinstance(message.payload, StationEvent):
        on_event(message.topic.site, message.payload)
        points = message_points(message, item_index)  # now with what the item index learnt from this event
    spool.append(points, Lane.BACKLOG, message.topic.site)  # old data: live traffic goes first
    store.mark_requeued(letter_id)
    return RequeueResult(letter_id, True, f"{len(points.lines)} point(s) spooled")
