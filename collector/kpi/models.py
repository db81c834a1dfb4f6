"""The KPI API's answers as pydantic models: what ``/docs`` shows and what docs/kpis.md promises.

The numbers inside come from the pure definitions of ``shopfloor.kpi`` (their dataclasses are the rows
here). A rate with a zero denominator is ``null``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shopfloor.kpi.compare import SiteComparison
from shopfloor.kpi.energy import BaseLoad, DailyEnergy, ItemEnergy, MonthlyPeak
from shopfloor.kpi.rates import FixRate, RepairTime, ThroughputBucket


class _Answer(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class ItemKpis(_Answer):
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


class StationEnergy(_Answer):
    meter: str = Field(description="device id of the meter the figures come from")
    kwh: float | None
    days: list[DailyEnergy]
    base_load: BaseLoad | None = Field(description="null when the site has no opening hours configured")
    peaks: list[StationPeak]
    per_item: ItemEnergy
    kwh_per_item: float | None


class SiteEnergy(StationEnergy):
    """The main meter's figures: the grid connection's peaks carry the capacity tariff's ``billed_kw``."""

    peaks: list[MonthlyPeak]  # type: ignore[assignment]
    capacity_limit_kw: float | None


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


class Comparison(_Answer):
    start: str = Field(alias="from")
    to: str
    sites: list[SiteComparison]
