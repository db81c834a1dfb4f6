"""One running collector: spool, item index, dead-letter store, metrics, InfluxDB writer, drainer, MQTT subscriber.

Tests and benchmarks run it in-process (``with CollectorRuntime(settings) as runtime:``, or ``start`` and
``stop``); :mod:`collector.service` adds the HTTP server and signal handling around it. ``stop`` may be
called any number of times: only the first one stops anything.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType
from typing import Self

from collector.drain.drainer import Drainer
from collector.drain.kpi_days import KpiDayCatchUp
from collector.influx.connect import make_client
from collector.ingest.cardinality import guard_for
from collector.ingest.mqtt import MqttIn, subscription_filter
from collector.ingest.pipeline import Ingest
from collector.kpi.summaries import DaySummaries
from collector.metrics import CollectorMetrics
from collector.points import ItemIndex
from collector.settings import CollectorSettings, InfluxV1Settings
from collector.storage.dead_letters import DeadLetterStore
from collector.storage.items import ItemStore, item_index_path
from collector.storage.known_ids import KnownIdStore, known_ids_path
from collector.storage.spool import Spool
from collector.storage.tokens import TokenStore, token_store_path

log = logging.getLogger(__name__)

# While a backlog arrives, the MQTT thread is CPU-bound; the drainer and the commit timer block on I/O
# and need the GIL only briefly in between. At CPython's default 5 ms, each of those hand-offs could wait
# 5 ms, so InfluxDB sat idle between writes: 1 ms let the drainer keep pace (bench/README.md).
GIL_SWITCH_INTERVAL_S = 0.001


class CollectorRuntime:
    def __init__(self, settings: CollectorSettings, item_index: ItemIndex | None = None) -> None:
        self.settings = settings
        self.metrics = CollectorMetrics()
        self.metrics.sites.configure(settings.sites)
        self.spool = Spool(settings.spool.path, settings.spool.max_rows, settings.spool.max_bytes)
        self.dead_letters = DeadLetterStore.open(
            settings.dead_letters, lambda why, n: self.metrics.dead_letters_dropped.labels(why).inc(n)
        )
        # Every station event, from MQTT or HTTP, goes through the item index before its lines are built.
        self.items = ItemStore(item_index_path(settings.spool.path))
        # API tokens: the API reads them per request, `shopfloor collector token` writes them (docs/security.md).
        self.tokens = TokenStore(token_store_path(settings.spool.path))
        self.known_ids = KnownIdStore(known_ids_path(settings.spool.path))
        self.cardinality = guard_for(settings, self.known_ids, self.metrics)
        self.influx = make_client(settings.influx)
        kpi_days = (
            KpiDayCatchUp(self.influx, DaySummaries.writer_for(settings.influx), settings.site)
            if isinstance(settings.influx, InfluxV1Settings)
            else None
        )
        self.drainer = Drainer(
            self.spool,
            self.influx,
            self.dead_letters,
            self.metrics,
            settings.influx,
            prefix=settings.broker.prefix,
            kpi_days=kpi_days,
        )
        self.mqtt = MqttIn(settings, self.metrics)
        workers = settings.subscription.decode_workers
        # spawn, not fork: the parent runs threads (paho, drainer) whose locks a fork would copy.
        self.batch_pool = (
            ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) if workers else None
        )
        self.ingest = Ingest(
            prefix=settings.broker.prefix,
            spool=self.spool,
            dead_letters=self.dead_letters,
            metrics=self.metrics,
            ack=self.mqtt.ack,
            commit_every=settings.spool.commit_every,
            item_index=item_index if item_index is not None else self.items,
            on_event=self.items.record,
            batch_pool=self.batch_pool,
            batch_workers=workers,
            max_future_skew_s=settings.subscription.max_future_skew_s,
            cardinality=self.cardinality,
            commit_gap_s=settings.spool.commit_interval_ms / 1000,
        )
        self.metrics.spool_depth.set(self.spool.depth_lines)
        self._started = False
        self._closed = False

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._closed:
            raise RuntimeError("a stopped collector runtime cannot start again: make a new one")
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
        if self.spool.depth_lines:
            log.warning("spool holds %d points from before: draining them first", self.spool.depth_lines)
        if self.batch_pool is not None:
            # Start the workers now (spawning imports the contract), not on the first backlog message.
            workers = self.settings.subscription.decode_workers
            list(self.batch_pool.map(abs, range(workers)))
        self.drainer.start()
        self.mqtt.start(self.ingest)
        self._started = True
        log.info(
            "collector %s started: %s -> %s",
            self.settings.collector_id,
            subscription_filter(self.settings),
            self.influx.target,
        )

    def stop(self) -> None:
        """Commit and ack what was received, stop the drainer, close the stores. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            self.mqtt.stop()
            self.drainer.stop()
        if self.batch_pool is not None:
            self.batch_pool.shutdown(cancel_futures=True)
        self.influx.close()
        self.spool.close()
        self.dead_letters.close()
        self.items.close()
        self.tokens.close()
        self.known_ids.close()

    def ready(self) -> dict[str, bool]:
        return {
            "broker": self.mqtt.connected.is_set(),
            "influxdb": self.influx.ping(),
            "drainer": not self.drainer.stalled(),
        }
