"""API tokens for tests: every test calls the API as a real client does, with a bearer token (no auth switched off)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from collector.api.app import create_app
from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings
from collector.storage.tokens import Scope, TokenStore, token_store_path


def new_token(
    settings: CollectorSettings, scope: str = "admin", site: str | None = None, station: str | None = None
) -> str:
    """A token in the store of the collector ``settings`` describe (running or not, in this process or another)."""
    store = TokenStore(token_store_path(Path(settings.spool.path)))
    try:
        return store.create(Scope(scope), site, station, label="test")[1]
    finally:
        store.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_client(
    settings: CollectorSettings,
    runtime: CollectorRuntime | None = None,
    scope: str = "admin",
    site: str | None = None,
) -> TestClient:
    """A TestClient of ``create_app(settings, runtime)`` that sends a fresh token (admin of every site by default)."""
    return TestClient(create_app(settings, runtime), headers=bearer(new_token(settings, scope, site)))
