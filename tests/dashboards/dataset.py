"""A known workshop dataset for the dashboards' queries: two sites, meters, finished items, edge health.

Everything the tests expect is computed from these Python values, through ``shopfloor.kpi``
where the KPI module defines the number. Times are UTC; ``NOW`` ends the dataset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shopfloor.contract import RepairStatus, ReuseOutcome
from shopfloor.kpi.energy import MeterSample
from shopfloor.kpi.outcomes import outcome_fields
from shopfloor.kpi.rates import FinishedItem

NOW = datetime(2026, 11, 18, 14, 30, tzinfo=UTC)  # a Wednesday
MONTH_START = datetime(2026, 11, 1, tzinfo=UTC)
BENCH_START = NOW - timedelta(days=3)
MINUTE_MS = 60_000
SITES = ("gent-repair", "brussels-reuse")
BENCHES = ("bench-1", "bench-2")
# Power of each main meter: base load, opening hours (Mon-Fri 08-18 UTC), and one known peak.
BASE_W = {"gent-repair": 2000.0, "brussels-reuse": 1500.0}
OPEN_W = {"gent-repair": 12000.0, "brussels-reuse": 8000.0}
PEAK = ("gent-repair", datetime(2026, 11, 10, 10, 0, tzinfo=UTC), 36000.0)  # 15 minutes at 36 kW
# Brussels' main meter is swapped: its counter restarts from 0 halfway between two readings.
RESET_AT = datetime(2026, 11, 17, 3, 0, 30, tzinfo=UTC)
BENCH_W = {"bench-1": 300.0, "bench-2": 150.0}
STALE_DEVICE = ("brussels-reuse", "bench-2")  # its newest reading is stale


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _is_open(moment: datetime) -> bool:
    return moment.weekday() < 5 and 8 <= moment.hour < 18


def power_w(site: str, device: str, moment: datetime) -> float:
    if device in BENCH_W:
        return BENCH_W[device] if _is_open(moment) else 20.0
    peak_site, peak_start, peak_w = PEAK
    if site == peak_site and peak_start <= moment < peak_start + timedelta(minutes=15):
        return peak_w
    return OPEN_W[site] if _is_open(moment) else BASE_W[site]


@dataclass(frozen=True)
class Reading:
    site: str
    device: str
    ts_ms: int
    power: float
    energy_import: float


def readings() -> Iterator[Reading]:
    """One reading a minute. The power read at t is drawn until t + 1 min, so the counter at t + 1 min adds it."""
    for site in SITES:
        for device, start, counter in (("main", MONTH_START, 1000.0), *((b, BENCH_START, 50.0) for b in BENCHES)):
            moment = start
            while moment <= NOW:
                watts = power_w(site, device, moment)
                yield Reading(site, device, ms(moment), watts, counter)
                step_kwh = watts / 1000 / 60
                nxt = moment + timedelta(minutes=1)
                if site == "brussels-reuse" and device == "main" and moment < RESET_AT < nxt:
                    counter = step_kwh * (nxt - RESET_AT).total_seconds() / 60
                else:
                    counter += step_kwh
                moment = nxt


def meter_samples(site: str, device: str) -> list[MeterSample]:
    return [MeterSample(r.ts_ms, r.power, r.energy_import) for r in readings() if (r.site, r.device) == (site, device)]


@dataclass(frozen=True)
class Item:
    site: str
    station: str
    finished: datetime
    category: str
    status: RepairStatus | None
    outcome: ReuseOutcome | None
    weight_kg: float | None
    bench_s: float
    barrier: str = ""

    def finished_item(self) -> FinishedItem:
        terms = outcome_fields(self.status, self.outcome, self.category, self.weight_kg)
        return FinishedItem(self.site, self.station, ms(self.finished), self.category, terms, self.bench_s)


F, R, E, U = RepairStatus.FIXED, RepairStatus.REPAIRABLE, RepairStatus.END_OF_LIFE, RepairStatus.UNKNOWN
TODAY = NOW.replace(hour=0, minute=0)
ITEMS = (
    # gent-repair, today
    Item("gent-repair", "bench-1", TODAY + timedelta(hours=9), "Laptop", F, None, 2.1, 45 * 60),
    Item("gent-repair", "bench-1", TODAY + timedelta(hours=10, minutes=30), "Kettle", F, None, None, 20 * 60),
    Item("gent-repair", "bench-2", TODAY + timedelta(hours=11), "Laptop", R, None, 1.9, 70 * 60),
    Item(
        "gent-repair",
        "bench-2",
        TODAY + timedelta(hours=13),
        "Small kitchen item",
        E,
        ReuseOutcome.PARTS_HARVESTED,
        None,
        35 * 60,
        "Spare parts not available",
    ),
    # gent-repair, yesterday and the day before
    Item("gent-repair", "bench-1", TODAY - timedelta(hours=14), "Toaster", F, None, 1.5, 25 * 60),
    Item("gent-repair", "bench-1", TODAY - timedelta(hours=13), "Laptop", E, None, None, 90 * 60, "Item too worn out"),
    Item("gent-repair", "bench-2", TODAY - timedelta(hours=12), "Kettle", U, None, None, 10 * 60),
    Item(
        "gent-repair",
        "bench-2",
        TODAY - timedelta(days=1, hours=10),
        "Laptop",
        E,
        None,
        2.4,
        60 * 60,
        "Spare parts not available",
    ),
    # brussels-reuse
    Item(
        "brussels-reuse",
        "bench-1",
        TODAY + timedelta(hours=9, minutes=15),
        "Furniture",
        None,
        ReuseOutcome.REUSED_AS_IS,
        31.5,
        15 * 60,
    ),
    Item("brussels-reuse", "bench-1", TODAY + timedelta(hours=12), "Lamp", F, None, None, 30 * 60),
    Item("brussels-reuse", "bench-2", TODAY - timedelta(hours=15), "Textile", None, ReuseOutcome.RECYCLED, 3.0, 5 * 60),
    Item("brussels-reuse", "bench-2", TODAY - timedelta(hours=13), "Lamp", R, None, 2.0, 40 * 60),
    Item("brussels-reuse", "bench-1", TODAY - timedelta(days=1, hours=12), "Furniture", F, None, 12.0, 120 * 60),
)

# (site, station, minutes before NOW, state): the newest one per station is its state now.
STATES = (
    ("gent-repair", "bench-1", 300, "idle"),
    ("gent-repair", "bench-1", 40, "working"),
    ("gent-repair", "bench-2", 25, "idle"),
    ("brussels-reuse", "bench-1", 90, "working"),
    ("brussels-reuse", "bench-1", 10, "paused"),
    ("brussels-reuse", "bench-2", 200, "closed"),
)

# edge_status points: (site, edge, minutes before NOW, online, buffer_depth, dropped_full, dropped_age, devices_stale)
EDGE_STATUS = (
    ("gent-repair", "gent-pi", 120, 1, 0, 0, 0, 0),
    ("gent-repair", "gent-pi", 60, 1, 40, 0, 0, 0),
    ("gent-repair", "gent-pi", 2, 1, 0, 0, 0, 0),
    ("brussels-reuse", "bx-pi", 90, 1, 120, 3, 1, 1),
    ("brussels-reuse", "bx-pi", 15, 0, 75, 3, 1, 1),
)
# dead_letter points: (site, reason_kind, minutes before NOW)
DEAD_LETTERS = (
    ("gent-repair", "contract", 100),
    ("gent-repair", "contract", 50),
    ("brussels-reuse", "write_rejected", 30),
    ("unknown", "contract", 20),
)

# peak_guard points: (site, minutes before NOW, action, load, forecast_kw, target_kw, month_peak_kw, reason)
GUARD = (
    ("gent-repair", 50, "shed", "heater", 37.5, 36.0, 36.0, "forecast 37.50 kW > 36.00 kW"),
    ("gent-repair", 45, "quarter_end", "", 35.0, 36.0, 36.0, "quarter complete"),
    ("gent-repair", 40, "restore", "heater", 33.0, 36.0, 36.0, "room: forecast with it 33.00 kW <= 35.50 kW"),
)


def _tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _field(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _line(measurement: str, tags: dict[str, str], fields: dict[str, object], ts_ms: int) -> str:
    tag_text = "".join(f",{k}={_tag(v)}" for k, v in sorted(tags.items()) if v)
    field_text = ",".join(f"{k}={_field(v)}" for k, v in fields.items())
    return f"{measurement}{tag_text} {field_text} {ts_ms}"


def minutes_before_now(minutes: int) -> int:
    return ms(NOW - timedelta(minutes=minutes))


def stale_reading_ms() -> int:
    return minutes_before_now(5)


def lines() -> Iterator[str]:
    """Line protocol with ms timestamps, the way docs/storage.md lays the points out."""
    for seq, r in enumerate(readings()):
        if (r.site, r.device) == STALE_DEVICE and r.ts_ms > minutes_before_now(20):
            continue  # the meter went quiet 20 minutes ago ...
        tags = {"site": r.site, "device": r.device, "edge": "gent-pi" if r.site == "gent-repair" else "bx-pi"}
        yield _line(
            "meter", tags, {"power": r.power, "energy_import": r.energy_import, "quality": "ok", "seq": seq}, r.ts_ms
        )
    site, device = STALE_DEVICE
    # ... and the edge reported it stale 5 minutes ago: no quantity fields.
    yield _line(
        "meter",
        {"site": site, "device": device, "edge": "bx-pi"},
        {"quality": "stale", "seq": 10**7, "error": "timeout"},
        stale_reading_ms(),
    )
    for number, item in enumerate(ITEMS):
        terms = item.finished_item().terms
        tags = {
            "site": item.site,
            "station": item.station,
            "type": "finished",
            "category": item.category,
            "repair_status": item.status.value if item.status else "",
            "outcome": item.outcome.value if item.outcome else "",
            "barrier": item.barrier,
        }
        fields: dict[str, object] = {"event_id": f"ev-{number}", "item_id": f"it-{number}", **terms.as_fields()}
        fields["bench_s"] = float(item.bench_s)
        if item.weight_kg is not None:
            fields["weight_kg"] = item.weight_kg
        yield _line("repair_event", tags, fields, ms(item.finished))
    for number, (site, station, minutes, state) in enumerate(STATES):
        yield _line(
            "repair_event",
            {"site": site, "station": station, "type": "state", "state": state},
            {"event_id": f"st-{number}"},
            minutes_before_now(minutes),
        )
    for site, edge, minutes, online, depth, full, age, stale in EDGE_STATUS:
        yield _line(
            "edge_status",
            {"site": site, "edge": edge},
            {
                "online": online,
                "buffer_depth": depth,
                "dropped_full": full,
                "dropped_age": age,
                "devices_stale": stale,
                "version": "0.1.0",
            },
            minutes_before_now(minutes),
        )
    for site, minutes, action, load, forecast, target, peak, reason in GUARD:
        yield _line(
            "peak_guard",
            {"site": site, "edge": "gent-pi", "action": action, "load": load},
            {"forecast_kw": forecast, "target_kw": target, "month_peak_kw": peak, "reason": reason},
            minutes_before_now(minutes),
        )
    for site, kind, minutes in DEAD_LETTERS:
        yield _line(
            "dead_letter",
            {"site": site, "reason_kind": kind},
            {"count": 1, "reason": "bad"},
            minutes_before_now(minutes),
        )
