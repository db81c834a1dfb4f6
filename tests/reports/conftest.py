"""The collector fixtures (a collector in this process) for the report tests."""

from tests.collector.conftest import run_collector

__all__ = ["run_collector"]
