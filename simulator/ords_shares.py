"""Outcome shares by category, derived from real ORDS data, so simulated benches fail and succeed as real ones do.

The table ships as ``simulator/data/ords_shares.json``; :func:`derive_shares` rebuilds it from
the ORDS export and the unpowered aggregate (tests check the shipped table against the CSVs).
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from importlib import resources
from pathlib import Path

from shopfloor.contract import find_category

STATUSES = ("Fixed", "Repairable", "End of life", "Unknown")
BARRIERS_KEY = "_barriers"

Shares = dict[str, dict[str, float]]


def _normalise(counts: dict[str, Counter[str]]) -> Shares:
    out: Shares = {}
    for category, counter in sorted(counts.items()):
        total = sum(counter.values())
        if total:
            out[category] = {key: round(n / total, 4) for key, n in sorted(counter.items())}
    return out


def derive_shares(powered_csv: Path, unpowered_csv: Path) -> dict[str, Shares]:
    status: dict[str, Counter[str]] = defaultdict(Counter)
    barriers: dict[str, Counter[str]] = defaultdict(Counter)
    weights: dict[str, Counter[str]] = defaultdict(Counter)
    with powered_csv.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            category = find_category(row["product_category"])
            if category is None or row["repair_status"] not in STATUSES:
                continue
            status[category.name][row["repair_status"]] += 1
            weights["_categories"][category.name] += 1
            if row["repair_barrier_if_end_of_life"]:
                barriers[category.name][row["repair_barrier_if_end_of_life"]] += 1
    with unpowered_csv.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            category = find_category(row["product_category"])
            if category is None or row["repair_status"] not in STATUSES:
                continue
            status[category.name][row["repair_status"]] += int(row["total"])
    return {
        "status": _normalise(status),
        "barriers": _normalise(barriers),
        "category_mix": _normalise(weights),
    }


def load_shares() -> dict[str, Shares]:
    text = resources.files("simulator").joinpath("data/ords_shares.json").read_text(encoding="utf-8")
    data: dict[str, Shares] = json.loads(text)
    return data


if __name__ == "__main__":  # regenerate the shipped table: python -m simulator.ords_shares <ords dir>
    import sys

    folder = Path(sys.argv[1])
    table = derive_shares(
        folder / "OpenRepairData_v0.3_RestartProject_202204.csv", folder / "OpenRepairData_v0.3_unpowered_202507.csv"
    )
    out = Path(__file__).with_name("data") / "ords_shares.json"
    out.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {out}")
