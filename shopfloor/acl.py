"""Broker identities of a cluster, from ``sites.yaml``: mosquitto's ``passwd`` and ``acl`` files.

The pure part of ``shopfloor acl generate`` (docs/security.md). One identity per program:

* each **edge** publishes only its own site's readings, events, batches and its own status, and reads only the
  topics of the plugs listed under it;
* each **plug** (Shelly, Tasmota, a JSON device) that talks to this broker publishes only under its own device
  topics, and reads only its command topics;
* the **collector** reads every site's contract topics, also through its shared-subscription filter;
* a **publisher** (the simulator, an import) publishes contract messages for the sites it is given;
* the **monitor** reads ``$SYS`` (health checks, a Prometheus exporter).

Passwords come from :mod:`secrets`; ``passwd`` holds them hashed the way ``mosquitto_passwd`` of mosquitto 2.0
writes them (``$7$``: PBKDF2-SHA512, 101 iterations, a 12-byte salt).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BeforeValidator, Field, SecretStr, model_validator

from edge.sources import shelly, tasmota
from shopfloor.config import Section, load_config
from shopfloor.contract import DEFAULT_PREFIX
from shopfloor.contract.topics import CONTRACT_VERSION, ID_PATTERN, Kind

# What mosquitto_passwd 2.0 writes; mosquitto reads the count from each line.
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12
PASSWORD_BYTES = 24  # 192 random bits: 32 URL-safe characters

# A plug's own id becomes a topic level: no wildcards, no '/', nothing mosquitto's passwd file cannot hold.
PLUG_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
SiteId = Annotated[str, Field(pattern=ID_PATTERN)]
Username = Annotated[str, Field(pattern=USERNAME_PATTERN)]


def _topic_filter(value: object) -> object:
    if isinstance(value, str) and (not value or value.startswith(("$", "/")) or "#" in value[:-1]):
        raise ValueError(f"{value!r} is not a plug's topic: no '$' topics, '#' only at the end")
    return value


TopicFilter = Annotated[str, BeforeValidator(_topic_filter), Field(min_length=1, max_length=256)]


class PlugIdentity(Section):
    """A plug or JSON device that publishes to this broker (not to a site's local broker)."""

    format: Literal["shelly-gen1", "shelly-gen2", "tasmota", "generic-json", "button-box"]
    device: str | None = Field(default=None, pattern=PLUG_ID_PATTERN, description="as in edge.yaml mqtt_sources")
    channel: int = Field(default=0, ge=0, le=7)
    topics: list[TopicFilter] = Field(default_factory=list, description="generic-json / button-box: its topics")
    username: Username | None = Field(default=None, description="default: the device id")

    @model_validator(mode="after")
    def _keys_fit_the_format(self) -> Self:
        if self.format in ("shelly-gen1", "shelly-gen2", "tasmota"):
            if not self.device:
                raise ValueError(f"format {self.format} needs 'device', the id in its topics (as in edge.yaml)")
            if self.topics:
                raise ValueError(f"format {self.format} has fixed topics: remove 'topics'")
        else:
            if not self.topics:
                raise ValueError(f"format {self.format} needs 'topics': the topics it publishes (as in edge.yaml)")
            if not self.username:
                raise ValueError(f"format {self.format} needs 'username': the user name the device connects with")
        return self

    @property
    def user(self) -> str:
        return self.username or self.device or ""

    def read_by_edge(self) -> list[str]:
        """The topics the edge subscribes to for this plug: the same as edge/mqtt_sources.py's source_topics."""
        device = self.device or ""
        if self.format == "shelly-gen1":
            return shelly.gen1_topics(device, self.channel)
        if self.format == "shelly-gen2":
            return shelly.gen2_topics(device, self.channel)
        if self.format == "tasmota":
            return tasmota.topics(device)
        return list(self.topics)

    def writes(self) -> list[str]:
        """Everything the device publishes: metering, its online/LWT and info topics."""
        device = self.device or ""
        if self.format == "shelly-gen1":
            return [f"shellies/{device}/#"]  # not shellies/announce: shared by every plug, so anyone's to forge
        if self.format == "shelly-gen2":
            return [f"{device}/#"]
        if self.format == "tasmota":
            return [f"tele/{device}/#", f"stat/{device}/#"]
        return list(self.topics)

    def reads(self) -> list[str]:
        """Its command topics."""
        device = self.device or ""
        if self.format == "shelly-gen1":
            return [f"shellies/{device}/#", "shellies/command"]
        if self.format == "shelly-gen2":
            return [f"{device}/#"]
        if self.format == "tasmota":
            return [f"cmnd/{device}/#", "cmnd/tasmotas/#"]
        return []


def _edge_entry(value: object) -> object:
    return {"id": value} if isinstance(value, str) else value


class EdgeIdentity(Section):
    id: SiteId = Field(description="edge_id in edge.yaml; also its MQTT user name unless 'username' is set")
    username: Username | None = None
    plugs: list[PlugIdentity] = Field(default_factory=list, description="its plugs that use this broker")

    @property
    def user(self) -> str:
        return self.username or self.id


class SiteEntry(Section):
    edges: list[Annotated[EdgeIdentity, BeforeValidator(_edge_entry)]] = Field(min_length=1)


class CollectorIdentity(Section):
    username: Username = "collector"
    shared_group: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="subscription.shared_group in collector.yaml"
    )


class PublisherIdentity(Section):
    username: Username
    sites: list[SiteId] | Literal["*"] = Field(description="the sites it publishes for, or '*' for all")


class MonitorIdentity(Section):
    username: Username = "monitor"


class ClusterAuth(Section):
    """sites.yaml."""

    prefix: str = Field(default=DEFAULT_PREFIX, pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
    collector: CollectorIdentity = Field(default_factory=CollectorIdentity)
    monitor: MonitorIdentity | None = Field(default_factory=MonitorIdentity, description="null: no $SYS reader")
    publishers: list[PublisherIdentity] = Field(default_factory=list)
    sites: dict[SiteId, SiteEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_owner_each(self) -> Self:
        owners: dict[str, str] = {}

        def claim(user: str, what: str) -> None:
            if user in owners:
                raise ValueError(f"user name {user!r} is both {owners[user]} and {what}: give each its own")
            owners[user] = what

        claim(self.collector.username, "the collector")
        if self.monitor is not None:
            claim(self.monitor.username, "the monitor")
        for publisher in self.publishers:
            claim(publisher.username, f"publisher {publisher.username}")
            if publisher.sites != "*":
                unknown = [s for s in publisher.sites if s not in self.sites]
                if unknown:
                    raise ValueError(f"publisher {publisher.username}: no site {unknown[0]!r} in 'sites'")
        plug_writes: list[tuple[str, str, str]] = []  # (filter, user, site)
        contract = f"{self.prefix}/{CONTRACT_VERSION}/#"
        for site, entry in self.sites.items():
            for edge in entry.edges:
                claim(edge.user, f"edge {edge.id} of {site}")
                for plug in edge.plugs:
                    claim(plug.user, f"plug {plug.user} of {site}")
                    for topic in plug.writes():
                        if filters_overlap(topic, contract):
                            raise ValueError(
                                f"plug {plug.user}: its topics {topic} overlap the contract's {contract}: "
                                "rename the device"
                            )
                        plug_writes.append((topic, plug.user, site))
        for i, (topic, user, site) in enumerate(plug_writes):
            for other, other_user, other_site in plug_writes[i + 1 :]:
                if other_user != user and filters_overlap(topic, other):
                    raise ValueError(
                        f"plugs {user} ({site}) and {other_user} ({other_site}) could publish to the same topics "
                        f"({topic}, {other}): one could feed the other's edge. Give each device its own id or topics"
                    )
        return self


def filters_overlap(a: str, b: str) -> bool:
    """Whether some topic matches both MQTT topic filters."""
    left, right = a.split("/"), b.split("/")
    for i in range(max(len(left), len(right))):
        x = left[i] if i < len(left) else None
        y = right[i] if i < len(right) else None
        if x == "#" or y == "#":
            return True
        if x is None or y is None:
            return False
        if x != y and "+" not in (x, y):
            return False
    return True


@dataclass(frozen=True)
class Identity:
    username: str
    role: str  # said in the acl file's comments and the credentials file
    writes: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()


def identities(cluster: ClusterAuth) -> list[Identity]:
    """Every identity of the cluster with its grants, in a stable order."""
    base = f"{cluster.prefix}/{CONTRACT_VERSION}"
    everything = f"{base}/#"
    collector_reads = [everything]
    if cluster.collector.shared_group:
        collector_reads.append(f"$share/{cluster.collector.shared_group}/{everything}")
    out = [Identity(cluster.collector.username, "collector: reads every site", reads=tuple(collector_reads))]
    if cluster.monitor is not None:
        out.append(Identity(cluster.monitor.username, "monitor: reads $SYS", reads=("$SYS/#",)))
    for publisher in cluster.publishers:
        sites = list(cluster.sites) if publisher.sites == "*" else publisher.sites
        out.append(
            Identity(
                publisher.username,
                f"publisher for {', '.join(sites)}",
                writes=tuple(f"{base}/{site}/+/{kind}" for site in sites for kind in (Kind.EVENT, Kind.BATCH)),
            )
        )
    for site, entry in cluster.sites.items():
        for edge in entry.edges:
            writes = [f"{base}/{site}/+/{Kind.READING}", f"{base}/{site}/+/{Kind.EVENT}"]
            writes += [f"{base}/{site}/{edge.id}/{Kind.BATCH}", f"{base}/{site}/{edge.id}/{Kind.STATUS}"]
            reads = list(dict.fromkeys(t for plug in edge.plugs for t in plug.read_by_edge()))
            out.append(Identity(edge.user, f"edge {edge.id} of site {site}", tuple(writes), tuple(reads)))
            for plug in edge.plugs:
                out.append(
                    Identity(plug.user, f"{plug.format} plug of site {site}", tuple(plug.writes()), tuple(plug.reads()))
                )
    return out


def new_password() -> SecretStr:
    return SecretStr(secrets.token_urlsafe(PASSWORD_BYTES))


def hash_password(password: SecretStr, salt: bytes | None = None) -> str:
    """The hash as mosquitto_passwd 2.0 writes it: ``$7$<iterations>$<base64 salt>$<base64 PBKDF2-SHA512>``."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.get_secret_value().encode(), salt, PBKDF2_ITERATIONS)
    return f"$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: SecretStr, hashed: str) -> bool:
    """Check a password against one ``$7$`` hash, as mosquitto does (constant time)."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        return False
    salt, expected = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    digest = hashlib.pbkdf2_hmac("sha512", password.get_secret_value().encode(), salt, int(parts[2]))
    return secrets.compare_digest(digest, expected)


@dataclass
class Credentials:
    passwords: dict[str, SecretStr] = field(default_factory=dict)
    new: list[str] = field(default_factory=list)  # user names whose password was made now


def credentials(users: Iterable[str], existing: Mapping[str, SecretStr], rotate: bool = False) -> Credentials:
    """Keep the passwords the identities already have (unless ``rotate``), make the others."""
    made = Credentials()
    for user in users:
        if user in existing and not rotate:
            made.passwords[user] = existing[user]
        else:
            made.passwords[user] = new_password()
            made.new.append(user)
    return made


def render_passwd(passwords: Mapping[str, SecretStr]) -> str:
    return "".join(f"{user}:{hash_password(password)}\n" for user, password in passwords.items())


def render_acl(cluster_identities: Iterable[Identity]) -> str:
    lines = [
        "# mosquitto acl_file, made by `shopfloor acl generate` from sites.yaml: edit sites.yaml, not this file.",
        "# No 'topic' line before the first 'user': anonymous clients get nothing.",
    ]
    for identity in cluster_identities:
        lines += ["", f"# {identity.role}", f"user {identity.username}"]
        lines += [f"topic write {topic}" for topic in identity.writes]
        lines += [f"topic read {topic}" for topic in identity.reads]
    return "\n".join(lines) + "\n"


def render_env(identity: Identity, password: SecretStr) -> str:
    """The credentials file of one identity, for a program's ``${MQTT_USERNAME}`` / ``${MQTT_PASSWORD}``."""
    return (
        f"# MQTT identity of the {identity.role}, made by `shopfloor acl generate`. Keep it secret (mode 0600).\n"
        f"MQTT_USERNAME={identity.username}\nMQTT_PASSWORD={password.get_secret_value()}\n"
    )


def parse_env(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    return values


def load_sites(path: Path | str) -> ClusterAuth:
    """Read sites.yaml; raises shopfloor.config.ConfigError naming file, key and fix."""
    return load_config(path, ClusterAuth)
