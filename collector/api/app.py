"""``create_app(settings, runtime)``: the collector's FastAPI application.

With a runtime, the caller owns it (``shopfloor collector run`` starts it before uvicorn). Without one,
the app's lifespan builds, starts and stops its own, so the app also runs on its own in any ASGI server.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from collector.api import errors, hygiene
from collector.api.routes import ROUTERS
from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings
from shopfloor import __version__


def create_app(settings: CollectorSettings, runtime: CollectorRuntime | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            app.state.runtime = runtime
            yield
            return
        with CollectorRuntime(settings) as owned:
            app.state.runtime = owned
            yield

    # /docs and /redoc from assets the collector serves itself: a workshop LAN often has no internet.
    app = FastAPIOffline(
        title="shopfloor-monitor collector",
        version=__version__,
        description="MQTT to InfluxDB with a disk spool and a dead-letter store. See docs/collector.md. "
        "Every call but /healthz, /readyz, /api/pairing and these docs needs a bearer token "
        "(Authorize, above): docs/security.md#api-tokens.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    if runtime is not None:
        app.state.runtime = runtime
    for router in ROUTERS:
        app.include_router(router)
    try:  # the 'reports' extra (Jinja2, WeasyPrint): without it the collector serves everything else
        from collector.api.routes import reports
    except ModuleNotFoundError as exc:
        logging.getLogger(__name__).warning("no /api/reports: %s is missing (pip install '.[reports]')", exc.name)
    else:
        app.include_router(reports.router)
    errors.install(app, settings.http.max_body_bytes)
    hygiene.install(app, settings.api.cors_origins)
    return app
