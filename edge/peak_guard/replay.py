"""Replay: the guard's decisions over recorded demand, and what they would have changed (docs/peak-guard.md).

Input is a series of steps: the power the guard cannot shed, and what each deferrable load asked
for. Without the guard every load runs when it asks. With it, a shed load draws nothing, and what
it missed is owed: once restored, it runs at full power until it has caught up, as a heater on its
thermostat or a compressor on its pressure switch does. So the guard moves energy, never removes
it; a month's kWh stay the same, only the peaks change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from edge.peak_guard.core import PeakGuard
from edge.peak_guard.settings import PeakGuardSettings
from shopfloor.kpi.energy import MIN_BILLED_PEAK_KW, MeterSample, monthly_peaks, segments


@dataclass(frozen=True, slots=True)
class Step:
    ts_ms: int
    fixed_w: float  # what no guard can shed
    asked_w: Mapping[str, float]  # per deferrable load: what it would draw now if allowed


@dataclass
class LoadReport:
    sheds: int = 0
    off_ms: int = 0
    longest_off_ms: int = 0
    owed_kwh_at_end: float = 0.0


@dataclass(frozen=True, slots=True)
class MonthRow:
    month: str
    peak_without_kw: float
    peak_with_kw: float

    @property
    def billed_without_kw(self) -> float:
        return max(self.peak_without_kw, MIN_BILLED_PEAK_KW)

    @property
    def billed_with_kw(self) -> float:
        return max(self.peak_with_kw, MIN_BILLED_PEAK_KW)


@dataclass
class ReplayReport:
    months: list[MonthRow]
    loads: dict[str, LoadReport]
    kwh_without: float
    kwh_with: float
    decisions: int
    actions: list[tuple[int, str, str | None, str]] = field(default_factory=list)

    def yearly_saving_eur(self, eur_per_kw_year: float) -> float:
        """If every month went as the replayed ones: the capacity tariff bills the 12-month mean of peaks."""
        if not self.months:
            return 0.0
        saved_kw = sum(m.billed_without_kw - m.billed_with_kw for m in self.months) / len(self.months)
        return saved_kw * eur_per_kw_year


def replay(settings: PeakGuardSettings, steps: Iterable[Step], timezone: str | None = None) -> ReplayReport:
    """Run the guard over ``steps`` (in time order); the loads are the settings' load ids."""
    guard = PeakGuard(settings)
    state = guard.new_state()
    kw = {load.id: load.kw for load in settings.loads}
    owed_kwh = dict.fromkeys(kw, 0.0)
    reports = {name: LoadReport() for name in kw}
    without: list[MeterSample] = []
    with_guard: list[MeterSample] = []
    actions: list[tuple[int, str, str | None, str]] = []
    previous: int | None = None
    decisions = 0
    for step in steps:
        dt_h = 0.0 if previous is None else (step.ts_ms - previous) / 3_600_000
        dt_ms = 0 if previous is None else step.ts_ms - previous
        previous = step.ts_ms
        drawn = step.fixed_w
        for name, asked in step.asked_w.items():
            if name not in kw:
                drawn += asked  # not a guarded load: it just runs
                continue
            if state.loads[name].shed:
                owed_kwh[name] += asked / 1000 * dt_h
                reports[name].off_ms += dt_ms
                continue
            catch_up = min(kw[name] * 1000 - asked, owed_kwh[name] * 1000 / dt_h) if owed_kwh[name] and dt_h else 0.0
            owed_kwh[name] -= max(catch_up, 0.0) / 1000 * dt_h
            drawn += asked + max(catch_up, 0.0)
        without.append(MeterSample(step.ts_ms, step.fixed_w + sum(step.asked_w.values())))
        with_guard.append(MeterSample(step.ts_ms, drawn))
        guard.observe(state, with_guard[-1])
        for decision in guard.decide(state, step.ts_ms):
            decisions += 1
            if decision.action == "quarter_end":
                continue
            actions.append((decision.ts_ms, decision.action, decision.load, decision.reason))
            if decision.load is not None and decision.action == "shed":
                reports[decision.load].sheds += 1
        for name, load_state in state.loads.items():
            if load_state.shed:
                reports[name].longest_off_ms = max(reports[name].longest_off_ms, step.ts_ms - load_state.since_ms)
    for name, owed in owed_kwh.items():
        reports[name].owed_kwh_at_end = owed
    zone = timezone or settings.timezone
    before = {p.month: p.peak_kw for p in monthly_peaks(segments(without), zone)}
    after = {p.month: p.peak_kw for p in monthly_peaks(segments(with_guard), zone)}
    months = [MonthRow(m, before[m], after.get(m, 0.0)) for m in sorted(before)]
    return ReplayReport(months, reports, _kwh(without), _kwh(with_guard), decisions, actions)


def _kwh(samples: list[MeterSample]) -> float:
    return sum(seg.kwh or 0.0 for seg in segments(samples))
