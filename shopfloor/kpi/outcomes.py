"""What one finished item counts for: the per-item terms that the fix rate, the reuse rate, kg diverted and CO2e add up.

Sources (docs/kpis.md): ORDS v0.3 ``repair_status``; the Restarters "Fixometer"
(``restarters.net:app/Device.php``): only Fixed items count toward CO2e, at the category's
manufacturing footprint x 0.5; the weight is the measured one, else the category reference.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from shopfloor.contract import Category, RepairStatus, ReuseOutcome, find_category
from shopfloor.contract.categories import EMISSION_RATIO_POWERED

# A repair is assumed to displace half of a new manufacture (Restarters DISPLACEMENT_VALUE).
DISPLACEMENT_FACTOR = 0.5


# ``OutcomeFields``' fields in their order: the derived fields of a stored ``finished`` point (docs/storage.md).
OUTCOME_TERMS = (
    "final",
    "fixed",
    "repairable",
    "end_of_life",
    "unknown",
    "returned_to_use",
    "kg",
    "kg_returned",
    "kg_diverted",
    "co2e_kg",
)


@dataclass(frozen=True, slots=True)
class OutcomeFields:
    """Stored on every ``finished`` event (docs/storage.md); sums of these are the KPIs."""

    final: int
    fixed: int
    repairable: int
    end_of_life: int
    unknown: int
    returned_to_use: int
    kg: float
    kg_returned: float
    kg_diverted: float
    co2e_kg: float

    def as_fields(self) -> dict[str, int | float]:
        return asdict(self)


def reference_weight_kg(category: Category | None, measured_kg: float | None) -> float:
    """The measured weight when there is one, else the category's reference weight, else 0."""
    if measured_kg is not None:
        return measured_kg
    if category is not None and category.weight_kg is not None:
        return category.weight_kg
    return 0.0


def _footprint_kgco2e(category: Category | None, weight_kg: float) -> float:
    if category is not None and category.footprint_kgco2e is not None:
        return category.footprint_kgco2e
    # Misc and unknown categories: footprint from weight, at the powered or unpowered ratio.
    ratio = category.emission_ratio if category is not None else EMISSION_RATIO_POWERED
    return weight_kg * ratio


def outcome_fields(
    repair_status: RepairStatus | None,
    outcome: ReuseOutcome | None,
    category_name: str | None,
    measured_kg: float | None,
) -> OutcomeFields:
    category = find_category(category_name) if category_name else None
    # An item finished with only a reuse outcome (reused as-is, never repaired) is no repair
    # attempt: it stays out of the fix rate. One with neither is a repair of unknown result.
    status = repair_status if (repair_status is not None or outcome is not None) else RepairStatus.UNKNOWN
    fixed = int(status is RepairStatus.FIXED)
    returned = int(fixed == 1 or outcome is ReuseOutcome.REUSED_AS_IS)
    kg = reference_weight_kg(category, measured_kg)
    return OutcomeFields(
        final=1,
        fixed=fixed,
        repairable=int(status is RepairStatus.REPAIRABLE),
        end_of_life=int(status is RepairStatus.END_OF_LIFE),
        unknown=int(status is RepairStatus.UNKNOWN),
        returned_to_use=returned,
        kg=kg,
        kg_returned=kg if returned else 0.0,
        kg_diverted=kg if fixed else 0.0,
        co2e_kg=_footprint_kgco2e(category, kg) * DISPLACEMENT_FACTOR if fixed else 0.0,
    )
