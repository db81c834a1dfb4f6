"""A pair of connected pseudo-terminals from socat: a virtual RS-485 cable for Modbus RTU tests."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from simulator.services import wait_until


@contextmanager
def pty_pair(directory: Path) -> Iterator[tuple[str, str]]:
    socat = shutil.which("socat")
    if socat is None:
        raise RuntimeError("socat is not installed. Fix: apt-get install socat (make test does this).")
    a, b = directory / "ttyA", directory / "ttyB"
    proc = subprocess.Popen(
        [socat, f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: a.exists() and b.exists(), 10, "socat pty pair")
        yield str(a), str(b)
    finally:
        proc.terminate()
        proc.wait(timeout=5)
