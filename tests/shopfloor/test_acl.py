"""`shopfloor acl generate`, the pure part and the files it writes (the broker's side: tests/test_broker_acl.py)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from shopfloor.acl import (
    ClusterAuth,
    filters_overlap,
    hash_password,
    identities,
    parse_env,
    render_acl,
    verify_password,
)
from shopfloor.config import ConfigError
from tests.conftest import REPO_ROOT

MOSQUITTO_LINE = re.compile(r"^(?P<user>[^:]+):\$7\$101\$(?P<salt>[A-Za-z0-9+/]{16})\$(?P<hash>[A-Za-z0-9+/]{86}==)$")


def mosquitto_passwd(tmp_path: Path, user: str, password: str) -> str:
    path = tmp_path / "reference"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), user, password], check=True, capture_output=True)
    return path.read_text().strip()


def test_a_hash_is_the_one_mosquitto_passwd_writes(tmp_path: Path) -> None:
    reference = mosquitto_passwd(tmp_path, "gent-repair-pi", "s3cret-Pass")
    match = MOSQUITTO_LINE.match(reference)
    assert match, reference
    ours = f"gent-repair-pi:{hash_password(SecretStr('s3cret-Pass'))}"
    assert MOSQUITTO_LINE.match(ours), ours
    # With mosquitto_passwd's salt, the same line to the byte: same KDF, iterations, encodings.
    import base64

    salt = base64.b64decode(match["salt"])
    assert f"gent-repair-pi:{hash_password(SecretStr('s3cret-Pass'), salt)}" == reference
    assert verify_password(SecretStr("s3cret-Pass"), reference.split(":", 1)[1])
    assert not verify_password(SecretStr("s3cret-pass"), reference.split(":", 1)[1])


def cluster(**sites: Any) -> ClusterAuth:
    return ClusterAuth.model_validate({"sites": sites or {"gent-repair": {"edges": ["gent-repair-pi"]}}})


def test_an_edge_writes_only_its_own_site_and_reads_only_its_plugs() -> None:
    plugs = [{"format": "tasmota", "device": "tasmota_1A2B3C"}, {"format": "shelly-gen2", "device": "shellyplus-1"}]
    made = {
        i.username: i for i in identities(cluster(**{"gent-repair": {"edges": [{"id": "gent-pi", "plugs": plugs}]}}))
    }
    edge = made["gent-pi"]
    assert all(t.startswith("shopfloor/v1/gent-repair/") for t in edge.writes)
    assert "shopfloor/v1/gent-repair/gent-pi/status" in edge.writes
    assert "shopfloor/v1/gent-repair/+/status" not in edge.writes  # not another edge's status
    # Exactly what the edge subscribes to for its plugs (edge/sources): a Gen2 plug has two topics.
    assert edge.reads == ("tele/tasmota_1A2B3C/SENSOR", "shellyplus-1/status/switch:0", "shellyplus-1/events/rpc")
    assert (made["collector"].writes, made["collector"].reads) == ((), ("shopfloor/v1/#",))
    assert (made["monitor"].writes, made["monitor"].reads) == ((), ("$SYS/#",))
    assert made["tasmota_1A2B3C"].writes == ("tele/tasmota_1A2B3C/#", "stat/tasmota_1A2B3C/#")


def test_the_acl_gives_anonymous_clients_nothing() -> None:
    text = render_acl(identities(cluster()))
    first_user = text.index("\nuser ")
    assert "topic" not in text[:first_user].replace("'topic' line", "")
    assert "pattern" not in text


@pytest.mark.parametrize(
    ("sites", "problem"),
    [
        ({"a": {"edges": ["pi"]}, "b": {"edges": ["pi"]}}, "user name 'pi' is both edge pi of a and edge pi of b"),
        ({"a": {"edges": ["collector"]}}, "user name 'collector' is both the collector and edge collector of a"),
        (
            {
                "a": {"edges": [{"id": "pa", "plugs": [{"format": "tasmota", "device": "plug1"}]}]},
                "b": {"edges": [{"id": "pb", "plugs": [{"format": "tasmota", "device": "plug1"}]}]},
            },
            "user name 'plug1' is both plug plug1 of a and plug plug1 of b",
        ),
        (
            {
                "a": {"edges": [{"id": "pa", "plugs": [{"format": "shelly-gen2", "device": "tele"}]}]},
                "b": {"edges": [{"id": "pb", "plugs": [{"format": "tasmota", "device": "t1"}]}]},
            },
            "plugs tele (a) and t1 (b) could publish to the same topics",
        ),
        (
            {"a": {"edges": [{"id": "pa", "plugs": [{"format": "shelly-gen2", "device": "shopfloor"}]}]}},
            "overlap the contract's shopfloor/v1/#",
        ),
        (
            {"a": {"edges": [{"id": "pa", "plugs": [{"format": "generic-json", "username": "esp", "topics": ["#"]}]}]}},
            "overlap the contract's",
        ),
        (
            {"a": {"edges": [{"id": "pa", "plugs": [{"format": "generic-json", "topics": ["x/y"]}]}]}},
            "needs 'username'",
        ),
    ],
)
def test_a_cluster_where_one_could_write_for_another_is_refused(
    tmp_path: Path, sites: dict[str, Any], problem: str
) -> None:
    from shopfloor.acl import load_sites

    path = tmp_path / "sites.yaml"
    path.write_text(yaml.safe_dump({"sites": sites}))
    with pytest.raises(ConfigError) as caught:
        load_sites(path)
    assert any(line.startswith("sites.yaml: ") and problem in line for line in caught.value.problems), caught.value


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("tele/x/#", "tele/+/SENSOR", True),
        ("tele/x/#", "tele/y/SENSOR", False),
        ("a/b", "a/b/c", False),
        ("a/#", "a", True),
        ("+/status/x", "dev/+/x", True),
        ("#", "anything/at/all", True),
    ],
)
def test_filters_overlap(a: str, b: str, overlap: bool) -> None:
    assert filters_overlap(a, b) is overlap
    assert filters_overlap(b, a) is overlap


def generate(sites: Path, out: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "shopfloor", "acl", "generate", str(sites), "--out", str(out), *flags]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, check=False)


def test_generate_writes_private_files_keeps_passwords_and_rotates_on_request(tmp_path: Path) -> None:
    sites = tmp_path / "sites.yaml"
    sites.write_text(yaml.safe_dump({"sites": {"gent-repair": {"edges": ["gent-repair-pi"]}}}))
    out = tmp_path / "auth"
    first = generate(sites, out)
    assert first.returncode == 0, first.stderr
    files = [out / "passwd", out / "acl", *sorted((out / "credentials").iterdir())]
    assert [f.name for f in files[2:]] == ["collector.env", "gent-repair-pi.env", "monitor.env"]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((out / "credentials").stat().st_mode) == 0o700
    password = parse_env((out / "credentials" / "gent-repair-pi.env").read_text())["MQTT_PASSWORD"]
    assert len(password) >= 32
    assert password not in first.stdout + first.stderr  # written, never shown
    line = next(x for x in (out / "passwd").read_text().splitlines() if x.startswith("gent-repair-pi:"))
    assert verify_password(SecretStr(password), line.split(":", 1)[1])

    again = generate(sites, out)
    assert "0 new password(s)" in again.stdout
    assert parse_env((out / "credentials" / "gent-repair-pi.env").read_text())["MQTT_PASSWORD"] == password

    rotated = generate(sites, out, "--rotate")
    assert "3 new password(s)" in rotated.stdout
    assert parse_env((out / "credentials" / "gent-repair-pi.env").read_text())["MQTT_PASSWORD"] != password


def test_generate_print_shows_each_password_once_and_stores_none(tmp_path: Path) -> None:
    sites = tmp_path / "sites.yaml"
    sites.write_text(yaml.safe_dump({"sites": {"gent-repair": {"edges": ["gent-repair-pi"]}}}))
    out = tmp_path / "auth"
    shown = generate(sites, out, "--print")
    assert shown.returncode == 0, shown.stderr
    assert not (out / "credentials").exists()
    line = next(x for x in shown.stdout.splitlines() if x.strip().startswith("gent-repair-pi "))
    password = line.split()[1]
    hashed = next(x for x in (out / "passwd").read_text().splitlines() if x.startswith("gent-repair-pi:"))
    assert verify_password(SecretStr(password), hashed.split(":", 1)[1])
    assert shown.stdout.count(password) == 1


def test_a_wrong_sites_file_names_the_key_and_the_fix(tmp_path: Path) -> None:
    sites = tmp_path / "sites.yaml"
    sites.write_text(yaml.safe_dump({"sites": {"gent-repair": {"edge": ["gent-repair-pi"]}}}))
    result = generate(sites, tmp_path / "auth")
    assert result.returncode == 2
    assert "sites.yaml: sites.gent-repair.edge: " in result.stderr
    assert "did you mean 'edges'?" in result.stderr
    assert not (tmp_path / "auth").exists()


def test_generate_group_lets_the_brokers_group_read_passwd_and_acl(tmp_path: Path) -> None:
    sites = tmp_path / "sites.yaml"
    sites.write_text(yaml.safe_dump({"sites": {"gent-repair": {"edges": ["gent-repair-pi"]}}}))
    out = tmp_path / "auth"
    group = str(os.getgid())
    assert generate(sites, out, "--group", group).returncode == 0
    for name in ("passwd", "acl"):
        info = (out / name).stat()
        assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o640, int(group))
    assert stat.S_IMODE((out / "credentials" / "collector.env").stat().st_mode) == 0o600  # the secrets stay private
    unknown = generate(sites, tmp_path / "other", "--group", "no-such-group-13")
    assert unknown.returncode == 2 and "cannot give group no-such-group-13" in unknown.stderr
    assert list((tmp_path / "other").iterdir()) == []  # no half-written file left behind


def test_the_sites_yaml_of_the_docs_is_valid(tmp_path: Path) -> None:
    docs = (REPO_ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    start = docs.index("```yaml\n# sites.yaml") + len("```yaml\n")
    path = tmp_path / "sites.yaml"
    path.write_text(docs[start : docs.index("```", start)])
    from shopfloor.acl import load_sites

    made = {i.username: i for i in identities(load_sites(path))}
    assert set(made) >= {"collector", "monitor", "simulator", "gent-repair-pi", "brussels-textile-pi", "esp-bench-3"}
    assert "$share/collectors/shopfloor/v1/#" in made["collector"].reads
    assert made["esp-bench-3"].writes == ("esphome/bench-3/power",)
    assert "esphome/bench-3/power" in made["gent-repair-pi"].reads
