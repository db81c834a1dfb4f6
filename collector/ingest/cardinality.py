"""Cardinality limits: only a known site, device, station or edge makes new series.

Every id in a topic becomes an InfluxDB tag value and a Prometheus label. A client that invents ids (5,000
sites) would grow both without bound: /metrics from 5 KB to 530 KB, the KPI comparison from 0.1 s to 15 s.
So an id must be *known*: configured in collector.yaml (``sites:``, a site's ``main_meter`` and
``bench_meters``), or first seen while its site has room under ``ingest.limits`` (first-seen sites overall,
devices, stations and edges per site). Beyond the limit the message is dead-lettered (``cardinality_limit``)
and counted (``shopfloor_collector_cardinality_refused_total``), never stored.

:class:`KnownIds` is the pure core (sets and counts). :class:`CardinalityGuard` is the thin shell: it keeps
admitted topics in one set, so the hot path is one set lookup; only a topic not seen before takes the lock,
and only a newly admitted id is written to disk (:mod:`collector.storage.known_ids`), so the set survives
a restart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from collector.metrics import CollectorMetrics
from collector.settings import CollectorSettings
from collector.storage.known_ids import KnownIdStore
from shopfloor.contract import Kind, Topic

KnownId = tuple[str, str, str]


class Dimension(StrEnum):
    SITE = "site"
    DEVICE = "device"
    STATION = "station"
    EDGE = "edge"


# Which id a topic's source level is, by kind (shopfloor/contract/topics.py).
SOURCE_DIMENSION = {
    Kind.READING: Dimension.DEVICE,
    Kind.BATCH: Dimension.EDGE,
    Kind.EVENT: Dimension.STATION,
    Kind.STATUS: Dimension.EDGE,
    Kind.GUARD: Dimension.EDGE,
}


@dataclass(frozen=True, slots=True)
class Limits:
    """First-seen ids allowed beyond the configured ones (0: configured ids only)."""

    max_sites: int = 10
    max_devices_per_site: int = 200
    max_stations_per_site: int = 100
    max_edges_per_site: int = 10

    def of(self, dimension: Dimension) -> int:
        return {
            Dimension.SITE: self.max_sites,
            Dimension.DEVICE: self.max_devices_per_site,
            Dimension.STATION: self.max_stations_per_site,
            Dimension.EDGE: self.max_edges_per_site,
        }[dimension]

    def key(self, dimension: Dimension) -> str:
        suffix = "max_sites" if dimension is Dimension.SITE else f"max_{dimension.value}s_per_site"
        return f"ingest.limits.{suffix}"


class KnownIds:
    """Configured ids, and first-seen ids up to the limits. Pure: the caller persists what :meth:`admit` adds."""

    def __init__(self, limits: Limits, configured: Iterable[KnownId] = (), seen: Iterable[KnownId] = ()) -> None:
        self.limits = limits
        self._configured: set[KnownId] = set(configured)
        self._configured_sites = {site for site, _, _ in self._configured}
        self._seen: set[KnownId] = set()
        self._first_seen: dict[tuple[str, str], int] = {}  # (site or "", dimension) -> first-seen count
        for known in seen:
            self._remember(known)

    def _remember(self, known: KnownId) -> None:
        if known in self._seen or known in self._configured:
            return
        site, dimension, _ = known
        if dimension == Dimension.SITE and site in self._configured_sites:
            return
        self._seen.add(known)
        scope = ("", dimension) if dimension == Dimension.SITE else (site, dimension)
        self._first_seen[scope] = self._first_seen.get(scope, 0) + 1

    def _is_known_site(self, site: str) -> bool:
        return site in self._configured_sites or (site, Dimension.SITE, site) in self._seen

    def admit(self, site: str, dimension: Dimension, id_: str) -> tuple[str | None, list[KnownId]]:
        """(None, ids newly admitted) when the site and the id are known or fit; (why not, []) otherwise."""
        added: list[KnownId] = []
        if not self._is_known_site(site):
            if self._first_seen.get(("", Dimension.SITE), 0) >= self.limits.max_sites:
                return self._refusal(Dimension.SITE, site, site), []
            added.append((site, Dimension.SITE, site))
        known = (site, dimension.value, id_)
        if known not in self._configured and known not in self._seen:
            if self._first_seen.get((site, dimension), 0) >= self.limits.of(dimension):
                return self._refusal(dimension, site, id_), []
            added.append(known)
        for new in added:
            self._remember(new)
        return None, added

    def _refusal(self, dimension: Dimension, site: str, id_: str) -> str:
        limit = self.limits.of(dimension)
        where = "" if dimension is Dimension.SITE else f" at site {site!r}"
        return (
            f"{dimension.value} {id_!r}{where} is not configured, and {limit} first-seen "
            f"{dimension.value}s{'' if dimension is Dimension.SITE else ' of the site'} are known already "
            f"({self.limits.key(dimension)} = {limit}): add it to collector.yaml under sites: or raise the limit, "
            "then requeue the letter"
        )

    def known_site(self, site: str) -> bool:
        return self._is_known_site(site)


Persist = Callable[[list[KnownId]], None]
Refused = Callable[[Dimension], None]


class CardinalityGuard:
    """The hot-path check: a set lookup for every topic admitted before."""

    def __init__(self, known: KnownIds, persist: Persist, on_refused: Refused | None = None) -> None:
        self.known = known
        self.persist = persist
        self.on_refused = on_refused
        self._admitted: set[Topic] = set()
        self._lock = threading.Lock()

    def refuses(self, topic: Topic) -> str | None:
        """Why this topic's site or source is refused; None when it is known (or was admitted now)."""
        if topic in self._admitted:
            return None
        return self._first_time(topic.site, SOURCE_DIMENSION[topic.kind], topic.source, topic)

    def refuses_station(self, site: str, station: str) -> str | None:
        """For station events over HTTP, whose site is in the URL and station in the body."""
        return self._first_time(site, Dimension.STATION, station, None)

    def _first_time(self, site: str, dimension: Dimension, id_: str, topic: Topic | None) -> str | None:
        with self._lock:
            why, added = self.known.admit(site, dimension, id_)
            if added:
                self.persist(added)
            if why is None and topic is not None:
                self._admitted.add(topic)
        if why is not None and self.on_refused is not None:
            self.on_refused(Dimension.SITE if why.startswith("site ") else dimension)
        return None if why is None else f"cardinality_limit: {why}"

    def known_site(self, site: str) -> str | None:
        """``site`` when it is known, else None: a refused letter of an invented site is filed under no site."""
        with self._lock:
            return site if self.known.known_site(site) else None


def configured_ids(sites: dict[str, tuple[str, dict[str, str]]]) -> list[KnownId]:
    """The ids collector.yaml names: per site, (main meter, {station: bench meter})."""
    ids: list[KnownId] = []
    for site, (main_meter, bench_meters) in sites.items():
        ids.append((site, Dimension.SITE, site))
        ids.append((site, Dimension.DEVICE, main_meter))
        for station, meter in bench_meters.items():
            ids.append((site, Dimension.STATION, station))
            ids.append((site, Dimension.DEVICE, meter))
    return ids


def guard_for(settings: CollectorSettings, store: KnownIdStore, metrics: CollectorMetrics) -> CardinalityGuard:
    """The running collector's guard: collector.yaml's ids, the ids first seen before, and the metric."""
    limits = settings.ingest.limits
    configured = configured_ids(
        {site: (facts.main_meter, facts.bench_meters) for site, facts in settings.sites.items()}
    )
    known = KnownIds(
        Limits(limits.max_sites, limits.max_devices_per_site, limits.max_stations_per_site, limits.max_edges_per_site),
        configured,
        store.load(),
    )
    refused = metrics.cardinality_refused
    return CardinalityGuard(known, store.add, lambda dimension: refused.labels(dimension.value).inc())
