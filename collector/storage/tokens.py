"""API tokens and bench-page pairing codes, hashed, in SQLite beside the spool (docs/security.md#api-tokens).

A token reads ``sfm_<id>_<secret>``: ``id`` (8 hex digits) names it in ``token list`` and ``token revoke`` and
finds its row; ``secret`` is 256 random bits (:func:`secrets.token_urlsafe`). Only an HMAC-SHA256 of the
secret is stored, and it is compared with :func:`hmac.compare_digest`.

Why a fast keyed hash and not a slow KDF (scrypt, PBKDF2): a slow KDF protects *guessable* secrets such as
passwords. A 256-bit random secret cannot be guessed at any hashing speed, and the API checks a token on
every request, where 100 ms of scrypt would be the whole answer's cost. The HMAC key is random per store, so
one secret gives unrelated digests in two collectors' stores.

Every request looks its token up here (one primary-key read, no cache), so a token created or revoked with
``shopfloor collector token`` counts on a running collector from its next request on.

Pairing codes are short (10 characters, about 50 bits), valid for minutes and good for one exchange, so a
QR code stays scannable and guessing one over HTTP within its lifetime is out of reach.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from collector.storage.sqlite import open_sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS store_key (key BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS api_token (
    id TEXT PRIMARY KEY,
    digest BLOB NOT NULL,
    scope TEXT NOT NULL,
    site TEXT,
    station TEXT,
    label TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    last_used_ms INTEGER,
    revoked_ms INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pairing_code (
    digest BLOB PRIMARY KEY,
    site TEXT NOT NULL,
    station TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    used_ms INTEGER,
    token_id TEXT
) WITHOUT ROWID;
"""

TOKEN_PREFIX = "sfm_"
_TOKEN = re.compile(r"^sfm_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
# No 0/O, 1/I/L: a code may be read out or typed from the terminal.
PAIRING_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
PAIRING_CODE_CHARS = 10
# "last used" is written at most this often per token: a busy tablet must not turn reads into writes.
LAST_USED_EVERY_MS = 60_000


class Scope(StrEnum):
    """Each scope includes the ones before it: admin can write and read, write can read."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Scope).index(self)


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    scope: Scope
    site: str | None  # None: every site (the coordinator's tokens)
    station: str | None  # a bench page's token: that station only
    label: str
    created_ms: int
    last_used_ms: int | None
    revoked_ms: int | None

    def allows(self, scope: Scope) -> bool:
        return self.scope.rank >= scope.rank

    def covers(self, site: str) -> bool:
        return self.site is None or self.site == site

    @property
    def where(self) -> str:
        """``all sites``, ``gent`` or ``gent/bench-1``: for ``token list`` and error answers."""
        if self.site is None:
            return "all sites"
        return self.site if self.station is None else f"{self.site}/{self.station}"


def token_store_path(spool_path: Path) -> Path:
    """``spool.sqlite`` -> ``spool.tokens.sqlite`` in the same folder, like the item index."""
    return spool_path.with_suffix(".tokens" + (spool_path.suffix or ".sqlite"))


def _now_ms() -> int:
    return int(time.time() * 1000)


class TokenStore:
    """Thread-safe: the API's worker threads verify, while the CLI may create and revoke in another process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Mode 0600 before SQLite opens it: its -wal and -shm files take the database file's mode.
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        self._db = open_sqlite(path, synchronous="FULL")
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT key FROM store_key").fetchone()
            if row is None:
                row = (secrets.token_bytes(32),)
                self._db.execute("INSERT INTO store_key VALUES (?)", row)
            self._db.execute("COMMIT")
        self._key: bytes = row[0]

    def _digest(self, secret: str) -> bytes:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).digest()

    # ---- tokens ---------------------------------------------------------------------------------
    def create(
        self, scope: Scope, site: str | None, station: str | None = None, label: str = ""
    ) -> tuple[ApiToken, str]:
        """A new token and its text, which is shown once and never stored."""
        if station is not None and site is None:
            raise ValueError("a station token belongs to one site")
        secret = secrets.token_urlsafe(32)
        now = _now_ms()
        with self._lock:
            while True:
                token_id = secrets.token_hex(4)
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO api_token (id, digest, scope, site, station, label, created_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (token_id, self._digest(secret), scope.value, site, station, label, now),
                )
                if cursor.rowcount == 1:
                    break
        token = ApiToken(token_id, scope, site, station, label, now, None, None)
        return token, f"{TOKEN_PREFIX}{token_id}_{secret}"

    def verify(self, presented: str) -> ApiToken | None:
        """The live token this text is, or None (malformed, unknown, revoked or wrong secret)."""
        match = _TOKEN.match(presented)
        if match is None:
            return None
        token_id, secret = match.groups()
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS}, digest FROM api_token WHERE id = ?", (token_id,)).fetchone()
        if row is None:
            return None
        token, digest = _token(row[:-1]), row[-1]
        if not hmac.compare_digest(digest, self._digest(secret)) or token.revoked_ms is not None:
            return None
        now = _now_ms()
        if token.last_used_ms is None or now - token.last_used_ms >= LAST_USED_EVERY_MS:
            with self._lock:
                self._db.execute("UPDATE api_token SET last_used_ms = ? WHERE id = ?", (now, token_id))
        return token

    def tokens(self, include_revoked: bool = False) -> list[ApiToken]:
        where = "" if include_revoked else "WHERE revoked_ms IS NULL"
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM api_token {where} ORDER BY created_ms, id").fetchall()
        return [_token(row) for row in rows]

    def get(self, token_id: str) -> ApiToken | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM api_token WHERE id = ?", (token_id,)).fetchone()
        return None if row is None else _token(row)

    def revoke(self, token_id: str) -> bool:
        """True when a live token was revoked; False when there is none by that id (or it was revoked already)."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE api_token SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL", (_now_ms(), token_id)
            )
        return cursor.rowcount == 1

    # ---- pairing codes --------------------------------------------------------------------------
    def create_pairing(self, site: str, station: str, valid_s: float) -> tuple[str, int]:
        """A one-time code for a bench page at ``site``/``station``, and when it expires (Unix ms)."""
        code = "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(PAIRING_CODE_CHARS))
        now = _now_ms()
        expires = now + int(valid_s * 1000)
        with self._lock:
            self._db.execute("DELETE FROM pairing_code WHERE expires_ms < ?", (now - 86_400_000,))
            self._db.execute(
                "INSERT INTO pairing_code (digest, site, station, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?)",
                (self._digest(code), site, station, now, expires),
            )
        return code, expires

    def redeem_pairing(self, code: str) -> tuple[ApiToken, str] | None:
        """Exchange a live code for a station token (write scope, its site and station), once; None otherwise."""
        normalized = code.strip().upper()
        if len(normalized) != PAIRING_CODE_CHARS or not set(normalized) <= set(PAIRING_ALPHABET):
            return None
        digest = self._digest(normalized)
        now = _now_ms()
        with self._lock:
            # The claim is one UPDATE: two tablets racing with one code cannot both get a token.
            cursor = self._db.execute(
                "UPDATE pairing_code SET used_ms = ? WHERE digest = ? AND used_ms IS NULL AND expires_ms > ?",
                (now, digest, now),
            )
            if cursor.rowcount != 1:
                return None
            site, station = self._db.execute(
                "SELECT site, station FROM pairing_code WHERE digest = ?", (digest,)
            ).fetchone()
        token, text = self.create(Scope.WRITE, site, station, label=f"bench page {site}/{station} (paired)")
        with self._lock:
            self._db.execute("UPDATE pairing_code SET token_id = ? WHERE digest = ?", (token.id, digest))
        return token, text

    def close(self) -> None:
        with self._lock:
            self._db.close()


_COLUMNS = "id, scope, site, station, label, created_ms, last_used_ms, revoked_ms"


def _token(row: tuple[object, ...]) -> ApiToken:
    token_id, scope, site, station, label, created, used, revoked = row
    return ApiToken(
        id=str(token_id),
        scope=Scope(str(scope)),
        site=None if site is None else str(site),
        station=None if station is None else str(station),
        label=str(label),
        created_ms=int(created),  # type: ignore[call-overload]
        last_used_ms=None if used is None else int(used),  # type: ignore[call-overload]
        revoked_ms=None if revoked is None else int(revoked),  # type: ignore[call-overload]
    )
