"""ORDS columns and the spellings of ``repair_status`` and ``repair_barrier_if_end_of_life`` seen in the wild.

Sources: ``openrepair/datastandard:standard.rst`` (v0.3: codes 0-3 and 1-6, "code or text
accepted"), the published data ("No way to open the product") and the 2025 schema ("Too worn out").
"""

from __future__ import annotations

import re

from shopfloor.contract import Barrier, RepairStatus

COLUMNS: tuple[str, ...] = (
    "id",
    "data_provider",
    "country",
    "partner_product_category",
    "product_category",
    "product_category_id",
    "brand",
    "year_of_manufacture",
    "product_age",
    "repair_status",
    "repair_barrier_if_end_of_life",
    "group_identifier",
    "event_date",
    "problem",
)
REQUIRED: tuple[str, ...] = (
    "id",
    "data_provider",
    "country",
    "partner_product_category",
    "repair_status",
    "event_date",
)

_STATUS = {
    "0": RepairStatus.UNKNOWN,
    "unknown": RepairStatus.UNKNOWN,
    "1": RepairStatus.FIXED,
    "fixed": RepairStatus.FIXED,
    "repaired": RepairStatus.FIXED,
    "2": RepairStatus.REPAIRABLE,
    "repairable": RepairStatus.REPAIRABLE,
    "3": RepairStatus.END_OF_LIFE,
    "end of life": RepairStatus.END_OF_LIFE,
    "endoflife": RepairStatus.END_OF_LIFE,
    "eol": RepairStatus.END_OF_LIFE,
}

_BARRIER = {
    "1": Barrier.PARTS_NOT_AVAILABLE,
    "spare parts not available": Barrier.PARTS_NOT_AVAILABLE,
    "parts not available": Barrier.PARTS_NOT_AVAILABLE,
    "2": Barrier.PARTS_TOO_EXPENSIVE,
    "spare parts too expensive": Barrier.PARTS_TOO_EXPENSIVE,
    "parts too expensive": Barrier.PARTS_TOO_EXPENSIVE,
    "3": Barrier.NO_WAY_TO_OPEN,
    "no way to open product": Barrier.NO_WAY_TO_OPEN,
    "no way to open the product": Barrier.NO_WAY_TO_OPEN,
    "4": Barrier.NO_REPAIR_INFO,
    "repair information not available": Barrier.NO_REPAIR_INFO,
    "repair info not available": Barrier.NO_REPAIR_INFO,
    "5": Barrier.LACK_OF_EQUIPMENT,
    "lack of equipment": Barrier.LACK_OF_EQUIPMENT,
    "6": Barrier.TOO_WORN_OUT,
    "item too worn out": Barrier.TOO_WORN_OUT,
    "too worn out": Barrier.TOO_WORN_OUT,
}


# What the current ORA table schema (tableschema_aggregate_202507.json) allows; the contract keeps the
# spelling of the published data up to 2022. Import accepts both (_BARRIER above).
_EXPORT_BARRIER = {
    Barrier.NO_WAY_TO_OPEN: "No way to open product",
    Barrier.TOO_WORN_OUT: "Too worn out",
}


def export_barrier(barrier: Barrier) -> str:
    """The spelling an ORDS export writes: the 2025 table schema's."""
    return _EXPORT_BARRIER.get(barrier, barrier.value)


def _fold(text: str) -> str:
    """Case, separators, spacing and a trailing full stop do not matter: 'End-of-life.' is 'end of life'."""
    spaced = re.sub(r"[\s_\-]+", " ", text.strip().casefold()).rstrip(".")
    return spaced.removesuffix(".0")


def repair_status(text: str) -> RepairStatus:
    found = _STATUS.get(_fold(text))
    if found is None:
        known = ", ".join(s.value for s in RepairStatus)
        raise ValueError(f"repair_status {text!r} is not one of {known} (or their codes 0-3)")
    return found


def barrier(text: str) -> Barrier | None:
    if not text.strip():
        return None
    found = _BARRIER.get(_fold(text))
    if found is None:
        raise ValueError(f"repair_barrier_if_end_of_life {text!r} is not an ORDS barrier (text or code 1-6)")
    return found
