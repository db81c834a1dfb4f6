"""The InfluxDB 1.x path against a real influxd: partial writes, dead-lettered lines, init-db."""

from __future__ import annotations

import json
import struct
import uuid
from pathlib import Path

import pytest

from collector.drain.delivery import RetryLater, deliver
from collector.drain.drainer import Drainer
from collector.influx.v1 import InfluxV1Client
from collector.ingest.pipeline import Ingest, fast_points
from collector.metrics import CollectorMetrics
from collector.points import message_lines
from collector.settings import InfluxV1Settings
from collector.storage.dead_letters import WRITE_REJECTED, DeadLetterStore
from collector.storage.spool import Spool
from shopfloor.cli import main
from shopfloor.contract import decode, parse_topic
from simulator.services import Influxd, wait_until
from tests.collector.traffic import base_ts_ms, reading
from tests.harness.influx import InfluxTestDB

pytestmark = pytest.mark.integration

T = 1763900000000000000


def settings_for(db: InfluxTestDB, **extra: object) -> InfluxV1Settings:
    return InfluxV1Settings.model_validate({"url": db.url, "database": db.database, "flush_interval_ms": 10, **extra})


def test_partial_write_dead_letters_only_the_rejected_lines(influx_db: InfluxTestDB) -> None:
    influx_db.write(f"conflict,site=s v=1.5 {T}", precision="ns")
    good = [f"meter,device=m{i},site=s power={i}.5 {T + i}" for i in range(9)]
    type_conflict = f'conflict,site=s v="text" {T + 100}'
    unparsable = "this is not line protocol"
    outcome = deliver(InfluxV1Client(settings_for(influx_db)), [*good[:4], type_conflict, *good[4:], unparsable])
    assert sorted(line for line, _ in outcome.rejected) == sorted([type_conflict, unparsable])
    reasons = dict(outcome.rejected)
    assert "field type conflict" in reasons[type_conflict]
    assert "unable to parse" in reasons[unparsable] or "HTTP 400" in reasons[unparsable]
    assert influx_db.scalar("SELECT count(power) FROM meter") == 9
    assert outcome.requests < 20


def test_missing_database_is_retried_not_dropped(influxd: Influxd) -> None:
    db = InfluxTestDB(influxd.url, f"absent_{uuid.uuid4().hex[:6]}")
    with pytest.raises(RetryLater, match="HTTP 404"):
        deliver(InfluxV1Client(settings_for(db)), [f"meter,site=s power=1.0 {T}"])


def test_drainer_writes_the_spool_and_dead_letters_rejected_lines(tmp_path: Path, influx_db: InfluxTestDB) -> None:
    influx_db.write(f"conflict,site=s v=1.5 {T}", precision="ns")
    spool = Spool(tmp_path / "spool.sqlite", 10_000, 10_000_000)
    store = DeadLetterStore(tmp_path / "dead.sqlite")
    spool.append([f"meter,device=m{i},site=gent power={i}.0 {T + i}" for i in range(50)], site="gent")
    spool.append([f'conflict,site=gent v="oops" {T + 7}'], site="gent")
    drainer = Drainer(
        spool, InfluxV1Client(settings_for(influx_db)), store, CollectorMetrics(), settings_for(influx_db)
    )
    drainer.start()
    try:
        wait_until(lambda: spool.depth_lines == 0, 20, "spool drained")
    finally:
        drainer.stop()
    assert influx_db.scalar("SELECT count(power) FROM meter") == 50
    [letter] = store.entries()
    assert letter.kind == WRITE_REJECTED and letter.payload == b'conflict,site=gent v="oops" 1763900000000000007'
    assert "field type conflict" in letter.reason
    assert influx_db.scalar("SELECT sum(count) FROM dead_letter WHERE reason_kind = 'write_rejected'") == 1
    assert influx_db.scalar("SELECT count(count) FROM dead_letter WHERE site = 'gent'") == 1


def test_init_db_creates_database_policies_and_continuous_query(tmp_path: Path, influxd: Influxd) -> None:
    db = InfluxTestDB(influxd.url, f"init_{uuid.uuid4().hex[:6]}")
    config = tmp_path / "collector.yaml"
    config.write_text(
        f"collector_id: c1\ninflux:\n  url: {influxd.url}\n  database: {db.database}\n  raw_retention: 30d\n"
    )
    try:
        for _ in range(2):  # idempotent
            assert main(["collector", "init-db", str(config)]) == 0
        policies = {row["name"]: row for row in db.query(f'SHOW RETENTION POLICIES ON "{db.database}"')}
        assert policies["autogen"]["duration"] == "720h0m0s" and policies["autogen"]["default"] is True
        assert policies["rollup"]["duration"] == "0s"
        writer = InfluxV1Client(InfluxV1Settings(url=influxd.url, database=db.database))
        queries = [row for row in writer.query("SHOW CONTINUOUS QUERIES") if row["_series"] == db.database]
        assert [row["name"] for row in queries] == ["cq_meter_1m"]
        assert "rollup" in queries[0]["query"] and "max(power)" in queries[0]["query"]
    finally:
        db.drop()


def test_init_db_reports_an_unreachable_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "collector.yaml"
    config.write_text("collector_id: c1\ninflux:\n  url: http://127.0.0.1:9\n  timeout_s: 2\n")
    assert main(["collector", "init-db", str(config)]) == 2
    assert "cannot reach InfluxDB" in capsys.readouterr().err


EXTREME_VALUES = [2310.4, 1e-05, 1e16, 0.1 + 0.2, 5e-324, -0.0, 1.7976931348623157e308, 123456789.12345679, 812.0]


@pytest.mark.parametrize("bare", [True, False], ids=["bare-values-fast-path", "values-with-units-by-models"])
def test_meter_values_come_back_from_influxd_as_the_same_floats(influx_db: InfluxTestDB, bare: bool) -> None:
    """Meter values are written as orjson's shortest text (``1e+16``, ``0.00001``), not ``repr``: both must
    read back from a real influxd as the very same float64."""
    quantities = ["power", "power_l1", "power_l2", "power_l3", "voltage_l1", "voltage_l2", "voltage_l3"]
    quantities += ["energy_import", "frequency"]
    units = {"power": "W", "voltage": "V", "energy": "kWh", "frequency": "Hz"}
    values = {
        q: v if bare else {"value": v, "unit": units[q.split("_")[0]]}
        for q, v in zip(quantities, EXTREME_VALUES, strict=True)
    }
    body = {"ts_ms": T // 1_000_000, "seq": 1, "edge": "pi", "device": "m1", "profile": "p@1", "quality": "ok"}
    topic, payload = "shopfloor/v1/gent/m1/reading", json.dumps({**body, "values": values}).encode()
    fast = fast_points(parse_topic(topic), payload)
    assert fast is not None
    lines = fast.lines if bare else message_lines(decode(topic, payload))
    assert "1e+16" in lines[0]
    outcome = deliver(InfluxV1Client(settings_for(influx_db)), lines)
    assert outcome.written == 1 and not outcome.rejected
    (row,) = influx_db.query("SELECT * FROM meter")
    for quantity, value in zip(quantities, EXTREME_VALUES, strict=True):
        assert struct.pack("<d", row[quantity]) == struct.pack("<d", value) or value == row[quantity] == 0.0, quantity


def test_a_backlog_does_not_hold_back_live_readings(tmp_path: Path, influx_db: InfluxTestDB) -> None:
    """One edge flushes a 3 000-reading backlog; another site's live readings, received after it, are in the
    very first write request (the spool's live lane), not behind the backlog."""
    spool = Spool(tmp_path / "spool.sqlite", 1_000_000, 1_000_000_000)
    store = DeadLetterStore(tmp_path / "dead.sqlite")
    acked: list[tuple[int, int]] = []
    ingest = Ingest(prefix="shopfloor", spool=spool, dead_letters=store, metrics=CollectorMetrics(), ack=acked.extend)
    t0 = base_ts_ms()
    for m in range(6):
        body = {"edge": "edge-1", "readings": [reading(i % 5, m * 500 + i, t0) for i in range(500)]}
        ingest.receive("shopfloor/v1/backlog-site/edge-1/batch", json.dumps(body).encode(), mid=m + 1, qos=1)
        ingest.flush()
    for i in range(10):
        live = reading(7, 5000 + i, t0, edge="pi-live")
        ingest.receive(f"shopfloor/v1/live-site/{live['device']}/reading", json.dumps(live).encode(), 100 + i, 1)
    ingest.flush()
    assert len(acked) == 16
    settings = settings_for(influx_db, batch_size=1000)
    drainer = Drainer(spool, InfluxV1Client(settings), store, CollectorMetrics(), settings)
    drainer.drain_once()  # one request
    assert influx_db.scalar("SELECT count(power) FROM meter WHERE site='live-site'") == 10
    # ... filled up with whole backlog rows: 10 + 500 fit in a 1 000-line request, 10 + 1 000 would not.
    assert influx_db.scalar("SELECT count(power) FROM meter WHERE site='backlog-site'") == 500
    while spool.depth_lines:
        drainer.drain_once()
    assert influx_db.scalar("SELECT count(power) FROM meter WHERE site='backlog-site'") == 3000
