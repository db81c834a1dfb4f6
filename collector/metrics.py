"""Prometheus metrics of one collector, in its own registry (nothing global, nothing at import)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collector.site_gauges import SiteGauges

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


# A source silent this long is gone (a finished backfill's ``<site>-history``, a replaced meter), not late: an
# alert on its age has fired for days. Dropping it keeps the series set, and this dict, from growing for ever.
LAST_SEEN_EXPIRY_S = 7 * 86_400.0


class _LastSeen(Collector):
    """Age of the last message per site and device, computed at scrape time; sources silent for
    ``expire_after_s`` are dropped."""

    def __init__(self, expire_after_s: float = LAST_SEEN_EXPIRY_S) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self.expire_after_s = expire_after_s

    def mark(self, site: str, source: str, when: float) -> None:
        with self._lock:
            self._seen[(site, source)] = when

    def mark_all(self, sources: set[tuple[str, str]], when: float) -> None:
        """Many (site, device) at once: one lock for a committed group."""
        with self._lock:
            self._seen.update(dict.fromkeys(sources, when))

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "shopfloor_collector_last_message_age_seconds",
            "Seconds since the last valid message from this site and device",
            labels=["site", "device"],
        )
        now = time.time()
        with self._lock:
            for key in [key for key, when in self._seen.items() if now - when > self.expire_after_s]:
                del self._seen[key]
            items = list(self._seen.items())
        for (site, source), when in items:
            family.add_metric([site, source], now - when)
        yield family


class CollectorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter("shopfloor_collector_messages_received", "MQTT messages received", ["kind"], registry=r)
        self.dead_lettered = Counter(
            "shopfloor_collector_messages_dead_lettered",
            "Messages or lines sent to the dead-letter store",
            ["reason_kind"],
            registry=r,
        )
        self.dead_letters_dropped = Counter(
            "shopfloor_collector_dead_letters_dropped",
            "Dead letters dropped by the store's bounds (dead_letters.max_bytes, max_age_days)",
            ["why"],
            registry=r,
        )
        self.cardinality_refused = Counter(
            "shopfloor_collector_cardinality_refused",
            "Messages refused because their site, device, station or edge is beyond ingest.limits",
            ["dimension"],
            registry=r,
        )
        self.spooled = Counter("shopfloor_collector_points_spooled", "Points committed to the spool", registry=r)
        self.written = Counter("shopfloor_collector_points_written", "Points written to InfluxDB", registry=r)
        self.write_errors = Counter(
            "shopfloor_collector_write_errors",
            "Write attempts that failed and will be retried",
            ["reason"],
            registry=r,
        )
        self.write_latency = Histogram(
            "shopfloor_collector_write_latency_seconds",
            "Duration of one InfluxDB write request",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.write_batch_lines = Histogram(
            "shopfloor_collector_write_batch_lines",
            "Lines in one InfluxDB write request: 1 under light traffic, up to influx.batch_size under load",
            buckets=(1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10_000, 100_000),
            registry=r,
        )
        self.spool_depth = Gauge("shopfloor_collector_spool_depth_points", "Points waiting in the spool", registry=r)
        self.spool_bytes = Gauge("shopfloor_collector_spool_bytes", "Bytes of line protocol in the spool", registry=r)
        self.spool_full = Gauge(
            "shopfloor_collector_spool_full", "1 while the spool is full and messages wait un-acked", registry=r
        )
        self.broker_connected = Gauge(
            "shopfloor_collector_broker_connected", "1 when connected to MQTT and subscribed", registry=r
        )
        self.influx_up = Gauge(
            "shopfloor_collector_influx_up", "1 when the last InfluxDB request got an answer", registry=r
        )
        self.spool_oldest_age = Gauge(
            "shopfloor_collector_spool_oldest_age_seconds",
            "Age of the oldest point still in the spool (0 when empty)",
            registry=r,
        )
        self.drainer_stalled = Gauge(
            "shopfloor_collector_drainer_stalled",
            "1 while the spool holds points and no write succeeded for influx.stall_after_s",
            registry=r,
        )
        self.last_seen = _LastSeen()
        r.register(self.last_seen)
        # The alert rules' gauges (deploy/prometheus/): sites, devices, edges.
        self.sites = SiteGauges()
        r.register(self.sites)

    def render(self) -> bytes:
        return generate_latest(self.registry)
