"""The sites, devices, stations and edges the collector has admitted (collector/ingest/cardinality.py), on disk.

SQLite beside the spool, so the first-seen ids and their count survive a restart: a flood that was refused
before a restart is refused after it. An id is written once, when it is first admitted (the rare path).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from collector.storage.sqlite import open_sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS known_ids (
    site TEXT NOT NULL,
    dimension TEXT NOT NULL,
    id TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (site, dimension, id)
);
"""

KnownId = tuple[str, str, str]  # (site, dimension, id); a site itself is (site, "site", site)


def known_ids_path(spool_path: Path) -> Path:
    """``spool.sqlite`` -> ``spool.known.sqlite`` in the same folder."""
    return spool_path.with_suffix(".known" + (spool_path.suffix or ".sqlite"))


class KnownIdStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = open_sqlite(path)
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def load(self) -> list[KnownId]:
        with self._lock:
            rows = self._conn.execute("SELECT site, dimension, id FROM known_ids ORDER BY first_seen_ms").fetchall()
        return [(str(site), str(dimension), str(id_)) for site, dimension, id_ in rows]

    def add(self, ids: list[KnownId]) -> None:
        now_ms = int(time.time() * 1000)
        with self._lock, self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT OR IGNORE INTO known_ids (site, dimension, id, first_seen_ms) VALUES (?, ?, ?, ?)",
                [(site, dimension, id_, now_ms) for site, dimension, id_ in ids],
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
