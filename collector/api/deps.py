"""What the routers take, defined once: the running collector, its settings, who is calling, path ids and the
time window.

Who may call what (docs/security.md#api-tokens): a bearer token, looked up in the collector's token store on
every request. No cookies, ever: a page on another origin cannot make the browser send a bearer token, so
cross-site requests carry no credential (CSRF is impossible by construction).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from collector.api.errors import invalid
from collector.kpi.queries import Range
from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings
from collector.storage.tokens import ApiToken, Scope
from shopfloor.contract.topics import ID_PATTERN
from shopfloor.kpi.rates import Bucket

DAY_MS = 86_400_000
MAX_DAYS = 3660
# Times the KPI API takes: from 1970 to 2200, in ms. Beyond, InfluxDB cannot answer (a 422 here, not a 503).
MAX_TIME_MS = 7_258_118_400_000


def get_runtime(request: Request) -> CollectorRuntime:
    runtime: CollectorRuntime = request.app.state.runtime
    return runtime


def get_settings(request: Request) -> CollectorSettings:
    settings: CollectorSettings = request.app.state.settings
    return settings


RuntimeDep = Annotated[CollectorRuntime, Depends(get_runtime)]
SettingsDep = Annotated[CollectorSettings, Depends(get_settings)]

SiteId = Annotated[str, PathParam(pattern=ID_PATTERN, description="site id, as in the MQTT topics")]
StationId = Annotated[str, PathParam(pattern=ID_PATTERN, description="station (bench) id")]
BucketQuery = Annotated[Bucket, Query(description="throughput buckets: hour, day or week (local time)")]
TimeZoneQuery = Annotated[
    str | None, Query(description="IANA time zone of local days and hours; default the site's (collector.yaml)")
]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="an API token from `shopfloor collector token create` (or a bench page's, from pairing)",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def unauthorized(detail: str, error: str | None = None) -> HTTPException:
    """401 with the challenge RFC 6750 asks for; ``error="invalid_token"`` when a token was sent and refused."""
    challenge = 'Bearer realm="shopfloor"' + (f', error="{error}"' if error else "")
    return HTTPException(401, detail, headers={"WWW-Authenticate": challenge})


def caller(request: Request, credentials: Credentials) -> ApiToken | None:
    """The live token of this request, None without one; 401 for a token that is unknown, revoked or malformed.
    The token's text is never logged nor echoed."""
    if credentials is None:
        return None
    token: ApiToken | None = get_runtime(request).tokens.verify(credentials.credentials)
    if token is None:
        raise unauthorized(
            "the bearer token is unknown or revoked: get a new one (shopfloor collector token create, "
            "or pair the bench page again)",
            error="invalid_token",
        )
    return token


Caller = Annotated[ApiToken | None, Depends(caller)]


def need(token: ApiToken | None, scope: Scope, site: str | None = None, station: str | None = None) -> ApiToken:
    """The token, when it has ``scope`` for ``site`` (every site when None) and ``station``; 401 or 403 otherwise."""
    if token is None:
        raise unauthorized(f"this needs an API token with the {scope} scope: send Authorization: Bearer <token>")
    if not token.allows(scope):
        raise HTTPException(403, f"token {token.id} has the {token.scope} scope; this needs {scope}")
    if site is None and token.site is not None:
        raise HTTPException(403, f"token {token.id} is for {token.where}; this answer covers every site")
    if site is not None and not token.covers(site):
        raise HTTPException(403, f"token {token.id} is for {token.where}, not site {site}")
    if station is not None and token.station is not None and token.station != station:
        raise HTTPException(403, f"token {token.id} is for {token.where}, not station {station}")
    return token


def _open(request: Request, key: str) -> bool:
    access: str = getattr(get_settings(request).api, key)
    return access == "open"


def read_site(request: Request, site: SiteId, token: Caller) -> ApiToken | None:
    if _open(request, "read_access"):
        return token
    return need(token, Scope.READ, site)


def read_station(request: Request, site: SiteId, station: StationId, token: Caller) -> ApiToken | None:
    if _open(request, "read_access"):
        return token
    return need(token, Scope.READ, site, station)


def read_any(request: Request, token: Caller) -> ApiToken | None:
    """Answers that name no site's data (the category list): any valid token, of any site."""
    if _open(request, "read_access"):
        return token
    if token is None:
        return need(token, Scope.READ)
    return token


def read_all_sites(request: Request, token: Caller) -> ApiToken | None:
    if _open(request, "read_access"):
        return token
    return need(token, Scope.READ)


def read_metrics(request: Request, token: Caller) -> ApiToken | None:
    if _open(request, "metrics_access"):
        return token
    return need(token, Scope.READ)


def write_site(site: SiteId, token: Caller) -> ApiToken:
    return need(token, Scope.WRITE, site)


def admin(token: Caller) -> ApiToken:
    return need(token, Scope.ADMIN)


ReadSite = Depends(read_site)
ReadStation = Depends(read_station)
ReadAny = Depends(read_any)
ReadAllSites = Depends(read_all_sites)
ReadMetrics = Depends(read_metrics)
Admin = Depends(admin)
WriteSite = Annotated[ApiToken, Depends(write_site)]


def parse_time(text: str, name: str) -> int:
    """RFC 3339 or Unix milliseconds -> Unix ms; a 422 naming the parameter otherwise."""
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        value = int(stripped)
        if not 0 <= value <= MAX_TIME_MS:
            raise invalid(("query", name), f"{name}={stripped[:40]} is not a time between 1970 and 2200 (Unix ms)")
        return value
    try:
        when = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(
            ("query", name), f"{name}={text[:40]!r} is not RFC 3339 (2026-03-01T00:00:00Z) or Unix ms"
        ) from None
    if not 1970 <= when.year <= 2199:
        raise invalid(("query", name), f"{name}={text[:40]!r} is not a time between 1970 and 2200")
    if when.tzinfo is None:
        raise invalid(("query", name), f"{name}={text[:40]!r} needs a UTC offset, e.g. 2026-03-01T00:00:00+01:00")
    return int(when.timestamp() * 1000)


def time_window(
    start: Annotated[
        str | None, Query(alias="from", description="start: RFC 3339 (2026-03-01T00:00:00+01:00) or Unix ms")
    ] = None,
    to: Annotated[str | None, Query(description="end (exclusive): RFC 3339 or Unix ms; default now")] = None,
    days: Annotated[
        int, Query(ge=1, le=MAX_DAYS, description=f"without 'from': the last N days (at most {MAX_DAYS})")
    ] = 7,
) -> Range:
    end_ms = parse_time(to, "to") if to else int(time.time() * 1000)
    start_ms = parse_time(start, "from") if start else end_ms - days * DAY_MS
    if start_ms >= end_ms:
        raise invalid(("query", "from"), "'from' must be before 'to'")
    return Range(start_ms, end_ms)


TimeWindow = Annotated[Range, Depends(time_window)]
