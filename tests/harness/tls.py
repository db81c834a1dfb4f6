"""A throwaway PKI for TLS tests: a CA, a broker certificate for one IP (127.0.0.1 unless told) and
localhost, a client certificate, and a second CA that signed none of them (the "wrong CA" a
misconfigured site would point at)."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca_file: Path

    def mosquitto_listener(self, require_client_certificate: bool = True) -> str:
        """Lines that make a mosquitto listener (the one above them in the config) speak TLS."""
        return (
            f"cafile {self.ca_file}\ncertfile {self.server_cert}\nkeyfile {self.server_key}\n"
            f"require_certificate {'true' if require_client_certificate else 'false'}\n"
        )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


def _write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _builder(subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
    )


def _ca(name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(name, _name(name), key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    name: str, ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], usage: x509.ObjectIdentifier, host: str | None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(name, ca[0].subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if host is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]),
            critical=False,
        )
    return builder.sign(ca[1], hashes.SHA256()), key


def make_pki(directory: Path, host: str = "127.0.0.1") -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca = _ca("shopfloor test CA")
    server = _leaf("mosquitto", ca, ExtendedKeyUsageOID.SERVER_AUTH, host)
    client = _leaf("gent-repair-edge", ca, ExtendedKeyUsageOID.CLIENT_AUTH, None)
    other = _ca("some other CA")
    return Pki(
        ca_file=_write_cert(ca[0], directory / "ca.pem"),
        server_cert=_write_cert(server[0], directory / "broker.pem"),
        server_key=_write_key(server[1], directory / "broker.key"),
        client_cert=_write_cert(client[0], directory / "client.pem"),
        client_key=_write_key(client[1], directory / "client.key"),
        other_ca_file=_write_cert(other[0], directory / "other-ca.pem"),
    )
