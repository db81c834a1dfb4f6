"""The files of ``shopfloor acl generate``: the I/O shell around :mod:`shopfloor.acl`.

``passwd`` and ``acl`` for mosquitto, and ``credentials/<user>.env`` (mode 0600, folder 0700) with each identity's
``MQTT_USERNAME`` and ``MQTT_PASSWORD``. An identity that already has a credentials file keeps its password, so
adding a site does not mean reconfiguring every edge. Used by the CLI and by the demo.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from shopfloor.acl import (
    ClusterAuth,
    Credentials,
    Identity,
    credentials,
    identities,
    parse_env,
    render_acl,
    render_env,
    render_passwd,
)


@dataclass
class Written:
    identities: list[Identity]
    credentials: Credentials
    folder: Path | None  # where the credentials files are; None when they were not written
    passwd: Path
    acl: Path


def write_private(path: Path, text: str, mode: int = 0o600, group: str | None = None) -> None:
    """Write through a temporary file created with ``mode``: a secret is never readable by others, not even for a
    moment, and a reader (mosquitto on SIGHUP) never sees half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        if group is not None:
            shutil.chown(temporary, group=int(group) if group.isdigit() else group)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def existing_passwords(folder: Path) -> dict[str, SecretStr]:
    found: dict[str, SecretStr] = {}
    if folder.is_dir():
        for env_file in folder.glob("*.env"):
            values = parse_env(env_file.read_text(encoding="utf-8"))
            if values.get("MQTT_USERNAME") and values.get("MQTT_PASSWORD"):
                found[values["MQTT_USERNAME"]] = SecretStr(values["MQTT_PASSWORD"])
    return found


def write_auth(
    cluster: ClusterAuth, out: Path, *, rotate: bool = False, store: bool = True, group: str | None = None
) -> Written:
    """Write passwd, acl and (with ``store``) the credentials files; ``group`` may read passwd and acl (0640)."""
    everyone = identities(cluster)
    folder = out / "credentials"
    made = credentials([i.username for i in everyone], {} if rotate else existing_passwords(folder), rotate=rotate)
    out.mkdir(parents=True, exist_ok=True)
    mode = 0o600 if group is None else 0o640
    passwd, acl = out / "passwd", out / "acl"
    write_private(passwd, render_passwd(made.passwords), mode, group)
    write_private(acl, render_acl(everyone), mode, group)
    if not store:
        return Written(everyone, made, None, passwd, acl)
    folder.mkdir(mode=0o700, exist_ok=True)
    for identity in everyone:
        write_private(folder / f"{identity.username}.env", render_env(identity, made.passwords[identity.username]))
    return Written(everyone, made, folder, passwd, acl)
