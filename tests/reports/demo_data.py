"""The demo's workshops as data: ``shopfloor simulate``'s sites over some days, written as the collector writes.

Used by the report tests and ``bench/report_pdf.py``. Readings and events are the simulator's history
(``SimulatedSite.history``), turned into points as the collector's ingest does (readings by its fast path,
events through its item index, so a ``finished`` point gets its category and bench time), written to a real
influxd; then the one-minute rollup is filled as ``init-db --rebuild-rollup`` does.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from collector.drain.rollup import rebuild_rollup
from collector.influx.init_db import init_v1
from collector.influx.v1 import InfluxV1Client
from collector.ingest.pipeline import fast_points
from collector.points import message_lines
from collector.settings import InfluxV1Settings
from collector.storage.items import ItemStore
from shopfloor.contract import StationEvent, decode, parse_topic
from simulator.main import build_sites
from simulator.settings import SimulateSettings
from simulator.sites import SiteSpec

DAY_MS = 86_400_000
MINUTE_MS = 60_000


@dataclass(frozen=True)
class DemoData:
    specs: list[SiteSpec]
    start_ms: int
    end_ms: int
    points: int

    def sites_yaml(self, extra: str = "") -> str:
        """collector.yaml's ``sites:`` block for these workshops (opening hours as the simulator keeps them)."""
        lines = ["sites:"]
        for spec in self.specs:
            lines += [
                f"  {spec.id}:",
                f"    main_meter: {spec.main_meter_id}",
                f"    timezone: {spec.timezone}",
                f"    opening_hours: '{spec.opening_hours_spec}'",
                "    capacity_limit_kw: 10",
                "    capacity_tariff_eur_per_kw_year: 41.25",
            ]
        return "\n".join(lines) + "\n" + extra


def load_demo(settings: InfluxV1Settings, days: int, now_ms: int, sites: int = 3, step_ms: int = MINUTE_MS) -> DemoData:
    init_v1(settings)
    start = now_ms - days * DAY_MS
    simulated = build_sites(SimulateSettings(sites=sites, epoch_days=days + 1, live=False), now_ms)
    writer = InfluxV1Client(settings)
    folder = tempfile.TemporaryDirectory(prefix="demo-items-")
    items = ItemStore(Path(folder.name) / "items.sqlite")
    written = 0
    try:
        for site in simulated:
            lines: list[str] = []
            for topic, payload in site.history(start, now_ms, step_ms):
                fast = fast_points(parse_topic(topic), payload)
                if fast is not None:
                    lines.extend(fast.lines)
                    continue
                message = decode(topic, payload, "shopfloor")
                if isinstance(message.payload, StationEvent):
                    items.record(message.topic.site, message.payload)
                lines.extend(message_lines(message, items))
            for i in range(0, len(lines), 5000):
                response = writer.write(lines[i : i + 5000])
                assert response.ok, response.text
            written += len(lines)
    finally:
        writer.close()
        items.close()
        folder.cleanup()
    rebuild_rollup(settings, days + 1, now_ms * 1_000_000)
    return DemoData([site.spec for site in simulated], start, now_ms, written)
