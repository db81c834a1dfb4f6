"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from collector.api.deps import ReadMetrics, RuntimeDep
from collector.api.errors import documented
from collector.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Ready when subscribed at the MQTT broker, InfluxDB is reachable and the spool drains",
    responses={503: {"description": "not ready: the same body says which check failed"}},
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    checks = await asyncio.to_thread(runtime.ready)
    checks_out: dict[str, object] = dict(checks)
    checks_out["spool_depth"] = runtime.spool.depth_lines
    oldest = runtime.spool.oldest_created_ms()
    checks_out["spool_oldest_age_s"] = 0.0 if oldest is None else round(max(0.0, time.time() - oldest / 1000), 3)
    ready = all(checks.values())
    return JSONResponse({"ready": ready, **checks_out}, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics (an all-sites read token unless api.metrics_access is open)",
    response_class=Response,
    dependencies=[ReadMetrics],
    responses=documented(401, 403),
)
def metrics(runtime: RuntimeDep) -> Response:
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE)
