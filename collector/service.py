"""``shopfloor collector run``: the runtime plus the HTTP server, until SIGTERM or Ctrl-C.

uvicorn owns the signals while it serves: on SIGTERM it finishes the open requests and returns, and then
the subscriber commits and acks what it holds, disconnects, and the drainer stops (the spool keeps the rest).
A SIGTERM that comes before uvicorn serves (while the runtime starts) asks the server to stop as soon as
it runs: the same orderly stop, never the default abrupt exit.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from types import FrameType

import uvicorn

from collector.api.app import create_app
from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings

log = logging.getLogger(__name__)


def run(settings: CollectorSettings) -> int:
    stop_requested = threading.Event()
    server: uvicorn.Server | None = None

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        # Also what uvicorn's re-raise of the signal it caught lands on, once it has shut down: harmless.
        stop_requested.set()
        if server is not None:
            server.should_exit = True

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)
    with CollectorRuntime(settings) as runtime:
        app = create_app(settings, runtime)
        # What the startup made (modules, pydantic schemas, the app) lives as long as the process; left in
        # the collector's sight, every full collection scanned it: pauses of 50-110 ms for every thread under
        # load, the p99 of publish-to-queryable (docs/performance.md, "Latency"). The startup's garbage goes first.
        gc.collect()
        gc.freeze()
        config = uvicorn.Config(
            app, host=settings.http.host, port=settings.http.port, log_level="warning", access_log=False
        )
        server = uvicorn.Server(config)
        server.should_exit = stop_requested.is_set()
        if not server.should_exit:
            server.run()
    log.info("collector %s stopped", settings.collector_id)
    return 0
