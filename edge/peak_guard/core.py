"""The peak guard's decisions, pure: meter samples and the clock in, shed/restore decisions out.

Rules, in the order they are applied on each tick (docs/peak-guard.md):

1. A quarter that ended updates the month's peak (the KPI definitions of ``peak_15min``); a new
   local month starts with no peak.
2. A technician's override wins while it lasts; when it expires the load returns to the guard.
3. Safety first: a load shed for ``max_off_s``, or inside its ``never_between`` window, is restored.
4. If the forecast passes the target (minus ``margin_kw``), loads are shed from the end of the list
   (least important first), skipping loads on for less than ``min_on_s`` or in their window, until
   their kW over the time left covers the excess.
5. Otherwise the most important shed load is restored when the forecast *with* it stays
   ``restore_margin_kw`` under the target.

Restores happen one per ``settle_s`` at most, so a restart or a quarter's end never releases every
load at once; sheds wait ``settle_s`` after the last shed, so the meter shows its effect first.
While the meter is stale (silent ``stale_after_s``) the guard neither sheds nor restores on power,
since it cannot see; only the safety restores of rule 3 still apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from edge.peak_guard.settings import LoadSettings, PeakGuardSettings
from shopfloor.kpi.energy import QUARTER_HOUR_MS, MeterSample, quarter_hour_demand_kw, segments
from shopfloor.kpi.quarter import QuarterForecast, local_month, quarter_forecast, quarter_start_ms

ActionKind = Literal["shed", "restore", "quarter_end", "override", "override_end"]


@dataclass
class LoadState:
    shed: bool = False
    since_ms: int = 0  # when the guard last switched it; 0: never
    override_on: bool | None = None  # an override applied to it, until override_until_ms
    override_until_ms: int = 0


@dataclass
class GuardState:
    month: str = ""
    month_peak_kw: float | None = None
    quarter_start_ms: int = 0
    samples: list[MeterSample] = field(default_factory=list)  # the running quarter, and the one before it
    loads: dict[str, LoadState] = field(default_factory=dict)
    last_shed_ms: int = 0
    last_restore_ms: int = 0


@dataclass(frozen=True, slots=True)
class Override:
    on: bool
    until_ms: int


@dataclass(frozen=True, slots=True)
class Decision:
    ts_ms: int
    action: ActionKind
    load: str | None
    quarter_start_ms: int
    forecast_kw: float | None
    average_kw: float | None
    target_kw: float
    month_peak_kw: float | None
    reason: str


def _in_window(load: LoadSettings, now_ms: int, zone: ZoneInfo) -> bool:
    local = datetime.fromtimestamp(now_ms / 1000, zone)
    minute = local.hour * 60 + local.minute
    for start, end in load.windows():
        inside = start <= minute < end if start < end else minute >= start or minute < end
        if inside:
            return True
    return False


class PeakGuard:
    def __init__(self, settings: PeakGuardSettings) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)
        self.max_gap_ms = int(settings.stale_after_s * 1000)

    def new_state(self) -> GuardState:
        return GuardState(loads={load.id: LoadState() for load in self.settings.loads})

    def target_kw(self, state: GuardState) -> float:
        target = self.settings.target
        if target.kind == "fixed":
            assert target.kw is not None
            return max(target.kw, target.floor_kw)
        return max(state.month_peak_kw or 0.0, target.floor_kw)

    def observe(self, state: GuardState, sample: MeterSample) -> None:
        if sample.power_w is None and sample.energy_kwh is None:
            return
        if state.samples and sample.ts_ms <= state.samples[-1].ts_ms:
            return  # a clock step back: keep the samples in order
        state.samples.append(sample)

    def _end_quarters(self, state: GuardState, now_ms: int, out: list[Decision]) -> None:
        current = quarter_start_ms(now_ms)
        if not state.month:
            state.month = local_month(current, self.settings.timezone)
        if state.quarter_start_ms and current > state.quarter_start_ms:
            ended = state.quarter_start_ms
            demand = quarter_hour_demand_kw(segments(state.samples, self.max_gap_ms)).get(ended)
            counts = demand is not None and local_month(ended, self.settings.timezone) == state.month
            if counts and (state.month_peak_kw is None or (demand or 0.0) > state.month_peak_kw):
                state.month_peak_kw = demand
            reason = "quarter complete" if demand is not None else "quarter not fully measured: not counted"
            out.append(
                Decision(
                    now_ms,
                    "quarter_end",
                    None,
                    ended,
                    demand,
                    demand,
                    self.target_kw(state),
                    state.month_peak_kw,
                    reason,
                )
            )
        if state.quarter_start_ms != current:
            month = local_month(current, self.settings.timezone)
            if month != state.month:
                state.month, state.month_peak_kw = month, None
            state.quarter_start_ms = current
        before = [s for s in state.samples if s.ts_ms < current]
        state.samples = before[-1:] + [s for s in state.samples if s.ts_ms >= current]

    def decide(self, state: GuardState, now_ms: int, overrides: dict[str, Override] | None = None) -> list[Decision]:
        """Update ``state`` for ``now_ms`` and return what to do; the caller switches, persists, publishes."""
        out: list[Decision] = []
        self._end_quarters(state, now_ms, out)
        forecast = quarter_forecast(state.samples, now_ms, self.max_gap_ms)
        target = self.target_kw(state)
        settings = self.settings
        for load in settings.loads:
            state.loads.setdefault(load.id, LoadState())

        def decision(action: ActionKind, load: str | None, reason: str) -> Decision:
            return Decision(
                now_ms,
                action,
                load,
                forecast.slot_start_ms,
                forecast.forecast_kw,
                forecast.average_kw,
                target,
                state.month_peak_kw,
                reason,
            )

        def switch(load: LoadSettings, shed: bool, action: ActionKind, reason: str) -> None:
            ls = state.loads[load.id]
            ls.shed, ls.since_ms = shed, now_ms
            if shed:
                state.last_shed_ms = now_ms
            else:
                state.last_restore_ms = now_ms
            out.append(decision(action, load.id, reason))

        overridden: set[str] = set()
        for load in settings.loads:
            ls = state.loads[load.id]
            wanted = (overrides or {}).get(load.id)
            if wanted is not None and wanted.until_ms > now_ms:
                overridden.add(load.id)
                if ls.override_on != wanted.on or ls.override_until_ms != wanted.until_ms:
                    ls.override_on, ls.override_until_ms = wanted.on, wanted.until_ms
                    until = datetime.fromtimestamp(wanted.until_ms / 1000, self.zone).strftime("%H:%M")
                    switch(load, not wanted.on, "override", f"technician: {'on' if wanted.on else 'off'} until {until}")
            elif ls.override_on is not None:
                ls.override_on, ls.override_until_ms = None, 0
                out.append(decision("override_end", load.id, "override expired: the guard decides again"))

        may_restore = now_ms - state.last_restore_ms >= settings.settle_s * 1000
        guarded = [load for load in settings.loads if load.id not in overridden]
        for load in sorted(guarded, key=lambda ld: state.loads[ld.id].since_ms):
            ls = state.loads[load.id]
            if not ls.shed or not may_restore:
                continue
            if now_ms - ls.since_ms >= load.max_off_s * 1000:
                switch(load, False, "restore", f"off for its max_off_s ({load.max_off_s:.0f} s)")
                may_restore = False
            elif _in_window(load, now_ms, self.zone):
                switch(load, False, "restore", f"never shed between {', '.join(load.never_between)}")
                may_restore = False

        stale = not state.samples or now_ms - state.samples[-1].ts_ms > self.max_gap_ms
        if stale or forecast.forecast_kw is None:
            return out
        left = (forecast.slot_end_ms - now_ms) / QUARTER_HOUR_MS
        limit = target - settings.target.margin_kw
        excess = forecast.forecast_kw - limit
        if excess > 0:
            if now_ms - state.last_shed_ms < settings.settle_s * 1000:
                return out
            saved = 0.0
            for load in reversed(guarded):
                ls = state.loads[load.id]
                if saved >= excess:
                    break
                if ls.shed or _in_window(load, now_ms, self.zone):
                    continue
                if ls.since_ms and now_ms - ls.since_ms < load.min_on_s * 1000:
                    continue
                switch(load, True, "shed", self._why(forecast, limit))
                saved += load.kw * left
            return out
        if not may_restore:
            return out
        for load in guarded:
            ls = state.loads[load.id]
            if not ls.shed:
                continue
            with_load = forecast.forecast_kw + load.kw * left
            if with_load <= limit - settings.restore_margin_kw:
                switch(load, False, "restore", f"room: forecast with it {with_load:.2f} kW <= {limit:.2f} kW")
            break  # the most important first: a smaller one does not jump the queue
        return out

    @staticmethod
    def _why(forecast: QuarterForecast, limit: float) -> str:
        return f"forecast {forecast.forecast_kw or 0:.2f} kW > {limit:.2f} kW"
