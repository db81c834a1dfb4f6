"""Collector test helpers: run a collector in-process against the real servers of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings
from simulator.services import wait_until


@pytest.fixture
def run_collector() -> Iterator[Callable[[CollectorSettings], CollectorRuntime]]:
    """Start collectors in this process, each returned once subscribed and stopped at the end of the test."""
    started: list[CollectorRuntime] = []

    def start(settings: CollectorSettings) -> CollectorRuntime:
        runtime = CollectorRuntime(settings)
        started.append(runtime)
        runtime.start()
        wait_until(runtime.mqtt.connected.is_set, 10, "collector subscribed")
        return runtime

    try:
        yield start
    finally:
        for runtime in reversed(started):
            runtime.stop()
