"""Dead letters counted per site and range, for a report's data quality (a real SQLite store)."""

from __future__ import annotations

import time
from pathlib import Path

from collector.storage.dead_letters import CONTRACT, WRITE_REJECTED, DeadLetterStore, NewDeadLetter


def test_count_for_site_counts_its_topics_in_the_range_per_kind(tmp_path: Path) -> None:
    store = DeadLetterStore(tmp_path / "dead.sqlite")
    try:
        before = int(time.time() * 1000) - 1
        store.add_many(
            [
                NewDeadLetter("shopfloor/v1/gent_repair/bench-1/event", b"{bad", "not JSON", CONTRACT),
                NewDeadLetter("shopfloor/v1/gent_repair/main/reading", b"{}", "missing ts_ms", CONTRACT),
                NewDeadLetter("shopfloor/v1/gent_repair/main/batch", b"[]", "field type conflict", WRITE_REJECTED),
                # Another site whose id matches the first if '_' were a LIKE wildcard.
                NewDeadLetter("shopfloor/v1/gentXrepair/main/reading", b"{}", "missing ts_ms", CONTRACT),
                NewDeadLetter("other/v1/gent_repair/main/reading", b"{}", "missing ts_ms", CONTRACT),
            ]
        )
        after = int(time.time() * 1000) + 1
        store.mark_requeued(1)  # requeued later: it still went wrong in the range
        assert store.count_for_site("shopfloor", "gent_repair", before, after) == {CONTRACT: 2, WRITE_REJECTED: 1}
        assert store.count_for_site("shopfloor", "gent_repair", after, after + 1000) == {}
        assert store.count_for_site("shopfloor", "nowhere", before, after) == {}
    finally:
        store.close()
