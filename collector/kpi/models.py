"""The KPI API's answers as pydantic models: what ``/docs`` shows and what docs/kpis.md promises.

The numbers inside come from the pure definitions of ``shopfloor.kpi`` (their dataclasses are the rows
here). A rate with a zero denominator is ``null``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shopfloor.kpi.compare import ClusterTotals, SiteComparison, SiteRank
from shopfloor.kpi.energy import BaseLoad, DailyEnergy, ItemEnergy, OpenLoad
from shopfloor.kpi.rates import FixRate, RepairTime, ThroughputBucket


class _Answer(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class ItemKpis(_Answer):
    checked_in: int = Field(description="items checked in during the range (the report's 'items in')")
    finished: int = Field(description="items with a final outcome (Fixed, Repairable, End of life)")
    fixed: int
    repairable: int
    end_of_life: int
    unknown: int
    fix_rate: float | None = Field(description="Fixed / (Fixed + Repairable + End of life)")
    unknown_share: float | None
    returned_to_use: int
    reuse_rate_items: float | None
    kg: float
    kg_returned: float
    reuse_rate_kg: float | None
    kg_diverted: float
    co2e_kg: float
    median_bench_minutes: float | None
    bench_hours: float = Field(description="staffed bench-hours in the range (docs/kpis.md)")
    items_per_bench_hour: float | None
    repair_time: list[RepairTime]


class StationPeak(_Answer):
    """A bench sub-meter's own monthly peak: the capacity tariff belongs to the grid connection, not to it."""

    month: str
    peak_kw: float
    slot_start: str


class SitePeak(StationPeak):
    """The grid connection's monthly peak, with the capacity tariff's basis and its estimated cost."""

    billed_kw: float = Field(description="max(peak_kw, 2.5): the Flemish capacity tariff's basis")
    cost_eur: float | None = Field(description="billed_kw x capacity_tariff_eur_per_kw_year / 12; null without a rate")


class StationEnergy(_Answer):
    meter: str = Field(description="device id of the meter the figures come from")
    kwh: float | None
    days: list[DailyEnergy]
    base_load: BaseLoad | None = Field(description="null when the site has no opening hours configured")
    open_load: OpenLoad | None = Field(description="mean power while open; null without opening hours")
    peaks: list[StationPeak]
    demand_profile: list[list[float | None]] = Field(description="mean kW per local weekday (Monday first) x hour")
    per_item: ItemEnergy
    kwh_per_item: float | None


class SiteEnergy(StationEnergy):
    """The main meter's figures: the grid connection's peaks carry the capacity tariff."""

    peaks: list[SitePeak]  # type: ignore[assignment]
    capacity_limit_kw: float | None
    capacity_tariff_eur_per_kw_year: float | None


class _Kpis(_Answer):
    site: str
    start: str = Field(alias="from", description="RFC 3339, UTC")
    to: str
    timezone: str
    bucket: str
    items: ItemKpis
    throughput: list[ThroughputBucket]


class SiteKpis(_Kpis):
    energy: SiteEnergy


class StationKpis(_Kpis):
    station: str
    energy: StationEnergy


class CategoryKpis(_Answer):
    site: str
    start: str = Field(alias="from")
    to: str
    categories: dict[str, FixRate]
    repair_time: list[RepairTime]
    barriers: dict[str, int] = Field(description="end-of-life items per ORDS barrier, most frequent first")


class Comparison(_Answer):
    start: str = Field(alias="from")
    to: str
    sites: list[SiteComparison]
    totals: ClusterTotals = Field(description="the cluster's sums, and its ratios from those sums")
    ranking: list[SiteRank] = Field(description="sites with too little data are listed with the reason, never ranked")


class GapOut(_Answer):
    start: str = Field(alias="from")
    to: str
    hours: float


class MeterQuality(_Answer):
    device: str
    uptime: float | None
    measured_hours: float
    range_hours: float
    gaps: int
    gap_hours: float
    longest_gaps: list[GapOut]


class DataQuality(_Answer):
    site: str
    start: str = Field(alias="from")
    to: str
    meters: list[MeterQuality]
    items_finished: int
    items_unknown_outcome: int
    items_open: int
    dead_letters: dict[str, int] = Field(description="dead letters received in the range, per kind")
