"""collector.yaml: what the collector connects to, where it keeps its spool and dead letters, how it batches.

Loaded with :func:`shopfloor.config.load_config` (YAML, ``${VAR}``, ``SHOPFLOOR_COLLECTOR__KEY`` overrides), so
every error names the file, the key path and the fix. Documented in docs/collector.md.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    Discriminator,
    Field,
    SecretStr,
    Tag,
    field_validator,
    model_validator,
)

from shopfloor.config import ConfigPath, Section, load_config, url_without_credentials
from shopfloor.contract.topics import ID_PATTERN
from shopfloor.kpi.opening_hours import OpeningHours, TimeZoneName, parse_hours
from shopfloor.kpi.sessions import DEFAULT_TIMEZONE
from shopfloor.mqtt import BrokerSettings

ENV_PREFIX = "SHOPFLOOR_COLLECTOR"


class SubscriptionSettings(Section):
    shared_group: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="join $share/<group>/...: collectors in one group split the messages between them",
    )
    session_expiry_s: int = Field(
        default=3600, ge=0, le=4_294_967_295, description="how long the broker keeps our queue while we are away"
    )
    receive_maximum: int = Field(default=1000, ge=1, le=65535, description="QoS 1 messages in flight to us")
    max_future_skew_s: float = Field(
        default=86_400, ge=0, description="a message dated further ahead of the collector's clock is dead-lettered"
    )
    decode_workers: int = Field(
        default=0, ge=0, le=64, description="processes that validate ReadingBatch messages; 0: the MQTT thread does"
    )


class _InfluxCommon(Section):
    url: str = Field(default="http://127.0.0.1:8086", pattern=r"^https?://")
    batch_size: int = Field(default=5000, ge=1, le=100_000, description="lines per write request")
    flush_interval_ms: int = Field(
        default=25,
        ge=0,
        le=60_000,
        description="under load, the longest pause between write requests (batches grow meanwhile, up to batch_size): "
        "the pause is twice the last request's own time, up to this; after a quiet spell a point is written at once; "
        "0: write every commit at once",
    )
    gzip: bool | Literal["auto"] = Field(
        default="auto",
        description="compress write requests and query answers; auto: only when InfluxDB is on another host "
        "(over loopback compression costs CPU at both ends and saves nothing)",
    )
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    retry_max_s: float = Field(default=30.0, gt=0, le=3600, description="longest pause between write retries")
    stall_after_s: float = Field(
        default=120.0,
        gt=0,
        le=86_400,
        description="/readyz says not ready when points waited this long in the spool without a successful write",
    )
    raw_retention: str = Field(default="400d", pattern=r"^(INF|\d+[hdw])$", description="autogen duration, or INF")

    @field_validator("url")
    @classmethod
    def _no_credentials_in_url(cls, url: str) -> str:
        return url_without_credentials(url, "influx.username and influx.password (1.x) or influx.token (2.x)")

    @field_validator("gzip", mode="before")
    @classmethod
    def _true_false_or_auto(cls, value: object) -> object:
        if isinstance(value, bool) or value == "auto":
            return value
        raise ValueError("gzip must be true, false or auto")

    @property
    def compress(self) -> bool:
        if self.gzip == "auto":
            return not is_loopback_url(self.url)
        return self.gzip


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class InfluxV1Settings(_InfluxCommon):
    version: Literal[1] = 1
    database: str = Field(default="shopfloor", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    retention_policy: str | None = Field(default=None, description="target RP; the database default when unset")
    username: str | None = None
    password: SecretStr | None = None

    @model_validator(mode="after")
    def _user_and_password_together(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: set both for basic auth, or neither")
        return self


class InfluxV2Settings(_InfluxCommon):
    version: Literal[2] = 2
    org: str = Field(min_length=1)
    bucket: str = Field(default="shopfloor", min_length=1)
    token: SecretStr


def _influx_version(data: Any) -> str | None:
    version = data.get("version", 1) if isinstance(data, dict) else getattr(data, "version", None)
    return {1: "v1", 2: "v2", "1": "v1", "2": "v2"}.get(version)


InfluxSettings = Annotated[
    Annotated[InfluxV1Settings, Tag("v1")] | Annotated[InfluxV2Settings, Tag("v2")],
    Discriminator(
        _influx_version,
        custom_error_type="influx_version",
        custom_error_message="version must be 1 (InfluxDB 1.x) or 2 (InfluxDB 2.x/3.x)",
    ),
]


class SpoolSettings(Section):
    path: ConfigPath = Path("var/collector/spool.sqlite")
    max_rows: int = Field(default=5_000_000, ge=1000, description="lines held while InfluxDB is away")
    max_bytes: int = Field(default=2_000_000_000, ge=1_000_000, description="bytes of line protocol held")
    commit_every: int = Field(default=500, ge=1, le=10_000, description="messages per spool commit (then acked)")
    commit_interval_ms: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="under steady traffic, the longest pause between commits (so a message's longest wait for its "
        "commit): the pause is twice the last commit's own time, up to this; after a quiet spell a message is "
        "committed at once",
    )


class DeadLetterSettings(Section):
    path: ConfigPath = Path("var/collector/dead_letters.sqlite")
    max_bytes: int = Field(
        default=100_000_000, ge=1_000_000, description="the store's bound; the oldest letters go first past it"
    )
    max_age_days: float = Field(default=30, gt=0, le=3660, description="letters older than this are dropped")
    max_payload_bytes: int = Field(
        default=65_536, ge=1024, le=16_777_216, description="a bigger payload keeps only its head (then no requeue)"
    )
    max_cardinality_letters: int = Field(
        default=1000,
        ge=0,
        le=1_000_000,
        description="open cardinality_limit letters kept; further ones are only counted (dropped, why=cap)",
    )


class HttpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535, description="0 picks a free port (tests)")
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, le=1_073_741_824, description="larger request bodies are refused with 413"
    )


class ApiSettings(Section):
    """Who may use the HTTP API (docs/security.md#api-tokens). Writes and dead letters always need a token."""

    read_access: Literal["token", "open"] = Field(
        default="token",
        description="token: KPI, report and bench reads need a read token (or higher); "
        "open: anyone who reaches the port may read them (a closed LAN)",
    )
    metrics_access: Literal["token", "open"] = Field(
        default="token",
        description="token: /metrics needs an all-sites read token (Prometheus: authorization.credentials_file)",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="browser origins allowed to call the API from their pages, e.g. https://dash.example.org; "
        "none by default (no CORS headers at all)",
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#@\s]+$",
        description="how tablets reach the collector, e.g. http://collector.lan:8080, for pairing links; "
        "default http://<http.host>:<http.port>",
    )

    @field_validator("cors_origins")
    @classmethod
    def _explicit_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            parts = urlsplit(origin)
            if origin == "*" or parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise ValueError(
                    f"{origin[:80]!r} is not an origin: write scheme://host[:port], e.g. https://dash.example.org "
                    "(no '*', no path)"
                )
        return origins


class CardinalityLimitSettings(Section):
    """Ids first seen (not configured under ``sites:``) that may make new series; 0: configured ids only."""

    max_sites: int = Field(
        default=10, ge=0, le=100_000, description="sites first seen, beyond those under sites: (a cluster: 0)"
    )
    max_devices_per_site: int = Field(default=200, ge=0, le=100_000, description="meters first seen, per site")
    max_stations_per_site: int = Field(default=100, ge=0, le=100_000, description="bench stations first seen, per site")
    max_edges_per_site: int = Field(default=10, ge=0, le=10_000, description="edge agents first seen, per site")


class IngestSettings(Section):
    limits: CardinalityLimitSettings = Field(default_factory=CardinalityLimitSettings)


class SiteSettings(Section):
    """Facts about one site for the KPI API and the ORDS export (docs/kpis.md). Every key has a default,
    so a site that is not configured still gets its KPIs."""

    timezone: TimeZoneName = Field(default=DEFAULT_TIMEZONE, description="IANA zone of local days, weeks and hours")
    opening_hours: str | None = Field(
        default=None, description="e.g. 'mon-fri 08:30-17:00; sat 10:00-14:00'; base load needs it"
    )
    capacity_limit_kw: float | None = Field(default=None, gt=0, description="contracted capacity, shown beside peaks")
    capacity_tariff_eur_per_kw_year: float | None = Field(
        default=None, ge=0, description="capacity tariff in EUR per kW per year, for the reports' cost estimate"
    )
    main_meter: str = Field(default="main", pattern=ID_PATTERN, description="device id of the site's main meter")
    bench_meters: dict[str, str] = Field(
        default_factory=dict, description="station id -> meter device id, when they differ"
    )
    data_provider: str | None = Field(default=None, min_length=1, description="ORDS data_provider for the export")
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$", description="ISO 3166 alpha-3, e.g. BEL")

    @field_validator("opening_hours")
    @classmethod
    def _hours_parse(cls, hours: str | None) -> str | None:
        if hours is not None:
            parse_hours(hours)
        return hours

    def hours(self) -> OpeningHours | None:
        return None if self.opening_hours is None else OpeningHours(hours=self.opening_hours, timezone=self.timezone)

    def bench_meter(self, station: str) -> str:
        return self.bench_meters.get(station, station)


class CollectorSettings(Section):
    collector_id: str = Field(pattern=ID_PATTERN, description="MQTT client id: one per collector, stable")
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    subscription: SubscriptionSettings = Field(default_factory=SubscriptionSettings)
    influx: InfluxSettings = Field(default_factory=InfluxV1Settings)
    spool: SpoolSettings = Field(default_factory=SpoolSettings)
    dead_letters: DeadLetterSettings = Field(default_factory=DeadLetterSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    sites: dict[str, SiteSettings] = Field(default_factory=dict)

    def site(self, site: str) -> SiteSettings:
        """The site's settings, or the defaults for a site that is not configured."""
        return self.sites.get(site) or SiteSettings()

    @model_validator(mode="after")
    def _separate_stores(self) -> Self:
        if self.spool.path == self.dead_letters.path:
            raise ValueError("spool.path and dead_letters.path must be different files")
        return self


def load_settings(path: Path | str) -> CollectorSettings:
    """Read collector.yaml; raises shopfloor.config.ConfigError naming file, key and fix."""
    return load_config(path, CollectorSettings, env_prefix=ENV_PREFIX)
