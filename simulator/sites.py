"""The simulated workshops: an electrical-repair shop, a textile atelier and a furniture remake workshop.

Loads are chosen to look like real urban workshops: a few hundred watts of base load at
night (fridge, network, standby), lights/ventilation/heating while open, and bench tools
drawing power only during repairs (soldering station and bench supply; sewing machines and
irons; sanders, saws and drills).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# Monday=0 .. Sunday=6 -> (open minute, close minute) in local time.
OpeningHours = dict[int, tuple[int, int]]

WEEKDAYS_9_TO_17: OpeningHours = dict.fromkeys(range(5), (9 * 60, 17 * 60))
ATELIER_HOURS: OpeningHours = {**dict.fromkeys(range(1, 6), (10 * 60, 18 * 60))}
WORKSHOP_HOURS: OpeningHours = {**dict.fromkeys(range(5), (8 * 60, 16 * 60 + 30)), 5: (9 * 60, 13 * 60)}


@dataclass(frozen=True, slots=True)
class BenchSpec:
    id: str
    unit_id: int
    profile: str  # the sub-meter's profile name (edge/profiles)
    categories: tuple[str, ...]
    tool_w: float  # mean tool draw while repairing
    idle_w: float  # bench standby while the site is open
    median_minutes: float  # median bench time per item
    reuse_centre: bool = False  # also records reuse outcomes (reused as-is, parts harvested, recycled)


@dataclass(frozen=True, slots=True)
class SiteSpec:
    id: str
    name: str
    kind: str
    benches: tuple[BenchSpec, ...]
    base_load_w: float
    open_load_w: float
    opening_hours: OpeningHours = field(default_factory=lambda: dict(WEEKDAYS_9_TO_17))
    main_unit_id: int = 1
    main_profile: str = "eastron-sdm630"
    timezone: str = "Europe/Brussels"

    @property
    def main_meter_id(self) -> str:
        return "main"

    def opening_hours_text(self) -> str:
        """The opening hours as collector.yaml's ``sites.<id>.opening_hours`` spells them."""
        days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        return "; ".join(
            f"{days[day]} {opens // 60:02d}:{opens % 60:02d}-{closes // 60:02d}:{closes % 60:02d}"
            for day, (opens, closes) in sorted(self.opening_hours.items())
        )


ELECTRICAL = SiteSpec(
    id="gent-repair",
    name="Gent electrical repair shop",
    kind="electrical",
    base_load_w=180.0,
    open_load_w=1400.0,
    opening_hours=dict(WEEKDAYS_9_TO_17),
    benches=(
        BenchSpec(
            "bench-1",
            2,
            "eastron-sdm120",
            ("Laptop", "Mobile", "Tablet", "Desktop computer", "PC accessory", "Flat screen"),
            95.0,
            12.0,
            55.0,
        ),
        BenchSpec(
            "bench-2",
            3,
            "eastron-sdm120",
            ("Small kitchen item", "Toaster", "Kettle", "Coffee maker", "Vacuum", "Food processor", "Iron"),
            160.0,
            10.0,
            40.0,
        ),
        BenchSpec(
            "bench-3",
            4,
            "carlogavazzi-em340",
            ("Lamp", "Portable radio", "Hi-Fi separates", "Headphones", "Power tool", "Toy"),
            120.0,
            10.0,
            45.0,
        ),
    ),
)

TEXTILE = SiteSpec(
    id="brussels-textile",
    name="Brussels textile atelier",
    kind="textile",
    base_load_w=120.0,
    open_load_w=900.0,
    opening_hours=dict(ATELIER_HOURS),
    benches=(
        BenchSpec("sewing-1", 2, "eastron-sdm120", ("Textile",), 110.0, 8.0, 35.0, reuse_centre=True),
        BenchSpec("sewing-2", 3, "eastron-sdm120", ("Textile",), 110.0, 8.0, 35.0, reuse_centre=True),
        BenchSpec("pressing", 4, "carlogavazzi-em340", ("Textile",), 650.0, 15.0, 20.0, reuse_centre=True),
    ),
)

FURNITURE = SiteSpec(
    id="mechelen-furniture",
    name="Mechelen furniture remake workshop",
    kind="furniture",
    base_load_w=260.0,
    open_load_w=2200.0,
    opening_hours=dict(WORKSHOP_HOURS),
    benches=(
        BenchSpec("joinery", 2, "carlogavazzi-em340", ("Furniture",), 850.0, 20.0, 150.0, reuse_centre=True),
        BenchSpec("upholstery", 3, "eastron-sdm120", ("Furniture", "Textile"), 220.0, 10.0, 120.0, reuse_centre=True),
        BenchSpec(
            "finishing", 4, "carlogavazzi-em340", ("Furniture", "Hand tool"), 600.0, 15.0, 90.0, reuse_centre=True
        ),
    ),
)

TEMPLATES = (ELECTRICAL, TEXTILE, FURNITURE)


def default_sites(count: int = 3) -> list[SiteSpec]:
    """``count`` sites cycling through the three kinds; ids get a number from the fourth on."""
    if count < 1:
        raise ValueError("at least one site")
    sites = []
    for i in range(count):
        template = TEMPLATES[i % len(TEMPLATES)]
        round_ = i // len(TEMPLATES)
        if round_ == 0:
            sites.append(template)
        else:
            sites.append(replace(template, id=f"{template.id}-{round_ + 1}", name=f"{template.name} {round_ + 1}"))
    return sites
