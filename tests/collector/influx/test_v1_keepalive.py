"""The plain-http write path (collector/influx/v1.py's one keep-alive connection) against a real influxd."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from collector.drain.delivery import RetryLater, deliver
from collector.influx.v1 import InfluxV1Client
from collector.settings import InfluxV1Settings
from simulator.services import Influxd

pytestmark = pytest.mark.integration

T = 1763900000000000000


def count(url: str, db: str) -> int:
    answer = httpx.post(f"{url}/query", data={"q": "SELECT count(power) FROM meter", "db": db}).json()
    series = answer["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def test_writes_survive_influxd_closing_the_kept_connection(tmp_path: Path) -> None:
    """influxd restarted between two writes: the kept connection is dead, the write goes on a new one."""
    with Influxd(tmp_path / "influxd") as influxd:
        httpx.post(f"{influxd.url}/query", data={"q": 'CREATE DATABASE "keep"'}).raise_for_status()
        client = InfluxV1Client(InfluxV1Settings(url=influxd.url, database="keep"))
        try:
            assert client.write([f"meter,site=s power=1.5 {T}"]).ok
            influxd.stop()
            with pytest.raises(RetryLater):  # away: the drainer keeps the points and retries
                deliver(client, [f"meter,site=s power=2.5 {T + 1}"])
            influxd.start()
            assert client.write([f"meter,site=s power=2.5 {T + 1}"]).ok
            influxd.stop()
            influxd.start()
            assert client.write([f"meter,site=s power=3.5 {T + 2}"]).ok  # its kept connection was closed
            assert count(influxd.url, "keep") == 3
        finally:
            client.close()


def test_an_error_answer_on_the_kept_connection_is_read_whole(tmp_path: Path) -> None:
    with Influxd(tmp_path / "influxd") as influxd:
        client = InfluxV1Client(InfluxV1Settings(url=influxd.url, database="absent"))
        try:
            for _ in range(2):  # the same connection, after an error answer
                answer = client.write([f"meter,site=s power=1.5 {T}"])
                assert answer.status == 404 and "database not found" in answer.text
        finally:
            client.close()


def test_queries_survive_influxd_closing_the_kept_connection_and_ask_from_two_threads(tmp_path: Path) -> None:
    """Queries go over a kept connection per thread: influxd restarted between two queries, the next one asks
    again on a new connection; away, the query says so; two threads at once each get their own answer."""
    from concurrent.futures import ThreadPoolExecutor

    from collector.influx.client import InfluxQueryError, InfluxUnreachable

    with Influxd(tmp_path / "influxd") as influxd:
        httpx.post(f"{influxd.url}/query", data={"q": 'CREATE DATABASE "keep"'}).raise_for_status()
        client = InfluxV1Client(InfluxV1Settings(url=influxd.url, database="keep"))
        try:
            assert client.write([f"meter,site=s power=1.5 {T}", f"meter,site=t power=2.5 {T}"]).ok
            assert client.query("SELECT power FROM meter WHERE site = 's'")[0]["power"] == 1.5
            influxd.stop()
            with pytest.raises(InfluxUnreachable):
                client.query("SELECT power FROM meter")
            influxd.start()
            assert client.query("SELECT power FROM meter WHERE site = 's'")[0]["power"] == 1.5
            influxd.stop()
            influxd.start()  # the kept connection is closed now
            packed = client.series_many(["SELECT power FROM meter WHERE site = 't'"], epoch="ms", packed=True)
            assert packed[0][0].values == [[T // 1_000_000, 2.5]]
            with pytest.raises(InfluxQueryError, match="error parsing query"):
                client.query("SELEC nothing")
            with ThreadPoolExecutor(max_workers=2) as pool:
                answers = list(
                    pool.map(
                        lambda site: client.query(f"SELECT power FROM meter WHERE site = '{site}'")[0]["power"],
                        ["s", "t"] * 20,
                    )
                )
            assert answers == [1.5, 2.5] * 20
        finally:
            client.close()
