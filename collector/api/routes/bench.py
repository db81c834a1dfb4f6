"""The bench page and what it calls: categories, station events in, items open on a bench (docs/bench-page.md)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from collector.api.deps import ReadAny, ReadStation, RuntimeDep, SiteId, StationId, WriteSite, unauthorized
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


class PairingIn(BaseModel):
    code: str = Field(min_length=1, max_length=64, description="the code of a pairing link (`token pair`)")


class PairingOut(BaseModel):
    token: str = Field(description="the station's bearer token: keep it, it is not shown again")
    token_id: str
    site: str
    station: str


@router.post(
    "/api/pairing",
    summary="A bench page exchanges a one-time pairing code for its station token",
    responses=documented(400, 401),
)
async def pair(runtime: RuntimeDep, body: PairingIn) -> PairingOut:
    redeemed = await asyncio.to_thread(runtime.tokens.redeem_pairing, body.code)
    if redeemed is None:
        raise unauthorized(
            "this pairing code is unknown, expired or used already: ask for a new link "
            "(shopfloor collector token pair --site SITE --station STATION)",
            error="invalid_token",
        )
    token, text = redeemed
    assert token.site is not None and token.station is not None
    return PairingOut(token=text, token_id=token.id, site=token.site, station=token.station)


@router.get(
    "/api/categories",
    summary="Categories for the check-in form: ORDS, then the unpowered ones",
    dependencies=[ReadAny],
    responses=documented(401, 403),
)
def categories() -> dict[str, list[dict[str, Any]]]:
    return {"categories": [{"name": c.name, "ords_id": c.ords_id, "powered": c.powered} for c in CATEGORIES.values()]}


@router.post(
    "/api/sites/{site}/events",
    summary="Station events from tablets and scanners: validated, spooled, then acknowledged",
    responses=documented(400, 401, 403, 413, 503),
)
async def post_events(
    runtime: RuntimeDep,
    site: SiteId,
    events: EventsBody,
    token: WriteSite,
) -> JSONResponse:
    if token.station is not None:
        # A bench page's token writes its own station's events only.
        stations = {e["station"] for e in events if isinstance(e, dict) and isinstance(e.get("station"), str)}
        others = sorted(stations - {token.station})
        if others:
            raise HTTPException(403, f"token {token.id} is for {token.where}, not station {others[0][:64]}")
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


@router.get(
    "/api/sites/{site}/stations/{station}/open-items",
    summary="Items checked in and not finished",
    dependencies=[ReadStation],
    responses=documented(401, 403),
)
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
