"""`shopfloor -v` shows our INFO lines but not httpx's line per request; `-vv` shows everything."""

from __future__ import annotations

import logging

import pytest

from shopfloor.cli import configure_logging


@pytest.mark.parametrize(("verbosity", "ours", "httpx"), [(0, False, False), (1, True, False), (2, True, True)])
def test_http_client_chatter_only_at_double_verbose(verbosity: int, ours: bool, httpx: bool) -> None:
    root = logging.getLogger()
    saved = root.level, root.handlers[:]
    root.handlers.clear()  # basicConfig only configures a root without handlers
    try:
        configure_logging(verbosity)
        assert logging.getLogger("collector.drain.drainer").isEnabledFor(logging.INFO) is ours
        assert logging.getLogger("httpx").isEnabledFor(logging.INFO) is httpx
    finally:
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])
        logging.getLogger("httpx").setLevel(logging.NOTSET)
        logging.getLogger("httpcore").setLevel(logging.NOTSET)
