"""Per-item outcome terms, hand-computed from the Restarters method and the ORDS LCA table."""

from __future__ import annotations

import pytest

from shopfloor.contract import RepairStatus, ReuseOutcome
from shopfloor.contract.categories import EMISSION_RATIO_POWERED, EMISSION_RATIO_UNPOWERED
from shopfloor.kpi import outcome_fields


def test_fixed_laptop_with_measured_weight() -> None:
    f = outcome_fields(RepairStatus.FIXED, None, "Laptop", 2.0)
    assert (f.final, f.fixed, f.returned_to_use) == (1, 1, 1)
    assert f.kg == 2.0 and f.kg_diverted == 2.0 and f.kg_returned == 2.0
    assert f.co2e_kg == pytest.approx(265.32 * 0.5)  # footprint is per category, not per kg


def test_fixed_laptop_without_weight_uses_category_reference() -> None:
    f = outcome_fields(RepairStatus.FIXED, None, "Laptop", None)
    assert f.kg == 1.83 and f.kg_diverted == 1.83


def test_end_of_life_counts_nothing_diverted() -> None:
    f = outcome_fields(RepairStatus.END_OF_LIFE, ReuseOutcome.PARTS_HARVESTED, "Kettle", None)
    assert (f.fixed, f.end_of_life, f.returned_to_use) == (0, 1, 0)
    assert f.kg_diverted == 0.0 and f.co2e_kg == 0.0 and f.kg == 1.25


def test_reused_as_is_is_returned_to_use_but_not_a_repair() -> None:
    f = outcome_fields(None, ReuseOutcome.REUSED_AS_IS, "Furniture", 30.0)
    assert f.returned_to_use == 1 and f.kg_returned == 30.0
    assert (f.fixed, f.repairable, f.end_of_life, f.unknown) == (0, 0, 0, 0)
    assert f.co2e_kg == 0.0


def test_no_status_and_no_outcome_is_unknown() -> None:
    f = outcome_fields(None, None, "Toaster", None)
    assert f.unknown == 1 and f.fixed == 0


def test_misc_fixed_uses_emission_ratio_on_measured_weight() -> None:
    f = outcome_fields(RepairStatus.FIXED, None, "Misc", 3.0)
    assert f.co2e_kg == pytest.approx(3.0 * EMISSION_RATIO_POWERED * 0.5)


def test_other_unpowered_fixed_uses_unpowered_ratio() -> None:
    f = outcome_fields(RepairStatus.FIXED, None, "Other unpowered", 2.0)
    assert f.co2e_kg == pytest.approx(2.0 * EMISSION_RATIO_UNPOWERED * 0.5)
