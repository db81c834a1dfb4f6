"""The InfluxDB 2.x/3.x path: requests checked against the /api/v2/write API.

No InfluxDB 2 server can run here, so these tests use ``FakeInflux2``, a local HTTP server that
implements /api/v2/write and records requests. mosquitto is real in the end-to-end test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from collector.drain.delivery import RetryLater, deliver
from collector.influx.v2 import InfluxV2Client
from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings, InfluxV2Settings, load_settings
from simulator.services import Mosquitto, wait_until
from tests.collector.influx.fake_influx2 import FakeInflux2
from tests.collector.traffic import Publisher, base_ts_ms, readings

LINES = [f"meter,device=m{i},site=s power={i}.0 {1763900000000000000 + i}" for i in range(8)]


@pytest.fixture
def fake() -> FakeInflux2:
    with FakeInflux2() as server:
        yield server  # type: ignore[misc]


def writer_for(fake: FakeInflux2, **extra: object) -> InfluxV2Client:
    settings = InfluxV2Settings.model_validate(
        {"version": 2, "url": fake.url, "org": "gent", "bucket": "shopfloor", "token": "s3cret", **extra}
    )
    return InfluxV2Client(settings)


def test_endpoint_headers_precision_and_gzip(fake: FakeInflux2) -> None:
    writer = writer_for(fake, gzip=True)  # "auto" would not compress: the fake listens on loopback
    outcome = deliver(writer, LINES)
    assert outcome.written == len(LINES) and not outcome.rejected
    [request] = fake.requests
    assert request.path == "/api/v2/write"
    assert request.query == {"org": "gent", "bucket": "shopfloor", "precision": "ns"}
    assert request.headers["Authorization"] == "Token s3cret"
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.headers["Content-Type"].startswith("text/plain")
    assert request.raw_body[:2] == b"\x1f\x8b"
    assert request.lines == LINES
    assert writer.ping()


@pytest.mark.parametrize("gzip", [False, "auto"])
def test_without_gzip_the_body_is_plain(fake: FakeInflux2, gzip: object) -> None:
    deliver(writer_for(fake, gzip=gzip), LINES[:2])
    assert "Content-Encoding" not in fake.requests[0].headers
    assert fake.requests[0].raw_body == "\n".join(LINES[:2]).encode()


@pytest.mark.parametrize("status", [429, 503])
def test_busy_server_is_retried_after_its_retry_after(fake: FakeInflux2, status: int) -> None:
    fake.policy = lambda lines: (status, {"Retry-After": "7"}, {"code": "unavailable", "message": "busy"})
    with pytest.raises(RetryLater) as caught:
        deliver(writer_for(fake), LINES)
    assert caught.value.retry_after_s == 7.0
    assert f"HTTP {status}" in caught.value.reason
    assert fake.stored == []


def test_server_error_is_retried_later(fake: FakeInflux2) -> None:
    fake.policy = lambda lines: (500, {}, {"code": "internal error", "message": "engine: error syncing wal"})
    with pytest.raises(RetryLater, match="error syncing wal"):
        deliver(writer_for(fake), LINES)


def test_413_splits_the_batch(fake: FakeInflux2) -> None:
    fake.policy = lambda lines: (
        (413, {}, {"code": "request too large", "message": "too big"}) if len(lines) > 3 else None
    )
    outcome = deliver(writer_for(fake), LINES)
    assert outcome.written == len(LINES) and not outcome.rejected
    assert sorted(fake.stored) == sorted(LINES)
    assert len(fake.requests[0].lines) == len(LINES)  # tried whole, then halved until it fit
    assert [len(r.lines) for r in fake.requests[1:]] == [4, 2, 2, 4, 2, 2]


def test_partial_write_sends_only_the_rejected_line_to_the_dead_letters(fake: FakeInflux2) -> None:
    bad = LINES[5]
    fake.policy = lambda lines: (
        (422, {}, {"code": "unprocessable entity", "message": "partial write: field type conflict"})
        if bad in lines
        else None
    )
    outcome = deliver(writer_for(fake), LINES)
    assert [line for line, _ in outcome.rejected] == [bad]
    assert "HTTP 422" in outcome.rejected[0][1]
    assert set(fake.stored) == set(LINES) - {bad}
    assert outcome.requests < 2 * len(LINES)  # bisection, not one request per line, and never forever


def test_unreachable_server_is_retried_later() -> None:
    settings = InfluxV2Settings.model_validate(
        {"version": 2, "url": "http://127.0.0.1:9", "org": "o", "token": "t", "timeout_s": 2}
    )
    with pytest.raises(RetryLater):
        deliver(InfluxV2Client(settings), LINES)


@pytest.mark.integration
def test_collector_end_to_end_into_the_v2_api(
    tmp_path: Path,
    fake: FakeInflux2,
    mosquitto: Mosquitto,
    run_collector: Callable[[CollectorSettings], CollectorRuntime],
) -> None:
    config = tmp_path / "collector.yaml"
    config.write_text(
        f"collector_id: v2-e2e\nbroker:\n  port: {mosquitto.port}\n"
        f"influx:\n  version: 2\n  url: {fake.url}\n  org: gent\n  bucket: shopfloor\n  token: t\n"
        "  flush_interval_ms: 50\n"
    )
    runtime = run_collector(load_settings(config))
    publisher = Publisher(mosquitto.host, mosquitto.port)
    try:
        publisher.publish_all(readings(5, 20, base_ts_ms()))
    finally:
        publisher.close()
    wait_until(lambda: len(set(fake.stored)) >= 100, 30, "points at the v2 API")
    assert len(set(fake.stored)) == 100
    assert all(r.query["precision"] == "ns" for r in fake.requests)
    assert runtime.ready() == {"broker": True, "influxdb": True, "drainer": True}


def test_influxql_goes_to_the_compatibility_endpoint_with_the_token(fake: FakeInflux2) -> None:
    """The KPI API and the ORDS export read 2.x through /query (DBRP mapping of the bucket)."""
    from collector.influx.client import InfluxQueryError
    from collector.kpi.queries import KpiQueries, Range

    fake.query_answer = {
        "results": [
            {
                "statement_id": 0,
                "series": [
                    {
                        "name": "meter",
                        "columns": ["time", "power", "energy_import"],
                        "values": [[1000, 50.0, 1.5], [2000, 60.0, 1.6]],
                    }
                ],
            }
        ]
    }
    writer = writer_for(fake)
    samples = KpiQueries(writer).meter_samples("gent", "main", Range(0, 10_000))
    assert [(s.ts_ms, s.power_w, s.energy_kwh) for s in samples] == [(1000, 50.0, 1.5), (2000, 60.0, 1.6)]
    [request] = fake.requests
    assert request.path == "/query" and request.headers["Authorization"] == "Token s3cret"
    assert request.query["db"] == "shopfloor" and request.query["epoch"] == "ms"
    assert "FROM meter WHERE site = 'gent' AND device = 'main'" in request.query["q"]
    fake.query_answer = {"results": [{"statement_id": 0, "error": "database not found: shopfloor"}]}
    with pytest.raises(InfluxQueryError, match="database not found"):
        writer.query("SELECT 1")
    writer.close()
