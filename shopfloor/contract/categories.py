"""Product categories: the ORDS v0.3 list plus the unpowered categories of reuse and remake shops.

Weights and manufacturing footprints come from the Restarters/ORDS LCA reference table
(``openrepair/tools:dat/ords_category_lca_reference.csv``) and, for unpowered items, from
``restarters.net`` migration ``2021_08_13_000439_update_lca_unpowered_categories``.
They feed the CO2e and kg-diverted KPIs (see docs/kpis.md).
"""

from __future__ import annotations

from dataclasses import dataclass

# kgCO2e per kg, used when a category has no reference footprint (Misc, "Other unpowered").
EMISSION_RATIO_POWERED = 32.06679233
EMISSION_RATIO_UNPOWERED = 17.70147059


@dataclass(frozen=True, slots=True)
class Category:
    """One product category as stored in InfluxDB (tag ``category``) and in ORDS exports."""

    name: str
    ords_id: int | None
    powered: bool
    weight_kg: float | None
    footprint_kgco2e: float | None

    @property
    def emission_ratio(self) -> float:
        return EMISSION_RATIO_POWERED if self.powered else EMISSION_RATIO_UNPOWERED


_ORDS: tuple[tuple[int, str, float, float], ...] = (
    (1, "Aircon/dehumidifier", 7.6, 99.41),
    (2, "Battery/charger/adapter", 1.65, 26.65),
    (3, "Decorative or safety lights", 0.46, 14.72),
    (4, "Desktop computer", 6.69, 414.17),
    (5, "Digital compact camera", 0.48, 29.73),
    (6, "DSLR/video camera", 0.59, 16.03),
    (7, "Fan", 3.9, 15.6),
    (8, "Flat screen", 8.268, 308.952),
    (9, "Hair & beauty item", 0.67, 10.28),
    (10, "Handheld entertainment device", 0.14, 22.71),
    (11, "Headphones", 0.4, 3.0),
    (12, "Hi-Fi integrated", 8.95, 186.5),
    (13, "Hi-Fi separates", 8.72, 123.86),
    (14, "Kettle", 1.25, 44.32),
    (15, "Lamp", 2.68, 14.96),
    (16, "Laptop", 1.83, 265.32),
    (17, "Large home electrical", 10.0, 26.65),
    (18, "Misc", 0.0, 0.0),
    (19, "Mobile", 0.15, 50.51),
    (20, "Musical instrument", 17.7, 109.5),
    (21, "Paper shredder", 3.8, 59.5),
    (22, "PC accessory", 0.44, 15.94),
    (23, "Portable radio", 2.06, 54.65),
    (24, "Power tool", 1.65, 26.65),
    (25, "Printer/scanner", 12.47, 100.69),
    (26, "Projector", 2.68, 57.58),
    (27, "Sewing machine", 8.6, 35.0),
    (28, "Small home electrical", 2.95, 30.9),
    (29, "Small kitchen item", 2.95, 30.9),
    (30, "Tablet", 0.77, 114.49),
    (31, "Toaster", 1.47, 8.13),
    (32, "Toy", 0.93, 10.4),
    (33, "TV and gaming-related accessories", 1.99, 51.33),
    (34, "Vacuum", 6.8, 36.01),
    (35, "Watch/clock", 1.3, 28.29),
    (36, "Coffee maker", 1.28, 17.5),
    (37, "Food processor", 2.95, 30.9),
    (38, "Games console", 3.22, 140.67),
    (39, "Hair dryer", 0.67, 10.28),
    (40, "Iron", 1.17, 11.0),
)

_UNPOWERED: tuple[tuple[str, float | None, float | None], ...] = (
    ("Furniture", 29.81, 67.13),
    ("Textile", 0.75, 20.32),
    ("Bicycle", 15.1, 149.6),
    ("Hand tool", 0.93, 4.67),
    ("Jewellery", 0.06, 59.19),
    ("Other unpowered", None, None),
)


def _build() -> dict[str, Category]:
    table: dict[str, Category] = {}
    for ords_id, name, weight, footprint in _ORDS:
        # Misc has no reference weight: its footprint comes from the measured weight instead.
        unknown = ords_id == 18
        table[name] = Category(
            name=name,
            ords_id=ords_id,
            powered=True,
            weight_kg=None if unknown else weight,
            footprint_kgco2e=None if unknown else footprint,
        )
    for unpowered_name, unpowered_weight, unpowered_footprint in _UNPOWERED:
        table[unpowered_name] = Category(unpowered_name, None, False, unpowered_weight, unpowered_footprint)
    return table


CATEGORIES: dict[str, Category] = _build()
_BY_FOLDED_NAME = {name.casefold(): cat for name, cat in CATEGORIES.items()}
_BY_ORDS_ID = {cat.ords_id: cat for cat in CATEGORIES.values() if cat.ords_id is not None}
# Spellings seen in ORDS aggregates and in the field, mapped to our canonical names.
_ALIASES = {
    "unpowered - furniture": "Furniture",
    "unpowered - textile": "Textile",
    "clothing/textile": "Textile",
    "clothing": "Textile",
    "textiles": "Textile",
    "unpowered - bicycle": "Bicycle",
    "unpowered - jewellery": "Jewellery",
    "unpowered - household": "Other unpowered",
    "unpowered - other": "Other unpowered",
}


def find_category(name_or_id: str | int) -> Category | None:
    """Look a category up by canonical name (any case), known alias, or ORDS id."""
    if isinstance(name_or_id, int):
        return _BY_ORDS_ID.get(name_or_id)
    text = name_or_id.strip()
    if text.isdigit():
        return _BY_ORDS_ID.get(int(text))
    folded = text.casefold()
    if folded in _ALIASES:
        return CATEGORIES[_ALIASES[folded]]
    return _BY_FOLDED_NAME.get(folded)
