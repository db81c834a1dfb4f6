"""SQLite as the collector's stores use it: the only sqlite3 importer of the collector.

WAL, so one writer and readers run side by side; autocommit (``isolation_level=None``), so each store says
where its transactions begin; ``synchronous=NORMAL`` unless a store asks for more.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

Connection = sqlite3.Connection


def open_sqlite(path: Path, synchronous: str = "NORMAL") -> Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn
