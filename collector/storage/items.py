"""The item index: every station event the collector ingested (MQTT or HTTP), by site and item, in SQLite.

It answers three questions without a round trip to InfluxDB:

- ``lookup``: what a ``finished`` event's item was checked in as (category, measured weight) and its
  bench time so far (``shopfloor.kpi.sessions``); :mod:`collector.points` stores them on the point;
- ``open_items``: the items open on a bench, for the bench page;
- ``record``: whether an ``event_id`` is new or already known (a retry), for the HTTP ingestion answer.

Events may arrive out of order. ``bench_s`` is computed when the ``finished`` event is ingested, from the
events known at that moment: a ``started`` that arrives after its ``finished`` does not change the stored
point (docs/collector.md). The file sits next to the spool; it only ever grows by one row per event.
"""

from __future__ import annotations

import threading
from pathlib import Path

from collector.points import ItemFacts
from collector.storage.sqlite import open_sqlite
from shopfloor.contract import EventType, StationEvent
from shopfloor.kpi.sessions import ItemHistory, item_histories, open_items

# Items checked in longer ago than this and never finished drop off the bench page's list.
OPEN_ITEM_HORIZON_MS = 30 * 86_400_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS station_event (
    site TEXT NOT NULL,
    event_id TEXT NOT NULL,
    item_id TEXT,
    station TEXT NOT NULL,
    type TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (site, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS station_event_item ON station_event (site, item_id);
CREATE INDEX IF NOT EXISTS station_event_station ON station_event (site, station, ts_ms);
"""


def item_index_path(spool_path: Path) -> Path:
    """``spool.sqlite`` -> ``spool.items.sqlite`` in the same folder (one per collector, like its spool)."""
    return spool_path.with_suffix(".items" + (spool_path.suffix or ".sqlite"))


class ItemStore:
    """Thread-safe: the MQTT thread and the HTTP workers both record into it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_sqlite(path)
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def record(self, site: str, event: StationEvent) -> bool:
        """Keep the event; True when its ``event_id`` was new at this site, False for a repeat."""
        body = event.model_dump_json(exclude_none=True)
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO station_event VALUES (?, ?, ?, ?, ?, ?, ?)",
                (site, event.event_id, event.item_id, event.station, event.type.value, event.ts_ms, body),
            )
        return cursor.rowcount == 1

    def known(self, site: str, event_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM station_event WHERE site = ? AND event_id = ?", (site, event_id)
            ).fetchone()
        return row is not None

    def item_events(self, site: str, item_id: str) -> list[StationEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM station_event WHERE site = ? AND item_id = ?", (site, item_id)
            ).fetchall()
        return [StationEvent.model_validate_json(body) for (body,) in rows]

    def lookup(self, site: str, item_id: str) -> ItemFacts | None:
        """The :class:`collector.points.ItemIndex` hook."""
        history = item_histories(self.item_events(site, item_id)).get(item_id)
        if history is None:
            return None
        return ItemFacts(category=history.category, weight_kg=history.weight_kg, bench_s=history.bench_s)

    def open_items(self, site: str, station: str, now_ms: int) -> list[ItemHistory]:
        """Items checked in or started at ``station`` and not finished, oldest first."""
        since = now_ms - OPEN_ITEM_HORIZON_MS
        with self._lock:
            rows = self._db.execute(
                """SELECT body FROM station_event WHERE site = ? AND item_id IN (
                       SELECT item_id FROM station_event
                       WHERE site = ? AND station = ? AND item_id IS NOT NULL AND ts_ms >= ?
                       GROUP BY item_id HAVING sum(type = ?) = 0)""",
                (site, site, station, since, EventType.FINISHED.value),
            ).fetchall()
        events = [StationEvent.model_validate_json(body) for (body,) in rows]
        return [history for history in open_items(events, until_ms=now_ms) if history.station == station]

    def close(self) -> None:
        with self._lock:
            self._db.close()
