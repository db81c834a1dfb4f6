"""The bench page and what it calls: categories, station events in, items open on a bench (docs/bench-page.md)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse

from collector.api.deps import RuntimeDep, SiteId, StationId
from collector.api.errors import documented
from collector.ingest.http import MAX_EVENTS_PER_POST, ingest_events
from collector.storage.spool import SpoolFull
from shopfloor.contract import CATEGORIES

router = APIRouter(tags=["bench"])
EventsBody = Annotated[
    list[Any], Body(min_length=1, max_length=MAX_EVENTS_PER_POST, description="1-100 StationEvent objects")
]

PAGE_DIR = Path(__file__).resolve().parents[1] / "bench_page"
STATIC_FILES = {"app.js": "text/javascript", "style.css": "text/css"}


@router.get("/bench/static/{name}", include_in_schema=False)
def bench_static(name: str) -> FileResponse:
    if name not in STATIC_FILES:
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(PAGE_DIR / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})


@router.get("/bench/{site}/{station}", summary="The technician bench page of one station", include_in_schema=False)
def bench_page(site: SiteId, station: StationId) -> FileResponse:
    return FileResponse(PAGE_DIR / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/api/categories", summary="Categories for the check-in form: ORDS, then the unpowered ones")
def categories() -> dict[str, list[dict[str, Any]]]:
    return {"categories": [{"name": c.name, "ords_id": c.ords_id, "powered": c.powered} for c in CATEGORIES.values()]}


@router.post(
    "/api/sites/{site}/events",
    summary="Station events from tablets and scanners: validated, spooled, then acknowledged",
    responses=documented(400, 413, 503),
)
async def post_events(
    runtime: RuntimeDep,
    site: SiteId,
    events: EventsBody,
) -> JSONResponse:
    try:
        answer = await asyncio.to_thread(
            ingest_events,
            site,
            events,
            items=runtime.items,
            spool=runtime.spool,
            metrics=runtime.metrics,
            max_future_skew_s=runtime.settings.subscription.max_future_skew_s,
            admit_station=runtime.cardinality.refuses_station,
        )
    except SpoolFull as exc:
        # Nothing was acknowledged: the client keeps the events and retries.
        return JSONResponse({"detail": f"collector busy: {exc}"}, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"accepted": answer.accepted, "rejected": answer.rejected, "duplicates": answer.duplicates})


@router.get("/api/sites/{site}/stations/{station}/open-items", summary="Items checked in and not finished")
async def open_items(runtime: RuntimeDep, request: Request, site: SiteId, station: StationId) -> dict[str, Any]:
    now = int(time.time() * 1000)
    histories = await asyncio.to_thread(runtime.items.open_items, site, station, now)
    items = []
    for history in histories:
        events = runtime.items.item_events(site, history.item_id)
        brand = next((e.brand for e in events if e.brand), None)
        items.append(
            {
                "item_id": history.item_id,
                "category": history.category,
                "weight_kg": history.weight_kg,
                "brand": brand,
                "checked_in_ms": history.checked_in_ms,
                "state": "working" if history.working else "paused" if history.started else "waiting",
                "bench_s": history.bench_s,
            }
        )
    # The page shows check-in times on the site's clock (sites.<site>.timezone), whatever the phone's zone.
    timezone = request.app.state.settings.site(site).timezone
    return {"server_time_ms": now, "timezone": timezone, "items": items}
