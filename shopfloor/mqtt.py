"""Broker settings and the one place that builds a paho-mqtt client.

The edge agent and the collector both connect through :func:`new_client`, so TLS, auth,
MQTT v5 session properties and reconnect back-off are set up the same way everywhere.
paho's connect failures come out as :class:`MqttError`. The first client installs a leaner decoder
for PUBLISH packets without properties (``_lean_publish_decoder``): paho's own built a ``Properties`` object
from scratch for each one, a fifth of the collector's receive thread.
"""

from __future__ import annotations

import functools
import logging
import ssl
from pathlib import Path
from typing import Self

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from shopfloor.config import relative_to_config
from shopfloor.contract import DEFAULT_PREFIX

log = logging.getLogger(__name__)

# What publish() returns: the simulator waits on these without importing paho itself.
PublishInfo = paho.MQTTMessageInfo


class MqttError(RuntimeError):
    """The broker could not be reached, refused us, or a client call failed."""


CLOSED_BEFORE_CONNACK = (
    "the broker closed the connection before accepting it. Fix: if its port speaks TLS, add a broker.tls "
    "block; if it requires client certificates, set broker.tls.cert_file and key_file"
)


def connection_refused(reason: object) -> str:
    """Why the broker answered a CONNECT with a refusal, and the fix."""
    text = str(reason)
    if text in ("Not authorized", "Bad user name or password"):
        return (
            f"the broker refused the connection ({text}). Fix: broker.username and broker.password must be an "
            "identity of the broker's passwd file (`shopfloor acl generate` makes both, docs/security.md)"
        )
    return f"the broker refused the connection ({text})"


class TlsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ca_file: Path | None = Field(default=None, description="CA bundle; the system store when unset")
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = Field(default=False, description="skip hostname verification (testing only)")

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _readable_file(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        if path is None:
            return None
        path = relative_to_config(path, info)
        if not path.is_file():
            raise ValueError(
                f"{path} is not a file: give the path of a PEM file (relative paths start at the config file)"
            )
        return path

    @model_validator(mode="after")
    def _usable_certificates(self) -> Self:
        # Checked here, so that `check` finds a broken file instead of a traceback at the first connect.
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: set both for client certificates, or neither")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.ca_file is not None:
            try:
                context.load_verify_locations(cafile=self.ca_file)
            except ssl.SSLError as exc:
                raise ValueError(f"ca_file {self.ca_file} holds no usable PEM certificate ({exc.reason})") from None
        if self.cert_file is not None and self.key_file is not None:
            try:
                context.load_cert_chain(self.cert_file, self.key_file)
            except ssl.SSLError as exc:
                raise ValueError(
                    f"cert_file {self.cert_file} and key_file {self.key_file} are not a matching PEM certificate "
                    f"and unencrypted key ({exc.reason})"
                ) from None
        return self


class BrokerSettings(BaseModel):
    """The ``broker:`` block shared by edge.yaml and collector.yaml."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    tls: TlsSettings | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    prefix: str = Field(default=DEFAULT_PREFIX, pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
    reconnect_min_s: float = Field(default=1.0, gt=0, le=60)
    reconnect_max_s: float = Field(default=60.0, gt=0, le=3600)

    @field_validator("host")
    @classmethod
    def _a_host_not_a_url(cls, host: str) -> str:
        if "@" in host or "://" in host or "/" in host:
            raise ValueError(
                "must be a host name or IP address, not a URL: write host: <name or IP> and port: <port>, "
                "and put a user name and password in broker.username and broker.password (as ${VAR})"
            )
        return host


def _lean_publish_decoder() -> None:
    """Decode PUBLISH packets without properties (what edges and the simulator send) without building paho's
    ``Properties`` from scratch: its ``__init__`` fills four tables and ``unpack`` first clears thirty names,
    about a fifth of the collector's receive thread per message (py-spy, docs/performance.md). Any other
    packet, and any paho whose decoder is not the one this was written against, takes paho's own path."""
    from paho.mqtt import _packet

    original = getattr(_packet, "decode_publish", None)
    if original is None or getattr(original, "_shopfloor_lean", False):
        return
    fields = getattr(_packet.PublishPacket, "_fields", ())
    if fields != ("dup", "qos", "retain", "topic", "mid", "properties", "payload"):
        return
    template = dict(vars(Properties(PacketTypes.PUBLISH)))  # type: ignore[no-untyped-call]
    v5 = paho.MQTTv5
    publish_packet = _packet.PublishPacket

    def decode_publish(header: int, packet: bytes | bytearray, protocol: int) -> object:
        if protocol != v5 or (header & 0x06) == 0:
            return original(header, packet, protocol)
        size = len(packet)
        if size < 5:
            return original(header, packet, protocol)
        topic_len = (packet[0] << 8) | packet[1]
        props_at = 2 + topic_len + 2
        if props_at >= size or packet[props_at] != 0:
            return original(header, packet, protocol)  # properties to read (or a malformed packet)
        properties = object.__new__(Properties)
        properties.__dict__.update(template)
        return publish_packet(
            dup=(header & 0x08) != 0,
            qos=(header & 0x06) >> 1,
            retain=(header & 0x01) != 0,
            topic=bytes(packet[2 : 2 + topic_len]),
            mid=(packet[2 + topic_len] << 8) | packet[3 + topic_len],
            properties=properties,
            payload=bytes(packet[props_at + 1 :]),
        )

    decode_publish._shopfloor_lean = True  # type: ignore[attr-defined]
    decode_publish._paho = original  # type: ignore[attr-defined]  # the reference, for the tests
    _packet.decode_publish = decode_publish  # type: ignore[assignment]


def new_client(
    settings: BrokerSettings,
    client_id: str,
    *,
    manual_ack: bool = False,
    max_inflight: int = 100,
) -> paho.Client:
    """A configured MQTT v5 client, not yet connected."""
    _lean_publish_decoder()
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5,
        manual_ack=manual_ack,
    )
    if settings.username is not None:
        password = settings.password.get_secret_value() if settings.password else None
        client.username_pw_set(settings.username, password)
    if settings.tls is not None:
        tls = settings.tls
        client.tls_set(
            ca_certs=str(tls.ca_file) if tls.ca_file else None,
            certfile=str(tls.cert_file) if tls.cert_file else None,
            keyfile=str(tls.key_file) if tls.key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
        client.tls_insecure_set(tls.insecure)
    client.max_inflight_messages_set(max_inflight)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(min_delay=max(1, int(settings.reconnect_min_s)), max_delay=int(settings.reconnect_max_s))
    return client


def connect_properties(session_expiry_s: int, receive_maximum: int | None = None) -> Properties:
    """CONNECT properties: a persistent session (expiry > 0) keeps QoS 1 messages while we are away."""
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = session_expiry_s
    if receive_maximum is not None:
        props.ReceiveMaximum = receive_maximum
    return props


def connect(
    client: paho.Client,
    settings: BrokerSettings,
    *,
    clean_start: bool,
    session_expiry_s: int,
    receive_maximum: int | None = None,
    blocking: bool = True,
) -> None:
    """Connect (or start connecting, with ``blocking=False``); failures become MqttError."""
    props = connect_properties(session_expiry_s, receive_maximum)
    try:
        if blocking:
            client.connect(
                settings.host, settings.port, keepalive=settings.keepalive_s, clean_start=clean_start, properties=props
            )
        else:
            client.connect_async(
                settings.host, settings.port, keepalive=settings.keepalive_s, clean_start=clean_start, properties=props
            )
    except ssl.SSLError as exc:
        raise MqttError(
            f"TLS handshake with MQTT broker {settings.host}:{settings.port} failed: {exc}. Fix: broker.tls.ca_file "
            "must be the CA that signed the broker's certificate, broker.host a name or IP in that certificate, "
            "and cert_file/key_file a client certificate the broker trusts"
        ) from exc
    except (OSError, ValueError) as exc:
        raise MqttError(f"cannot connect to MQTT broker {settings.host}:{settings.port}: {exc}") from exc


def connect_in_background(
    client: paho.Client,
    settings: BrokerSettings,
    *,
    clean_start: bool,
    session_expiry_s: int,
    receive_maximum: int | None = None,
) -> None:
    """Connect and start the network thread, which reconnects with back-off for as long as it runs.

    The first attempt is made here, blocking, because paho's own retries never say why they failed:
    a wrong CA, a closed port or an unknown host is logged once with its reason.
    """
    attempt = functools.partial(
        connect,
        client,
        settings,
        clean_start=clean_start,
        session_expiry_s=session_expiry_s,
        receive_maximum=receive_maximum,
    )
    try:
        attempt()
    except MqttError as exc:
        log.warning("%s; retrying with back-off", exc)
        attempt(blocking=False)
    client.loop_start()
