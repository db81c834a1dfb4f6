"""Schemathesis against a real collector (real mosquitto and influxd behind it): every operation of the
OpenAPI schema, with generated valid and invalid requests, answers within its documented status codes and
shapes, and never with a server error. Bounded by examples per operation, so it fits in CI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from collector.api.app import create_app
from collector.runtime import CollectorRuntime
from collector.settings import CollectorSettings
from simulator.services import Influxd, Mosquitto
from tests.collector.traffic import collector_yaml, load
from tests.harness.api import bearer, new_token
from tests.harness.influx import InfluxTestDB

pytestmark = pytest.mark.integration

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]


@pytest.fixture
def api_schema(
    tmp_path: Path,
    mosquitto: Mosquitto,
    influxd: Influxd,
    influx_db: InfluxTestDB,
    run_collector: Callable[[CollectorSettings], CollectorRuntime],
) -> Iterator[tuple[TestClient, schemathesis.schemas.BaseSchema]]:
    path = collector_yaml(
        tmp_path / "c.yaml",
        collector_id="schema-1",
        broker_port=mosquitto.port,
        influx_url=influxd.url,
        database=influx_db.database,
    )
    settings_ = load(path)
    runtime = run_collector(settings_)
    app = create_app(settings_, runtime)
    with TestClient(app, headers=bearer(new_token(settings_))) as client:
        yield client, schemathesis.openapi.from_dict(app.openapi())


# schemathesis' pytest plugin does not load under pytest 9, and its requests transport trips over the
# urllib3-future that grafana-client brings in. So each operation runs through its hypothesis strategy
# directly (valid requests, then invalid ones), sent with Starlette's TestClient and checked by schemathesis.
EXAMPLES = {GenerationMode.POSITIVE: 40, GenerationMode.NEGATIVE: 40}


def test_every_operation_keeps_its_documented_contract(
    api_schema: tuple[TestClient, schemathesis.schemas.BaseSchema],
) -> None:
    client, loaded = api_schema
    ran: list[str] = []
    for result in loaded.get_all_operations():
        operation = result.ok()
        for mode, examples in EXAMPLES.items():
            if operation.path.startswith("/api/reports"):
                examples = 4  # each renders a whole report: a few cases cover their parameters

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,  # the same cases on every CI run; raise EXAMPLES locally to explore
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: schemathesis.Case) -> None:
                sent = case.as_transport_kwargs(base_url="http://testserver")
                if not sent.get("cookies"):
                    sent.pop("cookies", None)
                # The client's admin token, not one made up from the security scheme: the routes behind it run.
                sent["headers"] = {k: v for k, v in (sent.get("headers") or {}).items() if k.lower() != "authorization"}
                response = client.request(**sent)
                case.validate_response(response, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # an operation with nothing to get wrong (GET /healthz)
        ran.append(operation.label)
    assert len(ran) >= 10, ran  # every documented operation was exercised
