"""Several InfluxQL statements in one /query request (``series_many``), against a real influxd."""

from __future__ import annotations

import pytest

from collector.influx.client import InfluxQueryError
from collector.influx.v1 import InfluxV1Client
from collector.kpi.queries import RECENT_MS, KpiQueries
from collector.settings import InfluxV1Settings
from tests.harness.influx import CountingClient, InfluxTestDB

pytestmark = pytest.mark.integration

T_MS = 1763900000000


def client_for(db: InfluxTestDB) -> InfluxV1Client:
    return InfluxV1Client(InfluxV1Settings(url=db.url, database=db.database))


def test_each_statement_gets_its_own_answer_in_order(influx_db: InfluxTestDB) -> None:
    influx_db.write(
        "\n".join(f"meter,site=s{k},device=m power={k}.5,seq={k}i {(T_MS + k) * 1_000_000}" for k in range(3)),
        precision="ns",
    )
    client = client_for(influx_db)
    answers = client.series_many(
        [f"SELECT power FROM meter WHERE site = 's{k}'" for k in (2, 0, 1)]
        + ["SELECT power FROM meter WHERE site = 'x'"],
        epoch="ms",
    )
    assert [[row[1] for one in answer for row in one.values] for answer in answers] == [[2.5], [0.5], [1.5], []]
    assert client.series_many([]) == []


def test_a_refused_statement_raises_and_names_itself(influx_db: InfluxTestDB) -> None:
    client = client_for(influx_db)
    with pytest.raises(InfluxQueryError, match="nosuchrp"):
        client.series_many(["SELECT power FROM meter", 'SELECT power FROM "nosuchrp"."meter"'])


def test_last_data_of_several_sites_in_one_request_equals_one_site_at_a_time(influx_db: InfluxTestDB) -> None:
    influx_db.write(
        "\n".join(
            [
                f"meter,site=a,device=m seq=1i {T_MS * 1_000_000}",
                f"meter,site=a,device=n seq=2i {(T_MS + 5_000) * 1_000_000}",
                f'repair_event,site=a,station=s1 event_id="e1" {(T_MS + 9_000) * 1_000_000}',
                f"meter,site=b,device=m seq=3i {(T_MS + 1_000) * 1_000_000}",
                f'repair_event,site=b,station=s1 event_id="e2" {(T_MS + 99_000) * 1_000_000}',
                f"meter,site=ab,device=m seq=3i {(T_MS + 7_000) * 1_000_000}",
            ]
        ),
        precision="ns",
    )
    queries = KpiQueries(client_for(influx_db))
    sites = ["a", "b", "c"]
    for until in (T_MS + 6_000, T_MS + 60_000, T_MS + 200_000):
        together = queries.last_data_by_site(sites, until)
        assert together == {site: queries.last_data_ms(site, until) for site in sites}
    assert queries.last_data_by_site(sites, T_MS + 60_000) == {"a": T_MS + 9_000, "b": T_MS + 1_000, "c": None}


def test_last_data_looks_in_the_recent_days_first_then_further_back(influx_db: InfluxTestDB) -> None:
    """Newest data within ``RECENT_MS``: one request. A site whose newest reading or event is older: a second
    request for it alone, and the same answer as ``last_data_ms``."""
    long_ago = T_MS - RECENT_MS - 86_400_000
    influx_db.write(
        "\n".join(
            [
                f"meter,site=a,device=m seq=1i {T_MS * 1_000_000}",
                f'repair_event,site=a,station=s1 event_id="e1" {(T_MS + 9_000) * 1_000_000}',
                f"meter,site=old,device=m seq=2i {long_ago * 1_000_000}",
                f'repair_event,site=old,station=s1 event_id="e2" {(T_MS + 1_000) * 1_000_000}',
            ]
        ),
        precision="ns",
    )
    counting = CountingClient(client_for(influx_db))
    queries = KpiQueries(counting)
    until = T_MS + 60_000
    assert queries.last_data_by_site(["a"], until) == {"a": T_MS + 9_000}
    assert (counting.requests, counting.statements) == (1, 2)
    counting.requests = counting.statements = 0
    sites = ["a", "old", "none"]
    found = queries.last_data_by_site(sites, until)
    # The second round asks only what the first did not find: old's and none's readings, none's events.
    assert (counting.requests, counting.statements) == (2, 4)
    assert found == {"a": T_MS + 9_000, "old": T_MS + 1_000, "none": None}
    assert found == {site: queries.last_data_ms(site, until) for site in sites}
    assert queries.last_data_by_site(["old"], long_ago + 1) == {"old": long_ago}
    assert queries.last_data_by_site(["old"], long_ago) == {"old": None}


def test_packed_answers_equal_json_answers(influx_db: InfluxTestDB) -> None:
    """MessagePack answers (the KPI read model's rounds) read as the JSON ones: the same series, tags, columns
    and values, every field type and nulls; a float field's whole number is a float (JSON gives an int)."""
    influx_db.write(
        "\n".join(
            [
                f'meter,site=a,device=m power=2.0,energy_import=1.25,seq=7i,ok=true,note="x y" {T_MS * 1_000_000}',
                f"meter,site=a,device=n power=3.5 {(T_MS + 1_000) * 1_000_000}",
                f"meter,site=b,device=m power=-1e-5,seq=-3i {(T_MS + 2_000) * 1_000_000}",
            ]
        ),
        precision="ns",
    )
    client = client_for(influx_db)
    statements = [
        "SELECT power, energy_import, seq, ok, note FROM meter",
        "SELECT power, seq FROM meter WHERE (site = 'a' OR site = 'b') GROUP BY site, device",
        "SELECT mean(power) FROM meter WHERE time >= 0 GROUP BY time(1s), site fill(none)",
        "SELECT power FROM meter WHERE site = 'nobody'",
    ]
    as_json = client.series_many(statements, epoch="ms")
    packed = client.series_many(statements, epoch="ms", packed=True)
    assert packed == as_json
    assert sum(len(one.values) for answer in packed for one in answer) >= 8
    assert packed[3] == []
    first = packed[0][0]
    assert type(first.values[0][first.columns.index("power")]) is float
    assert [type(value) for value in first.values[0][3:]] == [int, bool, str]
    with pytest.raises(InfluxQueryError, match="nosuchrp"):
        client.series_many(['SELECT power FROM "nosuchrp"."meter"'], epoch="ms", packed=True)
