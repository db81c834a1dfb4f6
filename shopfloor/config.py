"""Load a YAML config file plus environment variables into a pydantic model.

Used by every component (edge.yaml, collector.yaml, ...). Two ways to keep secrets out of
the file:

* ``${VAR}`` or ``${VAR:-default}`` anywhere in a string value is replaced from the environment;
* ``<PREFIX>__<KEY>__<SUBKEY>=value`` overrides ``key.subkey`` (e.g. ``SHOPFLOOR_EDGE__BROKER__PASSWORD``).

Every error names the file, the key path and how to fix it::

    edge.yaml: buses[0].devices[1].unit_id: must be <= 247 (got 300). Fix: Modbus unit ids are 1..247.

An error never shows the value of a secret (a ``SecretStr`` field), nor the credentials of a URL. A file that holds
a secret itself (not as ``${VAR}``) and that every user of the machine can read gets a warning in the log.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import stat
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, SecretBytes, SecretStr, ValidationError, ValidationInfo

log = logging.getLogger(__name__)

Model = TypeVar("Model", bound=BaseModel)

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]*@")
_BARE_CREDENTIALS = re.compile(r"[^\s/?#@'\"]+:[^\s/?#@'\"]*@")  # user:pw@host, without a scheme


def redact_credentials(text: str) -> str:
    """``http://writer:pw@host`` -> ``http://***@host``, ``writer:pw@host`` -> ``***@host``: for anything that
    may echo a URL or an address."""
    return _BARE_CREDENTIALS.sub("***@", _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}***@", text))


def url_without_credentials(url: str, key: str) -> str:
    """For a field validator of a URL: refuse one that carries a user name or password."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username is not None or parts.password is not None:
        host = parts.hostname or "host"
        bare = parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host).geturl()
        raise ValueError(
            f"the URL carries a user name or password, which would end up in logs and answers: write url: {bare} "
            f"and put the credentials in {key}, ideally as ${{VAR}}"
        )
    return url


def relative_to_config(path: Path, info: ValidationInfo) -> Path:
    """For a field validator: a relative path in a config file means relative to that file's folder."""
    base = (info.context or {}).get("config_dir")
    if base is not None and not path.is_absolute():
        return Path(base) / path
    return path


# A path in a config file: a relative one starts at the file's folder, not at the working directory.
ConfigPath = Annotated[Path, AfterValidator(relative_to_config)]


class Section(BaseModel):
    """A section of a config file: a key it does not know is an error (with a did-you-mean), never ignored."""

    model_config = ConfigDict(extra="forbid")


class ConfigError(Exception):
    """A config file is wrong. ``problems`` holds one line per problem, each naming file and key."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = problems
        super().__init__("\n".join(problems))


def format_location(loc: tuple[int | str, ...] | list[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _hint(error: Mapping[str, Any], model: type[BaseModel]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "add this key."
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, _without_union_tags(model, tuple(error["loc"][:-1])))
        key = str(error["loc"][-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        if close:
            return f"did you mean {close[0]!r}?"
        return f"remove it; allowed keys here: {', '.join(sorted(allowed))}." if allowed else "remove it."
    if kind in ("literal_error", "enum"):
        return f"use one of {ctx.get('expected', 'the allowed values')}."
    if kind.startswith(("int_", "float_")) or kind in ("greater_than", "less_than_equal", "greater_than_equal"):
        return "give a number in the allowed range."
    if kind == "string_pattern_mismatch":
        return "use letters, digits, '_', '.' or '-' (no spaces, no '/')."
    if kind == "value_error":
        return ""  # our validators' messages already say what to do
    return "check the value against docs."


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names (and aliases) of the sub-model(s) at ``loc``; empty when it cannot be followed.

    Through a union of models (e.g. the InfluxDB 1.x/2.x settings) the keys of every member count.
    """
    current: list[type[BaseModel]] = [model]
    key_of_a_mapping = False
    for part in loc:
        if isinstance(part, int) or key_of_a_mapping:
            key_of_a_mapping = False  # a list index, or a key of a mapping such as sites: {<site>: ...}
            continue
        following: list[type[BaseModel]] = []
        for candidate in current:
            fields = candidate.model_fields
            if part in fields:
                following.extend(_inner_models(fields[part].annotation))
                key_of_a_mapping = key_of_a_mapping or typing.get_origin(fields[part].annotation) is dict
        if not following:
            return []
        current = following
    keys: list[str] = []
    for candidate in current:
        keys.extend(f.alias or name for name, f in candidate.model_fields.items() if (f.alias or name) not in keys)
    return keys


def _annotations_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[Any]:
    """The annotations of the field(s) at ``loc`` (through lists, mappings and unions of models)."""
    current: list[type[BaseModel]] = [model]
    annotations: list[Any] = []
    key_of_a_mapping = False
    for part in loc:
        if isinstance(part, int) or key_of_a_mapping:
            key_of_a_mapping = False
            continue
        annotations = [c.model_fields[str(part)].annotation for c in current if str(part) in c.model_fields]
        key_of_a_mapping = any(typing.get_origin(a) is dict for a in annotations)
        current = [m for a in annotations for m in _inner_models(a)]
    return annotations


def _mentions_secret(annotation: Any) -> bool:
    if annotation in (SecretStr, SecretBytes):
        return True
    return any(_mentions_secret(arg) for arg in typing.get_args(annotation))


def is_secret_field(model: type[BaseModel], loc: tuple[int | str, ...]) -> bool:
    return any(_mentions_secret(a) for a in _annotations_at(model, loc))


def _inner_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(m for m in _inner_models(arg) if m not in found)
    return found


def _without_union_tags(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """pydantic puts a tagged union's tag into the error location (``influx.1.database``): drop it."""
    out: list[int | str] = []
    current: list[type[BaseModel]] = [model]
    skip_next = False
    for part in loc:
        if skip_next:
            skip_next = False
            continue
        out.append(part)
        if isinstance(part, int):
            continue
        following: list[type[BaseModel]] = []
        for candidate in current:
            field = candidate.model_fields.get(str(part))
            if field is not None:
                following.extend(_inner_models(field.annotation))
        skip_next = len(following) > 1
        current = following or current
    return tuple(out)


def validation_problems(path: Path | str, exc: ValidationError, model: type[BaseModel]) -> list[str]:
    name = Path(path).name
    problems = []
    for error in exc.errors(include_url=False):
        loc = _without_union_tags(model, tuple(error["loc"]))
        msg = redact_credentials(str(error["msg"]).removeprefix("Value error, "))
        given = error.get("input")
        hint = _hint(error, model)
        if error["type"] != "missing" and is_secret_field(model, loc):
            # Not even a number: an unquoted password of digits is still the password.
            msg = f"{msg} (its value is a secret, not shown)"
            if error["type"] == "string_type":
                hint = 'write it as a string: quote it ("..."), or better, take it from the environment with ${VAR}.'
        elif error["type"] not in ("missing", "extra_forbidden", "model_type") and not isinstance(given, dict | list):
            shown = redact_credentials(repr(given))
            if len(shown) <= 60:
                msg = f"{msg} (got {shown})"
        problems.append(f"{name}: {format_location(loc)}: {msg}." + (f" Fix: {hint}" if hint else ""))
    return problems


def _expand_env(node: Any, path: Path, loc: tuple[int | str, ...], env: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _expand_env(v, path, (*loc, k), env) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand_env(v, path, (*loc, i), env) for i, v in enumerate(node)]
    if isinstance(node, str):

        def replace(match: re.Match[str]) -> str:
            var, default = match.group(1), match.group(2)
            if var in env:
                return env[var]
            if default is not None:
                return default
            raise ConfigError(
                path,
                [
                    f"{path.name}: {format_location(loc)}: environment variable {var} is not set. "
                    f"Fix: export {var}=... or write ${{{var}:-default}}."
                ],
            )

        return _ENV_REF.sub(replace, node)
    return node


def _apply_overrides(
    data: dict[str, Any], prefix: str, env: Mapping[str, str], model: type[BaseModel] | None = None
) -> dict[str, Any]:
    """``PREFIX__A__B=value`` sets ``a.b``. The value is read as YAML (``5`` is a number), except for a secret,
    which is taken as it is: a password of digits stays a string, and one that is not valid YAML is not echoed
    in a parser error."""
    marker = f"{prefix}__"
    for key, value in env.items():
        if not key.startswith(marker):
            continue
        parts = [p.lower() for p in key[len(marker) :].split("__") if p]
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        if not parts:
            continue
        if not value or (model is not None and is_secret_field(model, tuple(parts))):
            node[parts[-1]] = value
            continue
        try:
            node[parts[-1]] = yaml.safe_load(value)
        except yaml.YAMLError:
            node[parts[-1]] = value  # not YAML: the text itself, which the model then checks
    return data


EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


def _example_hint(path: Path) -> str:
    """Which file of examples/ to start from: the one named like ``path`` (edge.yaml), else the list."""
    names = sorted(p.name for p in EXAMPLES_DIR.glob("*.yaml")) if EXAMPLES_DIR.is_dir() else []
    if path.name in names:
        return f"copy examples/{path.name} and edit it"
    if names:
        return "copy one of the examples in examples/ (" + ", ".join(names) + ")"
    return "copy an example from the examples/ folder of shopfloor-monitor's source"


def read_yaml(path: Path | str) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, [f"{path}: file not found. Fix: check the path, or {_example_hint(path)}."]) from None
    except OSError as exc:
        raise ConfigError(path, [f"{path}: cannot be read ({exc.strerror}). Fix: check its permissions."]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            path, [f"{path.name}: {where}: not valid YAML ({problem}). Fix: check indentation and quoting there."]
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            path, [f"{path.name}: (top level): expected a mapping of keys. Fix: start with 'key: value' lines."]
        )
    return data


def _secrets_set(node: Any, loc: tuple[int | str, ...] = ()) -> Iterator[tuple[int | str, ...]]:
    """Where a validated config holds a secret."""
    if isinstance(node, SecretStr | SecretBytes):
        if node.get_secret_value():
            yield loc
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _secrets_set(getattr(node, name), (*loc, name))
    elif isinstance(node, list | tuple):
        for i, item in enumerate(node):
            yield from _secrets_set(item, (*loc, i))
    elif isinstance(node, dict):
        for key, item in node.items():
            yield from _secrets_set(item, (*loc, str(key)))


def _written_in_file(raw: Any, loc: tuple[int | str, ...]) -> bool:
    """Whether the file itself holds the value at ``loc`` (not a ``${VAR}`` reference, not an override)."""
    for part in loc:
        in_mapping = isinstance(raw, dict) and part in raw
        in_list = isinstance(raw, list) and isinstance(part, int) and part < len(raw)
        if not (in_mapping or in_list):
            return False
        raw = raw[part]
    return not (isinstance(raw, str) and not _ENV_REF.sub("", raw).strip())


def warn_if_secrets_readable(path: Path, raw: Mapping[str, Any], settings: BaseModel) -> list[str]:
    """Log (and return) a warning when ``path`` holds a secret and every user can read it."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return []
    if not mode & stat.S_IROTH:
        return []
    written = [format_location(loc) for loc in _secrets_set(settings) if _written_in_file(raw, loc)]
    if not written:
        return []
    warning = (
        f"{path}: holds a secret ({', '.join(written)}) and every user of this machine can read it (mode "
        f"{mode:04o}). Fix: chmod 600 {path} (or 640 with the service's group), or take the secret from the "
        "environment with ${VAR}."
    )
    log.warning("%s", warning)
    return [warning]


def load_config(
    path: Path | str,
    model: type[Model],
    env_prefix: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Model:
    """Read, expand ``${VAR}``, apply ``PREFIX__KEY`` overrides, validate. Raises ConfigError."""
    path = Path(path)
    environ = os.environ if env is None else env
    raw = read_yaml(path)
    data = _expand_env(raw, path, (), environ)
    if env_prefix:
        data = _apply_overrides(data, env_prefix, environ, model)
    try:
        settings = model.model_validate(data, context={"config_dir": path.parent})
    except ValidationError as exc:
        raise ConfigError(path, validation_problems(path, exc, model)) from None
    warn_if_secrets_readable(path, raw, settings)
    return settings
