"""The same read of several sites as one ``GROUP BY`` statement (``collector.kpi.merge``): each statement's
answer, cut out of the merged one, is what that statement alone returns from a real influxd."""

from __future__ import annotations

import pytest

from collector.influx.client import Series
from collector.influx.v1 import InfluxV1Client
from collector.kpi import merge
from collector.kpi.merge import Select
from collector.kpi.queries import KpiQueries, Range
from collector.kpi.summaries import ask
from collector.settings import InfluxV1Settings
from tests.harness.influx import CountingClient, InfluxTestDB

T_MS = 1_763_900_000_000
MINUTE = 60_000


def test_a_shape_asked_once_is_its_own_statement_and_text_is_kept() -> None:
    one = KpiQueries.events_select("a", Range(T_MS, T_MS + MINUTE))
    sent = merge.plan([(one, False), ("SELECT 1", True)])
    assert sent == [(one.text(), False, [0]), ("SELECT 1", True, [1])]
    assert one.text() == KpiQueries.events_statement("a", Range(T_MS, T_MS + MINUTE))


def test_statements_of_one_shape_merge_by_tags_and_tolerance() -> None:
    window = Range(T_MS, T_MS + MINUTE)
    a, b = (KpiQueries.samples_select(site, "m", window, True) for site in ("a", "b"))
    other_window = KpiQueries.samples_select("c", "m", Range(T_MS, T_MS + 2 * MINUTE), True)
    sent = merge.plan([(a, True), (other_window, True), (b, True), (b, False)])
    assert [indexes for _, _, indexes in sent] == [[0, 2], [1], [3]]
    text = sent[0][0]
    assert "((site = 'a' AND device = 'm') OR (site = 'b' AND device = 'm'))" in text
    assert text.endswith("GROUP BY site, device")


def test_group_by_time_and_limit_keep_their_places() -> None:
    heads = [KpiQueries.minutes_select(site, "m", Range(T_MS, T_MS + 5 * MINUTE)) for site in ("a", "b")]
    assert merge.merged_text(heads).endswith("GROUP BY time(1m), site, device fill(none)")
    near = [KpiQueries.neighbour_select(site, "m", T_MS, True, True) for site in ("a", "b")]
    assert merge.merged_text(near).endswith("GROUP BY site, device ORDER BY time DESC LIMIT 1")


def test_split_gives_each_its_series_and_nothing_to_a_tag_set_without_rows() -> None:
    selects = [Select("SELECT x FROM m", (("site", site),)) for site in ("a", "b", "a")]
    answer = [Series("m", ["time", "x"], [[1, 2]], {"site": "a"}), Series("m", ["time", "x"], [[3, 4]], {"site": "z"})]
    parts = merge.split(selects, answer)
    assert parts[0] == parts[2] == [Series("m", ["time", "x"], [[1, 2]])]
    assert parts[1] == []


@pytest.mark.integration
def test_merged_answers_equal_each_statement_alone(influx_db: InfluxTestDB) -> None:
    """Raw and per-minute reads, neighbours (ORDER BY … LIMIT 1), minutes aggregated on the fly, events with a
    station: three sites and a site without data, in one request, against each statement sent alone."""
    lines = []
    for k, site in enumerate(("a", "b", "c")):
        for i in range(0, 600, 7 + k):
            at = (T_MS + i * 1000) * 1_000_000
            lines.append(f"meter,site={site},device=m power={i + k}.5,energy_import={i / 100 + k},seq={i}i {at}")
            lines.append(f"meter,site={site},device=n power={i}.25,seq={i}i {at}")
        for i in range(3):
            at = (T_MS + (k * 3 + i) * 50_000) * 1_000_000
            lines.append(
                f'repair_event,site={site},station=s{i % 2},type=started item_id="i{i}",event_id="e{k}{i}" {at}'
            )
    influx_db.write("\n".join(lines), precision="ns")
    client = InfluxV1Client(InfluxV1Settings(url=influx_db.url, database=influx_db.database))
    window = Range(T_MS + 30_000, T_MS + 400_000)
    statements: list[tuple[str | Select, bool]] = []
    for site in ("a", "b", "c", "none"):
        for device in ("m", "n"):
            statements.append((KpiQueries.samples_select(site, device, window, False), False))
            statements.append((KpiQueries.minutes_select(site, device, window), False))
            for before in (True, False):
                statements.append((KpiQueries.neighbour_select(site, device, T_MS + 200_000, before, False), False))
        statements.append((KpiQueries.events_select(site, window), False))
        statements.append((KpiQueries.events_select(site, window, "s1"), False))
    counting = CountingClient(client)
    merged = ask(counting, statements)
    assert counting.requests == 1 and counting.statements == 6, "one statement per shape"
    alone = [client.series(merge.text_of(statement), epoch="ms") for statement, _ in statements]
    assert sum(len(one.values) for answer in alone for one in answer) > 200, "the data must be read to prove anything"
    assert [[(one.columns, one.values) for one in answer] for answer in merged] == [
        [(one.columns, one.values) for one in answer] for answer in alone
    ]
