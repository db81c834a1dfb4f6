"""Our programs as real processes (``python -m shopfloor …``), started and stopped the way a user or systemd
does: a clean environment (no SHOPFLOOR_* of the test runner), output into a log file, SIGTERM at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simulator.services import port_open, wait_until
from tests.harness.cli import REPO_ROOT


def command(*args: str | Path) -> list[str]:
    """The argv of ``shopfloor ARGS``, run by this interpreter."""
    return [sys.executable, "-m", "shopfloor", *(str(arg) for arg in args)]


def clean_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the SHOPFLOOR_* settings a test runner may carry."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SHOPFLOOR")} | (extra or {})


@contextmanager
def running(
    argv: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT
) -> Iterator[subprocess.Popen[bytes]]:
    """``argv`` running, its stdout and stderr in ``log``; SIGTERM on the way out, then a kill after 20 s."""
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, cwd=cwd, env=clean_environment(env), stdout=sink, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def readiness(http_port: int) -> tuple[int, dict[str, Any]]:
    """The collector's ``/readyz`` status and body; (0, {}) while nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return 0, {}


def ready(http_port: int) -> bool:
    return readiness(http_port)[0] == 200


@contextmanager
def collector_serving(config: Path, http_port: int, log: Path, cwd: Path = REPO_ROOT) -> Iterator[str]:
    """``shopfloor collector run CONFIG``, once its HTTP port answers: yields its base URL. A collector that
    exits on the way fails the test with its log."""
    with running(command("collector", "run", config), log, cwd=cwd) as process:
        wait_until(lambda: port_open("127.0.0.1", http_port) or process.poll() is not None, 60, "collector HTTP port")
        assert process.poll() is None, log.read_text()
        yield f"http://127.0.0.1:{http_port}"


def collector_yaml(
    path: Path, broker_port: int, influx_url: str, database: str, http_port: int, *, collector_id: str, extra: str = ""
) -> Path:
    """A collector.yaml for a test: the test's broker and database, its stores next to the file, a short flush.
    ``extra``: more top-level YAML (e.g. a ``sites:`` block)."""
    path.write_text(
        f"""collector_id: {collector_id}
broker:
  port: {broker_port}
influx:
  url: {influx_url}
  database: {database}
  flush_interval_ms: 50
spool:
  path: {path.parent / "spool.sqlite"}
dead_letters:
  path: {path.parent / "dead.sqlite"}
http:
  port: {http_port}
{extra}"""
    )
    return path
