"""ORDS records <-> station events and stored ``repair_event`` points, keeping every ORDS field.

The wire contract has no place for the ORDS-only columns, and they do not belong there (a
bench never sends them). So an import yields a ``finished`` ``StationEvent`` plus
``extra_fields``: InfluxDB fields the collector adds to that event's point (docs/ords.md):

``ords_id``, ``data_provider``, ``country``, ``partner_category``, ``group_identifier``;
``problem`` / ``brand`` when the text is longer than the contract allows (the event carries it cut);
``ords_barrier`` when a barrier is given on a status other than End of life (the contract refuses that).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from collector.ords.records import OrdsRecord
from shopfloor.contract import Barrier, EventType, RepairStatus, StationEvent, find_category

IMPORT_SOURCE = "ords-import"
_SHORT_TEXT = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_MAX_PROBLEM = 2000
_MAX_BRAND = 100
# Noon UTC falls on the same calendar date in every European time zone.
_NOON_UTC_MS = 12 * 3_600_000

StoredValue = str | int | float


@dataclass(frozen=True, slots=True)
class OrdsImport:
    event: StationEvent
    extra_fields: dict[str, StoredValue]


def import_event_id(record: OrdsRecord) -> str:
    """Stable per provider and ORDS id, so importing a file twice writes each repair once."""
    digest = hashlib.sha1(f"{record.data_provider}\x1f{record.id}".encode(), usedforsecurity=False).hexdigest()
    return f"ords-{digest[:24]}"


def to_import(record: OrdsRecord, station: str) -> OrdsImport:
    event_id = import_event_id(record)
    extra: dict[str, StoredValue] = {
        "ords_id": record.id,
        "data_provider": record.data_provider,
        "country": record.country,
        "partner_category": record.partner_product_category,
    }
    if record.group_identifier is not None:
        extra["group_identifier"] = record.group_identifier
    barrier = record.repair_barrier_if_end_of_life
    if barrier is not None and record.repair_status is not RepairStatus.END_OF_LIFE:
        extra["ords_barrier"] = barrier.value
        barrier = None
    if record.problem is not None and len(record.problem) > _MAX_PROBLEM:
        extra["problem"] = record.problem
    if record.brand is not None and len(record.brand) > _MAX_BRAND:
        extra["brand"] = record.brand
    day_ms = int(datetime.combine(record.event_date, datetime.min.time(), UTC).timestamp() * 1000)
    event = StationEvent(
        event_id=event_id,
        ts_ms=day_ms + _NOON_UTC_MS,
        station=station,
        type=EventType.FINISHED,
        item_id=record.id if _SHORT_TEXT.match(record.id) else event_id,
        category=record.product_category,
        repair_status=record.repair_status,
        barrier=barrier,
        brand=None if record.brand is None else record.brand[:_MAX_BRAND],
        product_age=record.product_age,
        year_of_manufacture=record.year_of_manufacture,
        problem=None if record.problem is None else record.problem[:_MAX_PROBLEM],
        source=IMPORT_SOURCE,
    )
    return OrdsImport(event, extra)


def stored_point(event: StationEvent, extra_fields: Mapping[str, StoredValue]) -> dict[str, StoredValue]:
    """The tags and fields a ``repair_event`` point holds (docs/storage.md), flat, plus ``ts_ms``.

    This is the shape ``to_record`` reads back: the collector's writer and its export query
    must agree with it.
    """
    point: dict[str, StoredValue] = {"ts_ms": event.ts_ms, "station": event.station, "type": event.type.value}
    for name, value in event.model_dump(exclude_none=True, mode="json").items():
        if name not in {"ts_ms", "station", "type"}:
            point[name] = value
    point.update(extra_fields)
    return point


def _text(point: Mapping[str, StoredValue], name: str) -> str | None:
    value = point.get(name)
    return None if value is None or value == "" else str(value)


def to_record(
    point: Mapping[str, StoredValue], *, site: str, data_provider: str, country: str, timezone: str
) -> OrdsRecord | None:
    """An ORDS row for a stored finished repair, or None for an item that was no repair (reuse only).

    Live bench events have no ORDS-only fields: the site's configured provider and country,
    the category as partner category, and the site as group fill them.
    """
    status_text = _text(point, "repair_status")
    if point.get("type") != EventType.FINISHED.value or status_text is None:
        return None
    category = find_category(str(point["category"])) if _text(point, "category") else None
    barrier_text = _text(point, "barrier") or _text(point, "ords_barrier")
    ts_ms = int(point["ts_ms"])
    if _text(point, "ords_id") is not None:
        event_date = datetime.fromtimestamp(ts_ms / 1000, UTC).date()
    else:
        event_date = datetime.fromtimestamp(ts_ms / 1000, ZoneInfo(timezone)).date()
    year = point.get("year_of_manufacture")
    age = point.get("product_age")
    return OrdsRecord(
        id=_text(point, "ords_id") or _text(point, "item_id") or str(point["event_id"]),
        data_provider=_text(point, "data_provider") or data_provider,
        country=_text(point, "country") or country,
        partner_product_category=_text(point, "partner_category") or (category.name if category else "Misc"),
        product_category=category.name if category else None,
        product_category_id=category.ords_id if category else None,
        brand=_text(point, "brand"),
        year_of_manufacture=None if year is None else int(year),
        product_age=None if age is None else float(age),
        repair_status=RepairStatus(status_text),
        repair_barrier_if_end_of_life=None if barrier_text is None else Barrier(barrier_text),
        group_identifier=_text(point, "group_identifier") or site,
        event_date=event_date,
        problem=_text(point, "problem"),
    )
