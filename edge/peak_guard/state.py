"""The guard's state file and the technician's override file: small JSON, replaced atomically.

The state is written before a load is switched, so a crash between the two leaves a load the
guard believes shed (and switches off again on restart), never a shed load it forgot.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from edge.peak_guard.core import GuardState, LoadState, Override
from shopfloor.kpi.energy import MeterSample

log = logging.getLogger(__name__)

STATE_VERSION = 1


def _write_atomically(path: Path, body: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out, separators=(",", ":"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_state(path: Path, state: GuardState) -> None:
    _write_atomically(
        path,
        {
            "version": STATE_VERSION,
            "month": state.month,
            "month_peak_kw": state.month_peak_kw,
            "quarter_start_ms": state.quarter_start_ms,
            "samples": [[s.ts_ms, s.power_w, s.energy_kwh] for s in state.samples],
            "loads": {
                name: {
                    "shed": ls.shed,
                    "since_ms": ls.since_ms,
                    "override_on": ls.override_on,
                    "override_until_ms": ls.override_until_ms,
                }
                for name, ls in state.loads.items()
            },
            "last_shed_ms": state.last_shed_ms,
            "last_restore_ms": state.last_restore_ms,
        },
    )


def load_state(path: Path, fresh: GuardState) -> GuardState:
    """The saved state, or ``fresh`` when there is none; an unreadable file is kept aside, not lost."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        if body.get("version") != STATE_VERSION:
            raise ValueError(f"version {body.get('version')!r}, expected {STATE_VERSION}")
        loads = dict(fresh.loads)
        for name, saved in body["loads"].items():
            if name in loads:  # a load removed from edge.yaml is forgotten
                loads[name] = LoadState(
                    bool(saved["shed"]),
                    int(saved["since_ms"]),
                    saved.get("override_on"),
                    int(saved.get("override_until_ms", 0)),
                )
        return GuardState(
            month=str(body["month"]),
            month_peak_kw=body["month_peak_kw"],
            quarter_start_ms=int(body["quarter_start_ms"]),
            samples=[MeterSample(int(ts), p, e) for ts, p, e in body["samples"]],
            loads=loads,
            last_shed_ms=int(body["last_shed_ms"]),
            last_restore_ms=int(body["last_restore_ms"]),
        )
    except FileNotFoundError:
        return fresh
    except (ValueError, KeyError, TypeError) as exc:
        aside = path.with_suffix(path.suffix + ".unreadable")
        os.replace(path, aside)
        log.error("peak guard state %s is unreadable (%s): kept as %s, starting afresh", path, exc, aside)
        return fresh


def save_overrides(path: Path, overrides: dict[str, Override]) -> None:
    _write_atomically(path, {name: {"on": o.on, "until_ms": o.until_ms} for name, o in overrides.items()})


def load_overrides(path: Path) -> dict[str, Override]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return {name: Override(bool(o["on"]), int(o["until_ms"])) for name, o in body.items()}
    except FileNotFoundError:
        return {}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.error("peak guard override file %s is unreadable (%s): ignored", path, exc)
        return {}
