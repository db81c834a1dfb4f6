"""A deterministic workshop: repair jobs per bench per day, and the electrical load they cause.

Every day's jobs on a bench are a pure function of (seed, site, bench, date). So a backfill
and a live run agree, a restart replays the same event ids (idempotent downstream), and tests
can compute expected numbers from the same timeline.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from shopfloor.contract import (
    Barrier,
    EventType,
    RepairStatus,
    ReuseOutcome,
    StationEvent,
    StationState,
    find_category,
)
from simulator.ords_shares import load_shares
from simulator.sites import BenchSpec, DeferrableSpec, SiteSpec

MINUTE_MS = 60_000
DAY_MS = 86_400_000
# A job still open at closing time resumes the next opening day in this reserved morning slot.
CARRY_SLOT_MS = 60 * MINUTE_MS
# A job carried over is paused this long before closing, and resumed this long after opening,
# so the bench's own ``idle`` (opening) and ``closed`` states come first and last, as at a real bench.
CARRY_MARGIN_MS = 5 * MINUTE_MS


@dataclass(frozen=True, slots=True)
class Job:
    item_id: str
    station: str
    category: str
    weight_kg: float | None
    checkin_ms: int
    start_ms: int
    pauses: tuple[tuple[int, int], ...]
    finish_ms: int
    repair_status: RepairStatus | None
    barrier: Barrier | None
    outcome: ReuseOutcome | None

    def working_at(self, ts_ms: int) -> bool:
        if not self.start_ms <= ts_ms < self.finish_ms:
            return False
        return not any(p <= ts_ms < r for p, r in self.pauses)

    def bench_ms(self) -> int:
        return self.finish_ms - self.start_ms - sum(r - p for p, r in self.pauses)

    def events(self) -> list[StationEvent]:
        """The item's lifecycle events, each followed by the station state it leaves the bench in."""
        item = {"station": self.station, "item_id": self.item_id, "source": "simulator"}
        lifecycle: list[tuple[str, int, EventType, StationState | None, dict[str, object]]] = [
            (
                "in",
                self.checkin_ms,
                EventType.CHECKED_IN,
                None,
                {"category": self.category, "weight_kg": self.weight_kg},
            ),
            ("start", self.start_ms, EventType.STARTED, StationState.WORKING, {}),
        ]
        for n, (paused, resumed) in enumerate(self.pauses):
            lifecycle.append((f"p{n}", paused, EventType.PAUSED, StationState.PAUSED, {}))
            lifecycle.append((f"r{n}", resumed, EventType.RESUMED, StationState.WORKING, {}))
        final: dict[str, object] = {
            "category": self.category,
            "weight_kg": self.weight_kg,
            "repair_status": self.repair_status,
            "barrier": self.barrier,
            "outcome": self.outcome,
        }
        lifecycle.append(("done", self.finish_ms, EventType.FINISHED, StationState.IDLE, final))
        out: list[StationEvent] = []
        for suffix, ts_ms, kind, state, extra in lifecycle:
            out.append(
                StationEvent.model_validate(
                    {"event_id": f"{self.item_id}-{suffix}", "ts_ms": ts_ms, "type": kind, **item, **extra}
                )
            )
            if state is not None:
                out.append(
                    StationEvent(
                        event_id=f"{self.item_id}-{suffix}-s",
                        ts_ms=ts_ms,
                        station=self.station,
                        type=EventType.STATE,
                        state=state,
                        source="simulator",
                    )
                )
        return out


def _pick(rng: random.Random, shares: dict[str, float]) -> str:
    keys = sorted(shares)
    return rng.choices(keys, weights=[shares[k] for k in keys])[0]


def noise(seed: int, slot: int) -> float:
    """Cheap deterministic noise in [0, 1) for a time slot."""
    x = (slot * 2654435761 + seed * 40503) & 0xFFFFFFFF
    x ^= x >> 13
    x = (x * 1274126177) & 0xFFFFFFFF
    return (x & 0xFFFF) / 65536.0


class Workshop:
    """One simulated site: its jobs, events and meter values over time."""

    def __init__(self, site: SiteSpec, seed: int = 42) -> None:
        self.site = site
        self.seed = seed
        self.tz = ZoneInfo(site.timezone)
        shares = load_shares()
        self._status_shares = shares["status"]
        self._barrier_shares = shares["barriers"]
        self._mix = shares["category_mix"]
        self._day_cache: dict[tuple[str, date], list[Job]] = {}
        self._opening_cache: dict[date, tuple[int, int] | None] = {}
        self._date_of_hour: dict[int, date] = {}

    # ---- opening hours
    def opening(self, day: date) -> tuple[int, int] | None:
        if day not in self._opening_cache:
            hours = self.site.opening_hours.get(day.weekday())
            window = None
            if hours is not None:
                midnight = datetime(day.year, day.month, day.day, tzinfo=self.tz)
                open_dt = midnight + timedelta(minutes=hours[0])
                close_dt = midnight + timedelta(minutes=hours[1])
                window = int(open_dt.timestamp() * 1000), int(close_dt.timestamp() * 1000)
            self._opening_cache[day] = window
        return self._opening_cache[day]

    def local_date(self, ts_ms: int) -> date:
        # Time zones change offset on whole hours, so the local date is constant within a UTC hour.
        hour = ts_ms // 3_600_000
        found = self._date_of_hour.get(hour)
        if found is None:
            found = datetime.fromtimestamp(hour * 3600, self.tz).date()
            self._date_of_hour[hour] = found
        return found

    def is_open(self, ts_ms: int) -> bool:
        window = self.opening(self.local_date(ts_ms))
        return window is not None and window[0] <= ts_ms < window[1]

    def _next_opening(self, day: date) -> tuple[int, int]:
        for ahead in range(1, 8):
            window = self.opening(day + timedelta(days=ahead))
            if window is not None:
                return window
        raise ValueError(f"site {self.site.id} never opens")

    # ---- jobs
    def jobs_on(self, bench: BenchSpec, day: date) -> list[Job]:
        key = (bench.id, day)
        if key not in self._day_cache:
            self._day_cache[key] = self._generate(bench, day)
        return self._day_cache[key]

    def _generate(self, bench: BenchSpec, day: date) -> list[Job]:
        window = self.opening(day)
        if window is None:
            return []
        open_ms, close_ms = window
        rng = random.Random(f"{self.seed}|{self.site.id}|{bench.id}|{day.isoformat()}")
        jobs: list[Job] = []
        t = open_ms + CARRY_SLOT_MS + rng.randint(0, 15) * MINUTE_MS
        n = 0
        while t < close_ms - 20 * MINUTE_MS:
            n += 1
            minutes = max(5.0, rng.lognormvariate(math.log(bench.median_minutes), 0.45))
            start = t
            end = start + int(minutes * MINUTE_MS)
            pauses: list[tuple[int, int]] = []
            if rng.random() < 0.3:
                pause_at = start + int((end - start) * rng.uniform(0.3, 0.7))
                pause_len = rng.randint(5, 20) * MINUTE_MS
                pauses.append((pause_at, pause_at + pause_len))
                end += pause_len
            if end > close_ms:
                # Carried over: paused at closing, resumed at the next opening (across midnight).
                paused_at = close_ms - CARRY_MARGIN_MS
                remaining = min(end - paused_at, CARRY_SLOT_MS - 10 * MINUTE_MS)
                next_open, _ = self._next_opening(day)
                pauses = [p for p in pauses if p[1] <= paused_at]
                pauses.append((paused_at, next_open + CARRY_MARGIN_MS))
                end = next_open + CARRY_MARGIN_MS + remaining
            jobs.append(self._make_job(bench, day, n, rng, start, tuple(pauses), end, open_ms))
            if end > close_ms:
                break
            t = end + rng.randint(2, 15) * MINUTE_MS
        return jobs

    def _make_job(
        self,
        bench: BenchSpec,
        day: date,
        n: int,
        rng: random.Random,
        start: int,
        pauses: tuple[tuple[int, int], ...],
        end: int,
        open_ms: int,
    ) -> Job:
        weights = [self._mix.get("_categories", {}).get(c, 0.0) or 1.0 for c in bench.categories]
        category = rng.choices(bench.categories, weights=weights)[0]
        reference = find_category(category)
        ref_weight = reference.weight_kg if reference and reference.weight_kg else 2.0
        measured = rng.random() < 0.7
        weight = round(ref_weight * rng.lognormvariate(0, 0.3), 2) if measured else None
        status: RepairStatus | None = RepairStatus(_pick(rng, self._status_shares.get(category, {"Fixed": 1.0})))
        barrier: Barrier | None = None
        outcome: ReuseOutcome | None = None
        if status is RepairStatus.END_OF_LIFE:
            barriers = self._barrier_shares.get(category)
            if barriers and rng.random() < 0.6:
                barrier = Barrier(_pick(rng, barriers))
        if bench.reuse_centre:
            if status is RepairStatus.END_OF_LIFE:
                outcome = ReuseOutcome.PARTS_HARVESTED if rng.random() < 0.5 else ReuseOutcome.RECYCLED
            elif rng.random() < 0.2:
                # Sorted as good enough to sell without a repair.
                status, outcome = None, ReuseOutcome.REUSED_AS_IS
        item_id = f"{self.site.id[:3].upper()}-{day:%Y%m%d}-{bench.id}-{n:02d}"
        checkin = max(open_ms, start - rng.randint(1, 30) * MINUTE_MS)
        return Job(item_id, bench.id, category, weight, checkin, start, pauses, end, status, barrier, outcome)

    def jobs_between(self, start_ms: int, end_ms: int) -> Iterator[Job]:
        """Jobs with a start in [start_ms, end_ms), bench by bench, in start order."""
        first = datetime.fromtimestamp(start_ms / 1000, self.tz).date() - timedelta(days=1)
        last = datetime.fromtimestamp(end_ms / 1000, self.tz).date()
        for bench in self.site.benches:
            day = first
            while day <= last:
                for job in self.jobs_on(bench, day):
                    if start_ms <= job.start_ms < end_ms:
                        yield job
                day += timedelta(days=1)

    def bench_states(self, bench: BenchSpec, day: date) -> list[StationEvent]:
        """The bench opened (``idle``) at opening time and ``closed`` at closing time, as its station reports."""
        window = self.opening(day)
        if window is None:
            return []
        prefix = f"{self.site.id[:3].upper()}-{day:%Y%m%d}-{bench.id}"
        return [
            StationEvent(
                event_id=f"{prefix}-{name}",
                ts_ms=ts_ms,
                station=bench.id,
                type=EventType.STATE,
                state=state,
                source="simulator",
            )
            for name, ts_ms, state in (
                ("open", window[0], StationState.IDLE),
                ("closed", window[1], StationState.CLOSED),
            )
        ]

    def events_between(self, start_ms: int, end_ms: int) -> list[StationEvent]:
        """Every event with a time in [start_ms, end_ms), in time order."""
        events: list[StationEvent] = []
        for job in self.jobs_between(start_ms - 8 * DAY_MS, end_ms):
            events.extend(e for e in job.events() if start_ms <= e.ts_ms < end_ms)
        first = datetime.fromtimestamp(start_ms / 1000, self.tz).date()
        last = datetime.fromtimestamp(end_ms / 1000, self.tz).date()
        for bench in self.site.benches:
            day = first
            while day <= last:
                events.extend(e for e in self.bench_states(bench, day) if start_ms <= e.ts_ms < end_ms)
                day += timedelta(days=1)
        events.sort(key=lambda e: (e.ts_ms, e.event_id))
        return events

    def active_job(self, bench: BenchSpec, ts_ms: int) -> Job | None:
        day = self.local_date(ts_ms)
        # A job started today, or carried over from the previous opening day (at most 3 days back).
        for d in (day, day - timedelta(days=1), day - timedelta(days=2), day - timedelta(days=3)):
            for job in self.jobs_on(bench, d):
                if job.start_ms <= ts_ms < job.finish_ms:
                    return job
        return None

    # ---- loads
    def bench_power_w(self, bench: BenchSpec, ts_ms: int) -> float:
        slot = ts_ms // 10_000
        wobble = noise(self.seed + bench.unit_id, slot)
        job = self.active_job(bench, ts_ms)
        if job is not None and job.working_at(ts_ms):
            # Tools run in bursts: between 30 % and 170 % of the mean draw.
            return round(bench.tool_w * (0.3 + 1.4 * wobble) + bench.idle_w, 1)
        if self.is_open(ts_ms):
            return round(bench.idle_w * (0.8 + 0.4 * wobble), 1)
        return round(1.5 + wobble, 1)  # standby overnight

    def deferrable_power_w(self, load: DeferrableSpec, ts_ms: int) -> float:
        """What the deferrable load draws when nothing holds it back: on for its duty share of each period."""
        if not self.is_open(ts_ms):
            return 0.0
        period_ms = load.period_min * 60_000
        day = self.local_date(ts_ms).toordinal()
        phase = (ts_ms + noise(self.seed + 13, day) * period_ms) % period_ms
        return load.kw * 1000 if phase < load.duty * period_ms else 0.0

    def main_power_w(self, ts_ms: int) -> float:
        return round(self.base_power_w(ts_ms) + sum(self.deferrable_power_w(d, ts_ms) for d in self.site.deferrable), 1)

    def base_power_w(self, ts_ms: int) -> float:
        """The main meter without the deferrable loads: what a peak guard cannot shed."""
        slot = ts_ms // 10_000
        wobble = noise(self.seed, slot)
        load = self.site.base_load_w * (0.9 + 0.2 * wobble)
        if self.is_open(ts_ms):
            load += self.site.open_load_w * (0.85 + 0.3 * noise(self.seed + 7, slot // 6))
        load += sum(self.bench_power_w(b, ts_ms) for b in self.site.benches)
        return load

    def power_w(self, device: str, ts_ms: int) -> float:
        if device == self.site.main_meter_id:
            return self.main_power_w(ts_ms)
        for bench in self.site.benches:
            if bench.id == device:
                return self.bench_power_w(bench, ts_ms)
        raise KeyError(f"site {self.site.id} has no device {device!r}")

    @property
    def devices(self) -> list[str]:
        return [self.site.main_meter_id, *(b.id for b in self.site.benches)]


class EnergyIntegrator:
    """Import-energy counters (kWh) that advance with the simulated power, per device."""

    def __init__(self, workshop: Workshop, start_ms: int, initial_kwh: dict[str, float] | None = None) -> None:
        self.workshop = workshop
        self.ts_ms = start_ms
        self.kwh = {d: (initial_kwh or {}).get(d, 1000.0 if d == "main" else 50.0) for d in workshop.devices}

    def advance(self, to_ms: int, step_ms: int = 10_000) -> None:
        while self.ts_ms < to_ms:
            step = min(step_ms, to_ms - self.ts_ms)
            for device in self.kwh:
                self.kwh[device] += self.workshop.power_w(device, self.ts_ms) * step / 3_600_000_000
            self.ts_ms += step
