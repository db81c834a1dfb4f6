"""MQTT topic scheme of contract v1: ``<prefix>/v1/<site>/<source>/<kind>``.

* ``prefix`` defaults to ``shopfloor``; a cluster may choose its own.
* ``v1`` is the contract version; a v2 would live beside it on the same broker.
* ``site`` comes third so one broker ACL (``pattern readwrite shopfloor/v1/<site>/#``)
  confines a site's edge agent to its own subtree.
* ``source`` is a meter, a bench station or an edge agent id, unique within the site.
* ``kind`` says which payload model the message carries (see :class:`Kind`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from shopfloor.contract.errors import ContractError

CONTRACT_VERSION = "v1"
DEFAULT_PREFIX = "shopfloor"

# Ids become topic levels and InfluxDB tag values: no MQTT wildcards, no '/', no spaces.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_ID_RE = re.compile(ID_PATTERN)


class Kind(StrEnum):
    READING = "reading"  # one MeterReading, published live
    BATCH = "batch"  # a ReadingBatch: the backlog flush after an outage
    EVENT = "event"  # one StationEvent
    STATUS = "status"  # the retained EdgeStatus of an edge agent (its last will too)
    GUARD = "guard"  # one GuardDecision of an edge's peak guard


@dataclass(frozen=True, slots=True)
class Topic:
    prefix: str
    site: str
    source: str
    kind: Kind

    def __str__(self) -> str:
        return f"{self.prefix}/{CONTRACT_VERSION}/{self.site}/{self.source}/{self.kind.value}"


def is_valid_id(value: str) -> bool:
    # fullmatch: with match, "$" also matches before a final newline.
    return _ID_RE.fullmatch(value) is not None


def build_topic(site: str, source: str, kind: Kind, prefix: str = DEFAULT_PREFIX) -> str:
    for name, value in (("site", site), ("source", source)):
        if not is_valid_id(value):
            raise ContractError(
                f"topic.{name}", f"{value!r} is not a valid id (letters, digits, '_', '.', '-'; at most 64)"
            )
    return str(Topic(prefix, site, source, kind))


def subscription(prefix: str = DEFAULT_PREFIX, site: str = "+") -> str:
    """The filter that receives every v1 message, of all sites or of one."""
    return f"{prefix}/{CONTRACT_VERSION}/{site}/+/+"


def parse_topic(topic: str, prefix: str = DEFAULT_PREFIX) -> Topic:
    parts = topic.split("/")
    prefix_parts = prefix.split("/")
    n = len(prefix_parts)
    if parts[:n] != prefix_parts:
        raise ContractError("topic", f"{topic!r} does not start with the prefix {prefix!r}")
    rest = parts[n:]
    if len(rest) != 4:
        raise ContractError("topic", f"{topic!r} is not {prefix}/{CONTRACT_VERSION}/<site>/<source>/<kind>")
    version, site, source, kind = rest
    if not is_valid_id(site):
        raise ContractError("topic.site", f"{site!r} is not a valid id")
    if version != CONTRACT_VERSION:
        raise ContractError(
            "topic.version", f"unsupported contract version {version!r}, expected {CONTRACT_VERSION!r}", site
        )
    if not is_valid_id(source):
        raise ContractError("topic.source", f"{source!r} is not a valid id", site)
    try:
        parsed_kind = Kind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in Kind)
        raise ContractError("topic.kind", f"unknown kind {kind!r}, expected one of {allowed}", site) from None
    return Topic(prefix, site, source, parsed_kind)
