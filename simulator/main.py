"""Wiring of `shopfloor simulate`: settings, sites, MQTT publisher, backfill, live loop."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from collections.abc import Iterable
from types import FrameType

from edge.profiles import ProfileLibrary
from shopfloor.config import load_config
from shopfloor.mqtt import BrokerSettings, MqttError, PublishInfo, connect, new_client
from simulator.runner import SimulatedSite, Simulation
from simulator.settings import SimulateSettings
from simulator.sites import default_sites

log = logging.getLogger(__name__)
DAY_MS = 86_400_000


class Publisher:
    """QoS 1 publisher that can wait until the broker has acknowledged everything sent."""

    def __init__(self, broker: BrokerSettings, client_id: str) -> None:
        self._client = new_client(broker, client_id, max_inflight=200)
        self._broker = broker
        self._pending: list[PublishInfo] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Publisher:
        connect(self._client, self._broker, clean_start=True, session_expiry_s=0)
        self._client.loop_start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, payload: bytes) -> None:
        info = self._client.publish(topic, payload, qos=1)
        with self._lock:
            self._pending.append(info)
            if len(self._pending) > 500:
                self._pending = [i for i in self._pending if not i.is_published()]

    def flush(self, timeout: float = 600.0) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            pending, self._pending = self._pending, []
        for info in pending:
            remaining = deadline - time.monotonic()
            if remaining > 0:
                info.wait_for_publish(remaining)
            if not info.is_published():
                raise MqttError(f"broker {self._broker.host}:{self._broker.port} did not acknowledge the backfill")


def settings_from_args(args: argparse.Namespace) -> SimulateSettings:
    settings = (
        load_config(args.config, SimulateSettings, env_prefix="SHOPFLOOR_SIMULATE")
        if args.config
        else SimulateSettings()
    )
    updates: dict[str, object] = {}
    for key in ("sites", "seed", "modbus_host", "modbus_port", "backfill_days"):
        value = getattr(args, key, None)
        if value is not None:
            updates[key] = value
    if args.no_live:
        updates["live"] = False
    broker = settings.broker
    if args.broker:
        host, _, port = args.broker.rpartition(":")
        broker = broker.model_copy(update={"host": host or "127.0.0.1", "port": int(port)})
    if args.prefix:
        broker = broker.model_copy(update={"prefix": args.prefix})
    updates["broker"] = broker
    return SimulateSettings.model_validate({**settings.model_dump(), **updates})


def build_sites(settings: SimulateSettings, now_ms: int) -> list[SimulatedSite]:
    library = ProfileLibrary.load()
    # The counters' epoch is midnight UTC some days back, so restarts on the same day agree.
    epoch = (now_ms // DAY_MS) * DAY_MS - int(settings.epoch_days * DAY_MS)
    return [
        SimulatedSite(
            spec,
            library,
            seed=settings.seed,
            epoch_ms=epoch,
            modbus_host=settings.modbus_host,
            modbus_port=settings.modbus_port + i,
            prefix=settings.broker.prefix,
        )
        for i, spec in enumerate(default_sites(settings.sites))
    ]


def backfill(sites: Iterable[SimulatedSite], publisher: Publisher, start_ms: int, end_ms: int, step_ms: int) -> int:
    sent = 0
    for site in sites:
        for topic, payload in site.history(start_ms, end_ms, step_ms):
            publisher.publish(topic, payload)
            sent += 1
        publisher.flush()
        log.info("site %s: history published up to %d", site.spec.id, end_ms)
    return sent


def run_from_args(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    now = int(time.time() * 1000)
    sites = build_sites(settings, now)
    # One id per process: the demo runs a live simulator and a backfill side by side, and the
    # broker would disconnect one of two clients that share an id.
    role = "live" if settings.live else "backfill"
    with Publisher(settings.broker, f"simulator-{role}-{os.getpid()}") as publisher:
        if settings.backfill_days > 0:
            start = now - int(settings.backfill_days * DAY_MS)
            start -= start % (settings.backfill_step_s * 1000)
            count = backfill(sites, publisher, start, now, settings.backfill_step_s * 1000)
            print(f"backfill: {count} messages for {len(sites)} sites, {settings.backfill_days:g} days", flush=True)
        if not settings.live:
            return 0
        simulation = Simulation(sites, publisher.publish)

        def stop(signum: int, frame: FrameType | None) -> None:
            simulation.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        simulation.start_servers()
        for site in sites:
            print(f"site {site.spec.id}: Modbus TCP {site.server.host}:{site.server.port}", flush=True)
        simulation.run()
    return 0
