"""``shopfloor collector run``: the runtime plus the HTTP server, until SIGTERM or Ctrl-C.

uvicorn owns the signals: on SIGTERM it finishes the open requests and returns, and then the
subscriber commits and acks what it holds, disconnects, and the drainer stops (the spool keeps the rest).
"""

from __future__ import annotations

import logging
import signal
import threading

import uvicorn

from collector.api.app import create_app
from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings

log = logging.getLogger(__name__)


def run(settings: CollectorSettings) -> int:
    with CollectorRuntime(settings) as runtime:
        app = create_app(settings, runtime)
        config = uvicorn.Config(
            app, host=settings.http.host, port=settings.http.port, log_level="warning", access_log=False
        )
        # uvicorn re-raises the signal it caught once it has shut down; with this handler in place that
        # re-raise is harmless, and the subscriber and drainer get their orderly stop below.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda signum, frame: None)
        uvicorn.Server(config).run()
    log.info("collector %s stopped", settings.collector_id)
    return 0
