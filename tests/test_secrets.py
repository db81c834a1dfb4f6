"""Secrets in configs: every secret field is a SecretStr, and no error, `check` output or log line shows its value;
a config file that holds a secret and that everyone can read gets a warning; URLs with credentials are refused.

SECRET_FIELDS lists every secret key of every config; the first test finds them in the models, so a new secret
field fails here until it is added (and so tested by every test below)."""

from __future__ import annotations

import copy
import logging
import subprocess
import time
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, SecretStr

from shopfloor.config import ConfigError, load_config, redact_credentials
from simulator.services import Mosquitto, free_port, wait_until
from tests.conftest import REPO_ROOT
from tests.harness.influx import InfluxTestDB
from tests.harness.processes import command, running

SECRET_FIELDS: dict[str, list[str]] = {
    "edge": ["broker.password", "local_broker.password"],
    "collector": ["broker.password", "influx.password", "influx.token"],
    "simulate": ["broker.password"],
}


def models() -> dict[str, type[BaseModel]]:
    from collector.settings import CollectorSettings
    from edge.settings import EdgeSettings
    from simulator.settings import SimulateSettings

    return {"edge": EdgeSettings, "collector": CollectorSettings, "simulate": SimulateSettings}


def secret_fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    found: set[str] = set()

    def walk(annotation: Any, path: str) -> None:
        if annotation is SecretStr:
            found.add(path)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for name, field in annotation.model_fields.items():
                walk(field.annotation, f"{path}.{name}" if path else name)
        for arg in typing.get_args(annotation):
            walk(arg, path)

    walk(model, prefix)
    return found


def test_every_secret_field_is_a_secretstr_and_listed_here() -> None:
    for name, model in models().items():
        assert secret_fields(model) == set(SECRET_FIELDS[name]), f"{name}: update SECRET_FIELDS (and the tests)"


def base(kind: str, field: str = "") -> dict[str, Any]:
    broker = {"host": "127.0.0.1", "port": 1883, "username": "u"}
    if kind == "edge":
        return {"site": "gent-repair", "edge_id": "gent-pi", "broker": dict(broker), "local_broker": dict(broker)}
    if kind == "collector":
        influx: dict[str, Any] = (
            {"version": 2, "org": "o", "token": "${INFLUX_TOKEN:-t}"}
            if field == "influx.token"
            else {"version": 1, "username": "writer", "password": "${INFLUX_PASSWORD:-p}"}
        )
        return {"collector_id": "c1", "broker": dict(broker), "influx": influx}
    return {"broker": dict(broker)}


def with_value(config: dict[str, Any], field: str, value: object) -> dict[str, Any]:
    config = copy.deepcopy(config)
    *parents, key = field.split(".")
    node = config
    for parent in parents:
        node = node.setdefault(parent, {})
    node[key] = value
    return config


def write(path: Path, config: dict[str, Any], mode: int = 0o600) -> Path:
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    path.chmod(mode)
    return path


def load(kind: str, path: Path) -> BaseModel:
    if kind == "edge":
        from edge.settings import load_settings

        return load_settings(path)[0]
    if kind == "collector":
        from collector.settings import load_settings as load_collector

        return load_collector(path)
    from simulator.settings import SimulateSettings

    return load_config(path, SimulateSettings)


ALL_FIELDS = [(kind, field) for kind, fields in SECRET_FIELDS.items() for field in fields]
ids = [f"{kind}:{field}" for kind, field in ALL_FIELDS]


@pytest.mark.parametrize(("kind", "field"), ALL_FIELDS, ids=ids)
def test_an_unquoted_numeric_secret_is_refused_without_showing_it(tmp_path: Path, kind: str, field: str) -> None:
    path = write(tmp_path / f"{kind}.yaml", with_value(base(kind, field), field, 31415926))
    with pytest.raises(ConfigError) as caught:
        load(kind, path)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{kind}.yaml: {field}: ")
    assert "31415926" not in problem
    assert "its value is a secret, not shown" in problem and "quote it" in problem and "${VAR}" in problem


@pytest.mark.parametrize(("kind", "field"), ALL_FIELDS, ids=ids)
def test_a_world_readable_file_with_a_secret_gets_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str, field: str
) -> None:
    secret = f"s3cret-{kind}-{field}"
    config = with_value(base(kind, field), field, secret)
    with caplog.at_level(logging.WARNING, logger="shopfloor.config"):
        load(kind, write(tmp_path / "private.yaml", config, 0o600))
        load(kind, write(tmp_path / "referenced.yaml", with_value(config, field, "${NO_SUCH_SECRET:-x}"), 0o644))
        assert caplog.messages == []  # the controls: a private file, a file that only names the variable
        load(kind, write(tmp_path / "open.yaml", config, 0o644))
    (warning,) = caplog.messages
    assert "open.yaml: holds a secret (" in warning and field in warning and "mode 0644" in warning
    assert "Fix: chmod 600" in warning
    assert secret not in warning


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://writer:pa55word@influx:8086", "url: http://influx:8086"),
        ("https://tok3n@influx", "url: https://influx"),
    ],
)
def test_an_influxdb_url_with_credentials_is_refused_with_a_fix(tmp_path: Path, url: str, shown: str) -> None:
    config = base("collector") | {"influx": {"version": 1, "url": url}}
    with pytest.raises(ConfigError) as caught:
        load("collector", write(tmp_path / "collector.yaml", config))
    (problem,) = caught.value.problems
    assert problem.startswith("collector.yaml: influx.url: the URL carries a user name or password")
    assert shown in problem and "influx.username and influx.password" in problem
    assert "pa55word" not in problem and "tok3n" not in problem and "writer" not in problem


@pytest.mark.parametrize("host", ["writer:pa55word@broker", "mqtt://writer:pa55word@broker:1883"])
def test_a_broker_address_with_credentials_is_refused(tmp_path: Path, host: str) -> None:
    config = with_value(base("edge"), "broker.host", host)
    with pytest.raises(ConfigError) as caught:
        load("edge", write(tmp_path / "edge.yaml", config))
    (problem,) = caught.value.problems
    assert problem.startswith("edge.yaml: broker.host: must be a host name or IP address, not a URL")
    assert "broker.username and broker.password" in problem
    assert "pa55word" not in problem


def test_redact_credentials() -> None:
    assert redact_credentials("got 'http://w:p@h:8086/x'") == "got 'http://***@h:8086/x'"
    assert redact_credentials("got 'w:p@h'") == "got '***@h'"
    assert redact_credentials("http://h:8086/query?q=a:b") == "http://h:8086/query?q=a:b"


@pytest.mark.parametrize("kind", ["edge", "collector", "collector-v2"])
def test_check_shows_no_secret_and_warns_about_an_open_file(tmp_path: Path, kind: str) -> None:
    program = kind.removesuffix("-v2")
    fields = [f for f in SECRET_FIELDS[program] if (f == "influx.token") == (kind == "collector-v2")]
    config = base(program, "influx.token" if kind == "collector-v2" else "")
    secrets = {field: f"Zq{i}-secret-{kind}" for i, field in enumerate(fields)}
    for field, secret in secrets.items():
        config = with_value(config, field, secret)
    path = write(tmp_path / f"{program}.yaml", config, 0o644)
    result = subprocess.run(command("-vv", program, "check", path), capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout.lower()
    assert "holds a secret" in result.stderr and "Fix: chmod 600" in result.stderr
    for secret in secrets.values():
        assert secret not in result.stdout + result.stderr


@pytest.mark.integration
@pytest.mark.slow
def test_the_running_programs_log_no_secret(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], influx_db: InfluxTestDB
) -> None:
    """Collector (1.x and 2.x), edge and simulator at -vv, with a password-protected broker (generated identities)
    and every secret field set: their logs, from start to stop, hold none of the secrets."""
    sites = write(
        tmp_path / "sites.yaml",
        {"publishers": [{"username": "simulator", "sites": "*"}], "sites": {"gent-repair": {"edges": ["gent-pi"]}}},
    )
    subprocess.run(
        command("acl", "generate", sites, "--out", tmp_path / "auth"), check=True, capture_output=True, cwd=REPO_ROOT
    )
    from shopfloor.acl import parse_env

    def password(user: str) -> str:
        return parse_env((tmp_path / "auth" / "credentials" / f"{user}.env").read_text())["MQTT_PASSWORD"]

    broker = mosquitto_factory(password_file=tmp_path / "auth" / "passwd", acl_file=tmp_path / "auth" / "acl")

    def broker_block(user: str) -> dict[str, Any]:
        return {
            "host": broker.host,
            "port": broker.port,
            "username": user,
            "password": password(user),
            "reconnect_min_s": 0.5,
        }

    http_port, http_port_v2 = free_port(), free_port()
    secrets = {password("collector"), password("gent-pi"), password("simulator"), "influx-Pw-123", "influx-Tok3n-456"}
    collector = base("collector") | {
        "broker": broker_block("collector"),
        "influx": {
            "version": 1,
            "url": influx_db.url,
            "database": influx_db.database,
            "username": "w",
            "password": "influx-Pw-123",
        },
        "spool": {"path": str(tmp_path / "spool.sqlite")},
        "dead_letters": {"path": str(tmp_path / "dead.sqlite")},
        "http": {"port": http_port},
    }
    collector_v2 = collector | {
        "collector_id": "c2",
        "influx": {"version": 2, "url": f"http://127.0.0.1:{free_port()}", "org": "o", "token": "influx-Tok3n-456"},
        "spool": {"path": str(tmp_path / "spool2.sqlite")},
        "dead_letters": {"path": str(tmp_path / "dead2.sqlite")},
        "http": {"port": http_port_v2},
    }
    edge = {
        "site": "gent-repair",
        "edge_id": "gent-pi",
        "broker": broker_block("gent-pi"),
        "local_broker": broker_block("gent-pi"),
        "outbox": {"path": str(tmp_path / "outbox.db")},
        "status_interval_s": 1,
    }
    simulate = {"broker": broker_block("simulator"), "sites": 1, "live": False, "backfill_days": 0.01}
    logs = {name: tmp_path / f"{name}.log" for name in ("collector", "collector-v2", "edge", "simulate")}
    with (
        running(command("-vv", "collector", "run", write(tmp_path / "c1.yaml", collector)), logs["collector"]),
        running(command("-vv", "collector", "run", write(tmp_path / "c2.yaml", collector_v2)), logs["collector-v2"]),
        running(command("-vv", "edge", "run", write(tmp_path / "edge.yaml", edge)), logs["edge"]),
    ):
        wait_until(lambda: influx_db.query("SHOW MEASUREMENTS") != [], 60, "the edge's status stored via the collector")
        simulator = subprocess.run(
            command(
                "-vv",
                "simulate",
                "--config",
                write(tmp_path / "simulate.yaml", simulate),
                "--modbus-port",
                str(free_port()),
            ),
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=120,
        )
        logs["simulate"].write_text(simulator.stdout + simulator.stderr)
        assert simulator.returncode == 0, simulator.stderr[-2000:]
        time.sleep(1)  # a few more rounds of retries and status messages in the logs
    for name, log in logs.items():
        text = log.read_text(errors="replace")
        assert text.strip(), f"{name} logged nothing: the test would prove nothing"
        for secret in secrets:
            assert secret not in text, f"{name} logged a secret"


@pytest.mark.parametrize("value", ["31415926", "{not yaml", "a: b"])
def test_a_secret_from_an_environment_override_is_taken_as_written(tmp_path: Path, value: str) -> None:
    from edge.settings import load_settings

    path = write(tmp_path / "edge.yaml", base("edge"))
    settings, _ = load_settings(path, env={"SHOPFLOOR_EDGE__BROKER__PASSWORD": value})
    assert settings.broker.password is not None and settings.broker.password.get_secret_value() == value
