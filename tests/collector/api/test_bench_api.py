"""Station events over HTTP and MQTT, the item index, open items and the KPI API, with real mosquitto and influxd."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings
from shopfloor.contract import Kind, build_topic
from simulator.services import Influxd, Mosquitto, wait_until
from tests.collector.traffic import Publisher, collector_yaml, load
from tests.harness.api import api_client
from tests.harness.influx import InfluxTestDB

pytestmark = pytest.mark.integration

SITE = "gent"
STATION = "bench-1"


def event(kind: str, item: str, ts_ms: int, **fields: Any) -> dict[str, Any]:
    return {"event_id": uuid.uuid4().hex, "ts_ms": ts_ms, "station": STATION, "type": kind, "item_id": item, **fields}


@pytest.fixture
def api(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxd: Influxd,
    influx_db: InfluxTestDB,
    run_collector: Callable[[CollectorSettings], CollectorRuntime],
) -> Iterator[tuple[TestClient, CollectorRuntime]]:
    config = collector_yaml(
        tmp_path / "c.yaml",
        collector_id=f"bench-{uuid.uuid4().hex[:6]}",
        broker_port=mosquitto.port,
        influx_url=influxd.url,
        database=influx_db.database,
    )
    config.write_text(
        config.read_text()
        + f"sites:\n  {SITE}:\n    opening_hours: 'mon-sun 08:00-18:00'\n    capacity_limit_kw: 20\n"
        + f"    bench_meters: {{{STATION}: plug-1}}\n"
    )
    settings = load(config)
    runtime = run_collector(settings)
    with api_client(settings, runtime) as client:
        yield client, runtime


def finished_points(db: InfluxTestDB) -> list[dict[str, Any]]:
    return db.query("SELECT * FROM repair_event WHERE type = 'finished'")


def test_http_events_are_idempotent_and_fill_category_and_bench_time(
    api: tuple[TestClient, CollectorRuntime], influx_db: InfluxTestDB
) -> None:
    client, _ = api
    t0 = (int(time.time()) - 3600) * 1000
    item = "bench-1-abc"
    checked_in = event("checked_in", item, t0, category="Laptop", weight_kg=2.5, brand="Lenovo")
    started = event("started", item, t0 + 60_000)
    paused = event("paused", item, t0 + 360_000)
    resumed = event("resumed", item, t0 + 420_000)
    answer = client.post(f"/api/sites/{SITE}/events", json=[checked_in, started, paused, resumed]).json()
    assert answer["accepted"] == [e["event_id"] for e in (checked_in, started, paused, resumed)]
    assert answer["rejected"] == [] and answer["duplicates"] == []

    [open_item] = client.get(f"/api/sites/{SITE}/stations/{STATION}/open-items").json()["items"]
    assert open_item["item_id"] == item and open_item["state"] == "working"
    assert open_item["category"] == "Laptop" and open_item["brand"] == "Lenovo" and open_item["weight_kg"] == 2.5

    # No category on the finished event: the collector takes it (and the weight) from the check-in.
    finished = event("finished", item, t0 + 720_000, repair_status="Fixed")
    assert client.post(f"/api/sites/{SITE}/events", json=[finished]).json()["accepted"] == [finished["event_id"]]
    again = client.post(f"/api/sites/{SITE}/events", json=[finished, checked_in]).json()
    assert again["accepted"] == [finished["event_id"], checked_in["event_id"]]
    assert again["duplicates"] == [finished["event_id"], checked_in["event_id"]]
    assert client.get(f"/api/sites/{SITE}/stations/{STATION}/open-items").json()["items"] == []

    wait_until(lambda: len(finished_points(influx_db)) == 1, 10, "finished event in InfluxDB")
    wait_until(lambda: influx_db.scalar("SELECT count(event_id) FROM repair_event") == 5, 10, "all five events")
    [point] = finished_points(influx_db)
    assert point["category"] == "Laptop" and point["repair_status"] == "Fixed"
    # started -> paused 300 s, resumed -> finished 300 s: the pause does not count.
    assert point["bench_s"] == 600.0 and point["kg"] == 2.5 and point["kg_diverted"] == 2.5

    kpis = client.get(f"/api/sites/{SITE}/kpis?days=2").json()
    assert kpis["site"] == SITE and set(kpis) >= {"from", "to", "items", "throughput", "energy"}
    items = kpis["items"]
    assert (items["finished"], items["fixed"], items["repairable"], items["unknown"]) == (1, 1, 0, 0)
    assert items["fix_rate"] == 1.0 and items["reuse_rate_items"] == 1.0 and items["kg_diverted"] == 2.5
    assert items["median_bench_minutes"] == 10.0
    assert items["co2e_kg"] == pytest.approx(265.32 * 0.5, rel=1e-3)
    # Staffed from check-in to finish, the short pause included: 12 minutes (docs/kpis.md).
    assert items["bench_hours"] == pytest.approx(720 / 3600)
    assert sum(bucket["items"] for bucket in kpis["throughput"]) == 1


def test_rejected_events_name_the_field_and_bad_bodies_are_422(api: tuple[TestClient, CollectorRuntime]) -> None:
    client, runtime = api
    now = int(time.time() * 1000)
    good = event("checked_in", "it-1", now, category="Toaster")
    bad = event("checked_in", "it-2", now, category="Toaster", weight_kg=-1)
    answer = client.post(f"/api/sites/{SITE}/events", json=[good, bad]).json()
    assert answer["accepted"] == [good["event_id"]]
    assert answer["rejected"] == [
        {"event_id": bad["event_id"], "field": "weight_kg", "reason": "Input should be greater than 0 (got -1)"}
    ]
    assert client.post(f"/api/sites/{SITE}/events", json={"not": "a list"}).status_code == 422
    assert client.post(f"/api/sites/{SITE}/events", json=[]).status_code == 422
    assert client.post("/api/sites/bad site/events", json=[good]).status_code == 422
    assert runtime.items.known(SITE, good["event_id"]) and not runtime.items.known(SITE, bad["event_id"])


def test_mqtt_and_http_feed_the_same_item_index(
    api: tuple[TestClient, CollectorRuntime], mosquitto: Mosquitto, influx_db: InfluxTestDB
) -> None:
    client, runtime = api
    t0 = (int(time.time()) - 7200) * 1000
    item = "mqtt-item-1"
    published = [
        event("checked_in", item, t0, category="Vacuum", weight_kg=6.0),
        event("started", item, t0 + 1000),
    ]
    publisher = Publisher(mosquitto.host, mosquitto.port)
    try:
        topic = build_topic(SITE, STATION, Kind.EVENT)
        publisher.publish_all([(topic, json.dumps(body).encode()) for body in published])
    finally:
        publisher.close()
    wait_until(lambda: runtime.items.known(SITE, published[1]["event_id"]), 10, "MQTT events in the item index")
    finished = event("finished", item, t0 + 1000 + 1_800_000, repair_status="End of life", barrier="Lack of equipment")
    client.post(f"/api/sites/{SITE}/events", json=[finished])
    wait_until(lambda: len(finished_points(influx_db)) == 1, 10, "finished event in InfluxDB")
    [point] = finished_points(influx_db)
    assert point["category"] == "Vacuum" and point["bench_s"] == 1800.0 and point["kg"] == 6.0
    categories = client.get(f"/api/sites/{SITE}/kpis/categories?days=1").json()["categories"]
    assert categories == {
        "Vacuum": {"fixed": 0, "repairable": 0, "end_of_life": 1, "unknown": 0, "fix_rate": 0.0, "unknown_share": 0.0}
    }


def test_station_kpis_take_bench_energy_from_its_meter(
    api: tuple[TestClient, CollectorRuntime], influx_db: InfluxTestDB
) -> None:
    client, _ = api
    t0 = (int(time.time()) // 60 - 180) * 60_000
    # plug-1 (the bench meter of bench-1 in collector.yaml): 600 W, its counter 0.01 kWh per minute.
    influx_db.write(
        "\n".join(
            f'meter,site={SITE},device=plug-1,edge=e power=600.0,energy_import={i / 100},quality="ok" {t0 + i * 60_000}'
            for i in range(61)
        )
    )
    item = "energy-1"
    body = [
        event("checked_in", item, t0, category="Kettle"),
        event("started", item, t0 + 10 * 60_000),
        event("finished", item, t0 + 40 * 60_000, repair_status="Fixed"),
    ]
    client.post(f"/api/sites/{SITE}/events", json=body)
    wait_until(lambda: len(finished_points(influx_db)) == 1, 10, "finished event in InfluxDB")
    start, end = t0 - 60_000, t0 + 120 * 60_000
    kpis = client.get(f"/api/sites/{SITE}/stations/{STATION}/kpis?from={start}&to={end}").json()
    assert kpis["station"] == STATION and kpis["energy"]["meter"] == "plug-1"
    # Staffed from check-in to finish (docs/kpis.md): 40 minutes, 30 of them in session.
    assert kpis["items"]["finished"] == 1 and kpis["items"]["bench_hours"] == pytest.approx(40 / 60)
    # 30 minutes in session at 0.01 kWh per minute.
    assert kpis["energy"]["per_item"] == {"kwh_per_item": pytest.approx(0.3), "items_known": 1, "items_unknown": 0}
    assert kpis["energy"]["kwh"] == pytest.approx(0.6)
    assert kpis["items"]["kg"] == pytest.approx(1.4, abs=0.6)  # the Kettle reference weight
    # The bench's own 15-minute peak; the capacity tariff and the limit belong to the grid connection.
    assert [set(peak) for peak in kpis["energy"]["peaks"]] == [{"month", "peak_kw", "slot_start"}]
    assert kpis["energy"]["peaks"][0]["peak_kw"] == pytest.approx(0.6)
    assert "capacity_limit_kw" not in kpis["energy"]
    # The site's main meter: 3 kW, billed at least 2.5 kW, beside the contracted 20 kW.
    influx_db.write(
        "\n".join(
            f'meter,site={SITE},device=main,edge=e power=3000.0,energy_import={i / 20},quality="ok" {t0 + i * 60_000}'
            for i in range(61)
        )
    )
    site = client.get(f"/api/sites/{SITE}/kpis?from={start}&to={end}").json()["energy"]
    assert site["capacity_limit_kw"] == 20
    [peak] = site["peaks"]
    assert peak["peak_kw"] == pytest.approx(3.0) and peak["billed_kw"] == pytest.approx(3.0)

    compare = client.get(f"/api/kpis/compare?from={start}&to={end}").json()
    [row] = [row for row in compare["sites"] if row["site"] == SITE]
    assert row["items_final"] == 1 and row["items_per_bench_hour"] == pytest.approx(1.5)
    assert row["data_age_s"] is not None and row["data_age_s"] >= 0


def test_time_range_errors_are_422(api: tuple[TestClient, CollectorRuntime]) -> None:
    client, _ = api
    assert client.get(f"/api/sites/{SITE}/kpis?from=yesterday").status_code == 422
    assert client.get(f"/api/sites/{SITE}/kpis?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z").status_code == 422
    assert client.get(f"/api/sites/{SITE}/kpis?bucket=month").status_code == 422
    ok = client.get(
        f"/api/sites/{SITE}/kpis?from=2026-01-01T00:00:00%2B01:00&to=2026-01-02T00:00:00%2B01:00&bucket=hour"
    )
    assert ok.status_code == 200 and ok.json()["from"] == "2025-12-31T23:00:00Z"
    assert ok.json()["items"]["finished"] == 0 and ok.json()["items"]["fix_rate"] is None


def test_bench_page_and_static_files_are_served(api: tuple[TestClient, CollectorRuntime]) -> None:
    client, _ = api
    page = client.get(f"/bench/{SITE}/{STATION}")
    assert page.status_code == 200 and "/bench/static/app.js" in page.text
    assert client.get("/bench/static/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/bench/static/style.css").status_code == 200
    assert client.get("/bench/static/../settings.py").status_code == 404
    names = [c["name"] for c in client.get("/api/categories").json()["categories"]]
    assert "Laptop" in names and "Furniture" in names and "Textile" in names


def test_long_ranges_read_the_rollup_and_aggregate_what_it_lacks(
    api: tuple[TestClient, CollectorRuntime], influx_db: InfluxTestDB
) -> None:
    """The continuous query rolls up only what arrived in time: older history comes from the raw data."""
    client, _ = api
    t0 = (int(time.time()) // 3600 - 10) * 3_600_000
    # 8 hours of the main meter, one reading every 30 s, its counter 0.001 kWh per reading (0.12 kW).
    influx_db.write(
        "\n".join(
            f'meter,site={SITE},device=main,edge=e power=120.0,energy_import={i / 1000},quality="ok" {t0 + i * 30_000}'
            for i in range(8 * 120 + 1)
        )
    )
    db = influx_db.database
    influx_db.query(f'CREATE RETENTION POLICY "rollup" ON "{db}" DURATION INF REPLICATION 1')
    # Only the last two hours made it into the rollup, as after a backfill.
    influx_db.query(
        "SELECT mean(power) AS power, last(energy_import) AS energy_import "
        f'INTO "{db}"."rollup"."meter_1m" FROM "{db}"."autogen"."meter" '
        f"WHERE time >= {t0 + 6 * 3_600_000}ms AND time <= {t0 + 8 * 3_600_000}ms GROUP BY time(1m), *"
    )
    assert influx_db.scalar('SELECT count(energy_import) FROM "rollup"."meter_1m"') == 121
    kpis = client.get(f"/api/sites/{SITE}/kpis?from={t0}&to={t0 + 8 * 3_600_000 + 1}").json()
    assert kpis["energy"]["meter"] == "main"
    # Per minute, the counter's last values run from 0.001 (t0 + 30 s) to 0.960: 0.959 kWh, where the
    # rollup alone (the last two hours) would give 0.240.
    assert kpis["energy"]["kwh"] == pytest.approx(0.959)
    assert sum(day["kwh"] for day in kpis["energy"]["days"]) == pytest.approx(0.959)
