"""Run a local mosquitto and influxd as child processes, on loopback, with their own data dirs.

The test fixtures and ``make demo`` both use this, so a test exercises exactly the servers a
newcomer runs. Readiness is polled (a TCP connect, ``/ping``), never slept for.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self


class ServiceError(RuntimeError):
    """A local server could not be started, or did not become ready in time."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_port_block(count: int, preferred: int, host: str = "127.0.0.1") -> int:
    """The first of ``count`` consecutive free ports: ``preferred`` when its block is free, else another."""

    def block_free(base: int) -> bool:
        return base + count <= 65535 and not any(port_open(host, base + i) for i in range(count))

    if preferred and block_free(preferred):
        return preferred
    for _ in range(100):
        base = free_port(host)
        if block_free(base):
            return base
    raise ServiceError(f"no {count} consecutive free ports on {host}")


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise ServiceError(f"{what} not ready after {timeout:.0f}s")


def require_binary(name: str, package: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if not found:
        raise ServiceError(f"{name} is not installed. Fix: apt-get install {package} (make test does this).")
    return found


class _ChildService:
    """A restartable child process on a fixed port and data dir (restarts keep both)."""

    name = "service"

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / f"{self.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        return port_open(self.host, self.port)

    def start(self, timeout: float = 30.0) -> Self:
        if self.running:
            return self
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )

        def ready() -> bool:
            if self._proc is not None and self._proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise ServiceError(f"{self.name} exited with code {self._proc.returncode} on start:\n{tail}")
            return self._ready()

        wait_until(ready, timeout, f"{self.name} on {self.host}:{self.port}")
        return self

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stop(self, timeout: float = 15.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        # The port must be free again before a restart on it.
        with contextlib.suppress(ServiceError):
            wait_until(lambda: not port_open(self.host, self.port), 10, f"{self.name} port release")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class Mosquitto(_ChildService):
    """A mosquitto broker with persistence and queues sized for store-and-forward.

    mosquitto's defaults would silently drop messages for a disconnected persistent
    session after 1000 (``max_queued_messages``); we raise that, see docs/architecture.md.

    Given a ``password_file`` (and an ``acl_file``, from ``shopfloor acl generate``), the listener is set up like
    deploy/mosquitto/mosquitto.conf: no anonymous access, settings per listener. Without, it is the anonymous
    broker of most tests.
    """

    name = "mosquitto"

    def __init__(
        self,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int | None = None,
        extra_config: str = "",
        max_queued_messages: int = 1_000_000,
        password_file: Path | None = None,
        acl_file: Path | None = None,
    ) -> None:
        super().__init__(data_dir, host, port)
        self.password_file = password_file
        self.acl_file = acl_file
        self.extra_config = extra_config
        self.max_queued_messages = max_queued_messages
        self.config_path = self.data_dir / "mosquitto.conf"

    def config_text(self) -> str:
        # Started as root, mosquitto switches to the 'mosquitto' user, which cannot write its
        # persistence file into our data dir: sessions would silently not survive a restart.
        run_as = f"user {getpass.getuser()}\n" if os.geteuid() == 0 else ""
        if self.password_file is None:
            listener = f"listener {self.port} {self.host}\nallow_anonymous true\n"
        else:
            listener = f"per_listener_settings true\nlistener {self.port} {self.host}\n" + listener_auth(
                self.password_file, self.acl_file
            )
        return (
            f"{listener}"
            f"{run_as}"
            "persistence true\n"
            f"persistence_location {self.data_dir}/\n"
            "autosave_interval 5\n"
            f"max_queued_messages {self.max_queued_messages}\n"
            "max_inflight_messages 1000\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            f"{self.extra_config}\n"
        )

    def _command(self) -> list[str]:
        self.config_path.write_text(self.config_text())
        return [require_binary("mosquitto", "mosquitto"), "-c", str(self.config_path)]

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def listener_auth(password_file: Path, acl_file: Path | None) -> str:
    """The lines that close the listener above them to everyone without a password (per_listener_settings)."""
    lines = f"allow_anonymous false\npassword_file {password_file}\n"
    return lines + (f"acl_file {acl_file}\n" if acl_file is not None else "")


class Influxd(_ChildService):
    """An InfluxDB 1.x server (Debian's influxd) with every listener on loopback."""

    name = "influxd"

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int | None = None) -> None:
        super().__init__(data_dir, host, port)
        # The RPC port (default 8088) must not collide with another influxd on the machine.
        self.rpc_port = free_port(host)
        self.config_path = self.data_dir / "influxdb.conf"

    def config_text(self) -> str:
        d = self.data_dir
        return f"""
reporting-disabled = true
bind-address = "{self.host}:{self.rpc_port}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "{self.host}:{self.port}"
  log-enabled = false
  max-body-size = 25000000
[continuous_queries]
  enabled = true
  log-enabled = false
[logging]
  level = "warn"
"""

    def _command(self) -> list[str]:
        self.config_path.write_text(self.config_text())
        return [require_binary("influxd", "influxdb"), "-config", str(self.config_path)]

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=0.5) as resp:
                return bool(resp.status == 204)
        except (urllib.error.URLError, OSError):
            return False

    def start(self, timeout: float = 60.0) -> Self:
        return super().start(timeout)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextlib.contextmanager
def running(*services: _ChildService) -> Iterator[None]:
    started: list[_ChildService] = []
    try:
        for service in services:
            started.append(service.start())
        yield
    finally:
        for service in reversed(started):
            service.stop()
