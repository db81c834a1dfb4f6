"""Create or update the dashboards in a running Grafana, into one folder, without clobbering edits.

The only module that imports grafana-client. A dashboard that someone changed in Grafana since
we last pushed it (or whose version is not the one given with ``--expect-version``) is a
*conflict*: it is reported and left alone unless ``force`` is set. Grafana's own 412
``version-mismatch`` (a save between our read and our write) is reported the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException


class PushError(RuntimeError):
    """Grafana could not be reached or refused a request for another reason than a version conflict."""


@dataclass(frozen=True)
class Outcome:
    uid: str
    title: str
    status: str  # created, updated, conflict
    version: int | None
    detail: str = ""


@dataclass
class PushState:
    """Versions we last pushed, per Grafana URL and dashboard uid (a small JSON file)."""

    path: Path
    versions: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> PushState:
        if not path.exists():
            return cls(path)
        try:
            return cls(path, json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise PushError(f"{path}: unreadable push state ({exc}). Fix: delete it and push with --force") from exc

    def get(self, url: str, uid: str) -> int | None:
        return self.versions.get(url, {}).get(uid)

    def set(self, url: str, uid: str, version: int) -> None:
        self.versions.setdefault(url, {})[uid] = version

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.versions, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _status(exc: GrafanaException) -> int | None:
    return getattr(exc, "status_code", None)


# grafana-client has no type hints: its API object is handled as Any here, and only here.
def connect(url: str, token: str | None, timeout_s: float = 10.0) -> Any:
    return GrafanaApi.from_url(url, credential=token, timeout=timeout_s)


def ensure_folder(api: Any, uid: str, title: str) -> None:
    try:
        api.folder.get_folder(uid)
    except GrafanaClientError as exc:
        if _status(exc) in (401, 403):
            raise PushError(
                f"Grafana refused the credentials ({exc}). Fix: pass a service account token with the Editor "
                "role (--token or $GRAFANA_TOKEN)"
            ) from exc
        if _status(exc) != 404:
            raise PushError(f"cannot read folder {uid!r}: {exc}") from exc
        try:
            api.folder.create_folder(title, uid=uid)
        except GrafanaException as create_exc:
            raise PushError(f"cannot create folder {title!r} ({uid}): {create_exc}") from create_exc
    except GrafanaException as exc:
        raise PushError(f"cannot read folder {uid!r}: {exc}") from exc


def _existing_version(api: Any, uid: str) -> int | None:
    try:
        found: Mapping[str, Any] = api.dashboard.get_dashboard(uid)
    except GrafanaClientError as exc:
        if _status(exc) == 404:
            return None
        raise PushError(f"cannot read dashboard {uid!r}: {exc}") from exc
    except GrafanaException as exc:
        raise PushError(f"cannot read dashboard {uid!r}: {exc}") from exc
    return int(found["dashboard"].get("version") or 0)


def push_dashboard(
    api: Any,
    dashboard: Mapping[str, Any],
    folder_uid: str,
    expected_version: int | None,
    force: bool = False,
) -> Outcome:
    """Upsert one dashboard. ``expected_version``: the version we believe Grafana has (None: none)."""
    uid, title = str(dashboard["uid"]), str(dashboard["title"])
    current = _existing_version(api, uid)
    if current is not None and not force and current != expected_version:
        why = (
            f"exists at version {current}, not pushed from here"
            if expected_version is None
            else f"is at version {current}, expected {expected_version} (changed in Grafana since)"
        )
        return Outcome(uid, title, "conflict", current, why)
    body = {**dashboard, "id": None, "version": current or 0}
    payload = {
        "dashboard": body,
        "folderUid": folder_uid,
        "overwrite": force,
        "message": "shopfloor dashboards push",
    }
    try:
        answer: Mapping[str, Any] = api.dashboard.update_dashboard(payload)
    except GrafanaClientError as exc:
        if _status(exc) == 412:
            return Outcome(uid, title, "conflict", current, f"Grafana refused: {exc}")
        raise PushError(f"cannot save dashboard {uid!r}: {exc}") from exc
    except GrafanaException as exc:
        raise PushError(f"cannot save dashboard {uid!r}: {exc}") from exc
    return Outcome(uid, title, "created" if current is None else "updated", int(answer.get("version") or 0))


def push_all(
    url: str,
    token: str | None,
    dashboards: Mapping[str, Mapping[str, Any]],
    folder_uid: str,
    folder_title: str,
    state_path: Path,
    expect_version: int | None = None,
    force: bool = False,
) -> list[Outcome]:
    state = PushState.load(state_path)
    api = connect(url, token)
    try:
        ensure_folder(api, folder_uid, folder_title)
        outcomes = []
        for dashboard in dashboards.values():
            uid = str(dashboard["uid"])
            expected = expect_version if expect_version is not None else state.get(url, uid)
            outcome = push_dashboard(api, dashboard, folder_uid, expected, force)
            if outcome.status != "conflict" and outcome.version is not None:
                state.set(url, uid, outcome.version)
            outcomes.append(outcome)
    except OSError as exc:  # connection refused, DNS, TLS
        raise PushError(f"cannot reach Grafana at {url}: {exc}") from exc
    finally:
        state.save()
    return outcomes
