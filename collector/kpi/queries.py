"""What the KPI API and the ORDS export read from InfluxDB, as InfluxQL through the collector's InfluxDB client.

Rows come back as the inputs of ``shopfloor.kpi``: ``FinishedItem`` (from the derived fields stored on
``finished`` points), ``StoredEvent`` (for bench sessions) and ``MeterSample``. Meter data over long
ranges is read at one sample per minute, from ``rollup.meter_1m`` when the continuous query filled it,
else aggregated by InfluxDB on the fly, so a 30-day call moves 43 k rows per meter, not 1.3 M.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from collector.influx import schema
from collector.influx.client import InfluxClient, InfluxQueryError, Series, rows_of
from collector.kpi.merge import Select, Tags
from shopfloor.contract import EventType, StationState
from shopfloor.contract.topics import is_valid_id
from shopfloor.kpi.energy import MeterSample
from shopfloor.kpi.outcomes import OUTCOME_TERMS
from shopfloor.kpi.rates import FinishedItem, stored_item
from shopfloor.kpi.sessions import StoredEvent

# Up to this range, meter samples are read raw (one per reading); beyond, one per minute.
RAW_METER_RANGE_MS = 6 * 3_600_000
MINUTE_MS = 60_000
# Without a rollup, a piece's neighbouring sample is looked for this far from its boundary.
NEIGHBOUR_MS = 6 * 3_600_000
# A site's newest data is looked for in this last stretch first (``last_data_by_site``).
RECENT_MS = 7 * 86_400_000

OUTCOME_FIELDS = (*OUTCOME_TERMS, "bench_s")  # a finished point's derived fields


@dataclass(frozen=True, slots=True)
class Range:
    """Half-open ``[start_ms, end_ms)``."""

    start_ms: int
    end_ms: int

    def where(self) -> str:
        return f"time >= {self.start_ms}ms AND time < {self.end_ms}ms"


def checked_id(value: str) -> str:
    """Site, station and device ids are contract ids (no quotes possible); anything else is refused."""
    if not is_valid_id(value):
        raise ValueError(f"{value!r} is not a valid id")
    return value


def samples_of(series: list[Series], shift_ms: int) -> list[MeterSample]:
    """Straight from the answer's columns: a month is 43,000 rows a meter, so no dict per row."""
    samples: list[MeterSample] = []
    for one in series:
        at, power, energy = (one.columns.index(name) for name in ("time", "power", "energy_import"))
        samples.extend(
            MeterSample(
                int(row[at]) + shift_ms,
                None if row[power] is None else float(row[power]),
                None if row[energy] is None else float(row[energy]),
            )
            for row in one.values
        )
    return samples


_EVENT_TYPES = {kind.value: kind for kind in EventType}
_STATION_STATES = {state.value: state for state in StationState}


def neighbour_near(at_ms: int, before: bool) -> Range:
    """Where a neighbour is looked for in raw data when the rollup has none. A minute's row is dated at its
    end (the shift): the rows that end before and from ``at_ms``."""
    if before:
        return Range(at_ms - NEIGHBOUR_MS - MINUTE_MS, at_ms - MINUTE_MS)
    return Range(at_ms - MINUTE_MS, at_ms + NEIGHBOUR_MS)


def _tags(site: str, **more: str | None) -> Tags:
    """A statement's tag conditions: the site, then the others given (``None``: not filtered)."""
    return (("site", checked_id(site)), *((key, checked_id(value)) for key, value in more.items() if value is not None))


def _meter_source(per_minute: bool) -> str:
    if per_minute:
        return f'SELECT power, energy_import FROM "{schema.ROLLUP_RP}"."{schema.METER_1M}"'
    return "SELECT power, energy_import FROM meter"


class KpiQueries:
    """Every method raises ``collector.influx.client.InfluxError`` when InfluxDB cannot answer."""

    def __init__(self, client: InfluxClient) -> None:
        self.client = client

    def _series(self, statement: str) -> list[Series]:
        return self.client.series(statement, epoch="ms")

    def _rows(self, statement: str) -> list[dict[str, Any]]:
        return rows_of(self._series(statement))

    def _samples(self, statement: str, shift_ms: int) -> list[MeterSample]:
        return samples_of(self._series(statement), shift_ms)

    def finished_items(self, site: str, window: Range, station: str | None = None) -> list[FinishedItem]:
        return [item for item, _ in self.finished_with_ids(site, window, station)]

    def finished_with_ids(
        self, site: str, window: Range, station: str | None = None
    ) -> list[tuple[FinishedItem, str | None]]:
        """Each stored ``finished`` point as the KPI input, with its item id."""
        return self.finished_of(site, self._series(self.finished_statement(site, window, station)))

    @staticmethod
    def finished_statement(site: str, window: Range, station: str | None = None) -> str:
        return KpiQueries.finished_select(site, window, station).text()

    @staticmethod
    def finished_select(site: str, window: Range, station: str | None = None) -> Select:
        fields = ", ".join(OUTCOME_FIELDS)
        return Select(
            f"SELECT station, category, barrier, item_id, {fields} FROM repair_event",
            _tags(site, station=station),
            f"type = 'finished' AND {window.where()}",
        )

    @staticmethod
    def finished_of(site: str, series: list[Series]) -> list[tuple[FinishedItem, str | None]]:
        rows = rows_of(series)
        return [
            (
                stored_item(site, row.get("station") or "", int(row["time"]), row.get("category"), row),
                row.get("item_id"),
            )
            for row in rows
            if row.get("final") is not None
        ]

    def station_events(self, site: str, window: Range, station: str | None = None) -> list[StoredEvent]:
        """Station events without their payload details: enough for sessions and staffed time."""
        return self.events_of(self._series(self.events_statement(site, window, station)))

    @staticmethod
    def events_statement(site: str, window: Range, station: str | None = None) -> str:
        return KpiQueries.events_select(site, window, station).text()

    @staticmethod
    def events_select(site: str, window: Range, station: str | None = None) -> Select:
        return Select(
            "SELECT station, type, state, item_id, event_id FROM repair_event",
            _tags(site, station=station),
            window.where(),
        )

    @staticmethod
    def events_of(series: list[Series]) -> list[StoredEvent]:
        """Straight from the answer's columns, like ``samples_of``: a year's compare reads thousands of events.
        A row whose type or state is not the contract's is left out."""
        events: list[StoredEvent] = []
        for one in series:
            at, station, kind, state, item, event_id = (
                one.columns.index(name) if name in one.columns else None
                for name in ("time", "station", "type", "state", "item_id", "event_id")
            )
            assert at is not None
            for row in one.values:
                event_type = _EVENT_TYPES.get(row[kind]) if kind is not None else None
                state_value = row[state] if state is not None else None
                station_state = _STATION_STATES.get(state_value) if state_value else None
                if event_type is None or (state_value and station_state is None):
                    continue
                events.append(
                    StoredEvent(
                        str((row[event_id] if event_id is not None else None) or row[at]),
                        int(row[at]),
                        (row[station] if station is not None else None) or "",
                        event_type,
                        row[item] if item is not None else None,
                        station_state,
                    )
                )
        return events

    def meter_samples(self, site: str, device: str, window: Range, per_minute: bool | None = None) -> list[MeterSample]:
        """``per_minute``: read one sample a minute (True) or every raw one (False); by default, by the
        range's length. A piece of a long range is read as the whole range would be, so both agree."""
        if per_minute is None:
            per_minute = window.end_ms - window.start_ms > RAW_METER_RANGE_MS
        statement = self.samples_statement(site, device, window, per_minute)
        if not per_minute:
            return self._samples(statement, 0)
        # A minute's last counter value was read near the minute's end: date it there (the shift).
        try:
            samples = self._samples(statement, MINUTE_MS)
        except InfluxQueryError:
            samples = []  # no rollup policy (a database not made by init-db)
        return self.samples_with_head(site, device, window, samples)

    @staticmethod
    def samples_statement(site: str, device: str, window: Range, per_minute: bool) -> str:
        """Raw samples, or the rollup's minute rows (dated at the minute's start: shift them by a minute)."""
        return KpiQueries.samples_select(site, device, window, per_minute).text()

    @staticmethod
    def samples_select(site: str, device: str, window: Range, per_minute: bool) -> Select:
        return Select(_meter_source(per_minute), _tags(site, device=device), window.where())

    def samples_with_head(self, site: str, device: str, window: Range, samples: list[MeterSample]) -> list[MeterSample]:
        """The rollup's minute rows of ``window`` completed with what the rollup lacks before them."""
        statement = self.head_statement(site, device, window, samples)
        if statement is None:
            return samples
        return self._samples(statement, MINUTE_MS) + samples

    @staticmethod
    def head_statement(site: str, device: str, window: Range, samples: list[MeterSample]) -> str | None:
        """The continuous query rolls up only what arrives in time: history written later (a backfill, an
        ORDS-era import, a long outage) is aggregated on the fly, for the part of ``window`` before the
        rollup's first row in ``samples`` (None: nothing is missing)."""
        head_end = samples[0].ts_ms - MINUTE_MS if samples else window.end_ms
        if head_end - window.start_ms <= MINUTE_MS:
            return None
        return KpiQueries.minutes_select(site, device, Range(window.start_ms, head_end)).text()

    @staticmethod
    def minutes_select(site: str, device: str, window: Range) -> Select:
        """Raw samples aggregated per minute, as the rollup would have them."""
        return Select(
            "SELECT mean(power) AS power, last(energy_import) AS energy_import FROM meter",
            _tags(site, device=device),
            window.where(),
            group="time(1m)",
            fill="fill(none)",
        )

    def meter_neighbour(self, site: str, device: str, at_ms: int, before: bool, per_minute: bool) -> MeterSample | None:
        """The sample just before ``at_ms`` (or the first at or after it): the segment that crosses a piece's
        boundary. From the rollup, else from raw data near the boundary (a gap longer than that is a gap)."""
        statement = self.neighbour_statement(site, device, at_ms, before, per_minute)
        if per_minute:
            try:
                found = self._samples(statement, MINUTE_MS)
            except InfluxQueryError:
                found = []
        else:
            found = self._samples(statement, 0)
        return self.neighbour_of(site, device, at_ms, before, per_minute, found)

    @staticmethod
    def neighbour_statement(site: str, device: str, at_ms: int, before: bool, per_minute: bool) -> str:
        return KpiQueries.neighbour_select(site, device, at_ms, before, per_minute).text()

    @staticmethod
    def neighbour_select(site: str, device: str, at_ms: int, before: bool, per_minute: bool) -> Select:
        at = at_ms - MINUTE_MS if per_minute else at_ms  # a rollup row is dated at its minute's start
        return Select(
            _meter_source(per_minute),
            _tags(site, device=device),
            f"time < {at}ms" if before else f"time >= {at}ms",
            tail="ORDER BY time DESC LIMIT 1" if before else "LIMIT 1",
        )

    def neighbour_of(
        self, site: str, device: str, at_ms: int, before: bool, per_minute: bool, found: list[MeterSample]
    ) -> MeterSample | None:
        """The neighbour from ``neighbour_statement``'s answer, else (per minute) from raw data near ``at_ms``."""
        if not per_minute:
            return found[0] if found else None
        if found:
            return found[0]
        rows = self.meter_samples(site, device, neighbour_near(at_ms, before), per_minute=True)
        if not rows:
            return None
        return rows[-1] if before else rows[0]

    def checked_in_items(self, site: str, window: Range, station: str | None = None) -> set[str]:
        """Item ids checked in during the window (the reports' "items in")."""
        return self.checked_in_of(self._series(self.checked_in_statement(site, window, station)))

    @staticmethod
    def checked_in_statement(site: str, window: Range, station: str | None = None) -> str:
        where = f"site = '{checked_id(site)}' AND type = 'checked_in' AND {window.where()}"
        if station is not None:
            where += f" AND station = '{checked_id(station)}'"
        return f"SELECT item_id FROM repair_event WHERE {where}"

    @staticmethod
    def checked_in_of(series: list[Series]) -> set[str]:
        return {row["item_id"] for row in rows_of(series) if row.get("item_id")}

    def items_and_intake(
        self, site: str, window: Range, station: str | None = None
    ) -> tuple[list[tuple[FinishedItem, str | None]], set[str]]:
        """``finished_with_ids`` and ``checked_in_items`` of one window, in one request."""
        finished, checked_in = self.client.series_many(
            [self.finished_statement(site, window, station), self.checked_in_statement(site, window, station)],
            epoch="ms",
            packed=True,
        )
        return self.finished_of(site, finished), self.checked_in_of(checked_in)

    def last_data_by_site(self, sites: list[str], until_ms: int) -> dict[str, int | None]:
        """``last_data_ms`` of several sites in one request: the newest reading and event, ``GROUP BY site``.
        Looked for in the last ``RECENT_MS`` first (a statement opens only the shards of its range: a year of
        raw events is 53 of them); a site with nothing there is asked again without that bound."""
        newest: dict[str, int | None] = dict.fromkeys(sites)
        if not sites:
            return newest
        recent = f"time >= {until_ms - RECENT_MS}ms AND "
        pending = [(measurement, list(sites)) for measurement in ("meter", "repair_event")]
        for bound in (recent, ""):
            asked = [(measurement, chosen) for measurement, chosen in pending if chosen]
            if not asked:
                break
            statements = [self._last_statement(measurement, chosen, bound, until_ms) for measurement, chosen in asked]
            pending = []
            for (measurement, chosen), answer in zip(
                asked, self.client.series_many(statements, epoch="ms"), strict=True
            ):
                found: set[str] = set()
                for one in answer:
                    site = one.tags.get("site")
                    if site not in newest:
                        continue
                    at = one.columns.index("time")
                    for row in one.values:
                        newest[site] = max(newest[site] or 0, int(row[at]))
                        found.add(site)
                pending.append((measurement, [site for site in chosen if site not in found]))
        return newest

    @staticmethod
    def _last_statement(measurement: str, sites: list[str], bound: str, until_ms: int) -> str:
        chosen = "|".join(re.escape(checked_id(site)) for site in sites)
        field = "seq" if measurement == "meter" else "event_id"
        where = f"site =~ /^({chosen})$/ AND {bound}time < {until_ms}ms"
        return f"SELECT last({field}) FROM {measurement} WHERE {where} GROUP BY site"

    def last_data_ms(self, site: str, until_ms: int) -> int | None:
        newest: int | None = None
        for statement in (
            f"SELECT last(seq) FROM meter WHERE site = '{checked_id(site)}' AND time < {until_ms}ms",
            f"SELECT last(event_id) FROM repair_event WHERE site = '{checked_id(site)}' AND time < {until_ms}ms",
        ):
            for row in self._rows(statement):
                newest = max(newest or 0, int(row["time"]))
        return newest

    def devices(self, site: str) -> list[str]:
        """Meter device ids of a site, from the tag index."""
        rows = self._rows(f"SHOW TAG VALUES FROM meter WITH KEY = \"device\" WHERE site = '{checked_id(site)}'")
        return sorted({row["value"] for row in rows if isinstance(row.get("value"), str)})

    def sites(self) -> list[str]:
        """Sites that have data, from the tag index."""
        found: set[str] = set()
        for measurement in ("meter", "repair_event"):
            for row in self._rows(f'SHOW TAG VALUES FROM {measurement} WITH KEY = "site"'):
                # A tag that is not a contract id (written by another tool) is no site of ours.
                if isinstance(row.get("value"), str) and is_valid_id(row["value"]):
                    found.add(row["value"])
        return sorted(found)

    def stations(self, site: str) -> list[str]:
        """Stations of a site that have events, from the tag index."""
        rows = self._rows(f"SHOW TAG VALUES FROM repair_event WITH KEY = \"station\" WHERE site = '{checked_id(site)}'")
        return sorted({row["value"] for row in rows if isinstance(row.get("value"), str)})

    def finished_points(self, site: str, window: Range) -> list[dict[str, Any]]:
        """Whole ``finished`` points (tags and every field), as ``collector.ords.to_record`` reads them."""
        rows = self._rows(
            f"SELECT * FROM repair_event WHERE site = '{checked_id(site)}' AND type = 'finished' AND {window.where()}"
        )
        points: list[dict[str, Any]] = []
        for row in rows:
            point = {key: value for key, value in row.items() if value is not None and not key.startswith("_")}
            point["ts_ms"] = int(point.pop("time"))
            points.append(point)
        return points
