"""An answer InfluxDB cut short at its ``[http] max-row-limit`` is an error that says so, never a short answer
(a real influxd with the limit set: grouped by site, the sites after the cut were missing altogether)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.influx.client import InfluxQueryError
from collector.influx.v1 import InfluxV1Client
from collector.settings import InfluxV1Settings
from simulator.services import Influxd
from tests.harness.influx import InfluxTestDB

pytestmark = pytest.mark.integration

T_NS = 1763900000000 * 1_000_000
LIMIT = 5


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxV1Client]:
    server = Influxd(Path(tmp_path_factory.mktemp("influxd-limited")), max_row_limit=LIMIT)
    with server:
        db = InfluxTestDB(server.url, "limited")
        db.create()
        db.write(
            "\n".join(f"meter,site=s{k % 2},device=m power={k}.5 {T_NS + k * 60_000_000_000}" for k in range(20)),
            precision="ns",
        )
        client = InfluxV1Client(InfluxV1Settings(url=server.url, database="limited"))
        try:
            yield client
        finally:
            client.close()


@pytest.mark.parametrize("packed", [False, True], ids=["json", "msgpack"])
@pytest.mark.parametrize("group", ["", " GROUP BY site"], ids=["one-series", "by-site"])
def test_an_answer_cut_at_the_row_limit_raises_and_says_which_setting(
    limited: InfluxV1Client, packed: bool, group: str
) -> None:
    statement = f"SELECT power FROM meter{group}"
    with pytest.raises(InfluxQueryError, match=r"max-row-limit = 0") as caught:
        limited.series_many(["SELECT count(power) FROM meter", statement], epoch="ms", packed=packed)
    assert statement in str(caught.value)


def test_answers_within_the_limit_still_come_whole(limited: InfluxV1Client) -> None:
    # The limit counts the rows of the whole request (2 + 2 here), not of each statement.
    counted, few = limited.series_many(
        ["SELECT count(power) FROM meter GROUP BY site", "SELECT power FROM meter WHERE site = 's0' LIMIT 2"],
        epoch="ms",
    )
    assert {one.tags["site"]: one.values[0][1] for one in counted} == {"s0": 10, "s1": 10}
    assert [row[1] for row in few[0].values] == [0.5, 2.5]
