"""The token store on its own (SQLite, no server): hashed at rest, scopes, revocation, one-time pairing codes;
and the api settings as the docs show them."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from collector.settings import load_settings
from collector.storage.tokens import PAIRING_CODE_CHARS, Scope, TokenStore
from shopfloor.config import ConfigError

REPO = Path(__file__).resolve().parents[3]


def test_tokens_are_stored_hashed_and_checked_in_a_second_store_on_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "spool.tokens.sqlite"
    store = TokenStore(path)
    token, text = store.create(Scope.WRITE, "gent", label="tablet")
    secret = text.split("_", 2)[2]
    wal = path.with_name(path.name + "-wal")
    assert wal.exists() and wal.stat().st_mode & 0o077 == 0  # the WAL holds the HMAC key too, for a while
    store.close()
    assert secret.encode() not in path.read_bytes() and path.stat().st_mode & 0o077 == 0
    other = TokenStore(path)  # as the CLI opens it beside a running collector
    try:
        found = other.verify(text)
        assert found is not None and found.id == token.id and found.covers("gent") and not found.covers("leuven")
        assert found.allows(Scope.READ) and found.allows(Scope.WRITE) and not found.allows(Scope.ADMIN)
        assert other.verify(text[:-1] + ("A" if text[-1] != "A" else "B")) is None  # right id, wrong secret
        assert other.verify("sfm_" + token.id) is None and other.verify("") is None
        assert other.get(token.id).last_used_ms is not None  # type: ignore[union-attr]
        assert other.revoke(token.id) and not other.revoke(token.id)
        assert other.verify(text) is None
        assert [t.id for t in other.tokens(include_revoked=True)] == [token.id] and other.tokens() == []
    finally:
        other.close()


def test_a_pairing_code_gives_one_station_token_once_and_expires(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t.sqlite")
    try:
        code, expires = store.create_pairing("gent", "bench-1", valid_s=600)
        assert len(code) == PAIRING_CODE_CHARS and expires > time.time() * 1000 + 590_000
        redeemed = store.redeem_pairing(code.lower())  # typed from the terminal: case does not matter
        assert redeemed is not None
        token, text = redeemed
        assert (token.scope, token.site, token.station) == (Scope.WRITE, "gent", "bench-1")
        assert store.verify(text) is not None
        assert store.redeem_pairing(code) is None  # once
        stale, _ = store.create_pairing("gent", "bench-1", valid_s=-1)  # expired a second ago
        assert store.redeem_pairing(stale) is None
        assert store.redeem_pairing("not-a-code") is None
    finally:
        store.close()


def test_the_api_block_of_the_docs_loads_and_cors_wants_explicit_origins(tmp_path: Path) -> None:
    text = (REPO / "docs" / "security.md").read_text()
    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if b.startswith("# collector.yaml\napi:")]
    path = tmp_path / "collector.yaml"
    path.write_text("collector_id: c1\n" + block)
    settings = load_settings(path)
    assert settings.api.read_access == "token" and settings.api.cors_origins == []
    assert settings.api.public_url == "http://collector.lan:8080"
    path.write_text("collector_id: c1\napi:\n  cors_origins: ['*']\n")
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert "api.cors_origins" in str(error.value) and "no '*'" in str(error.value)
