"""Meter profiles: versioned YAML register maps, shipped in ``edge/profiles/`` or kept by the user.

A profile maps contract quantities (``power``, ``energy_import``, ...) to registers. Each
field says where the value lives (function code, address), how it is encoded (type, word
order), how to turn it into the contract's canonical unit (``scale``) and which raw values
mean "not available" (``sentinels``). ``defaults`` saves repeating what all fields share.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shopfloor.config import ConfigError, read_yaml, validation_problems
from shopfloor.contract import QUANTITY_UNITS


class DataType(StrEnum):
    U16 = "u16"
    I16 = "i16"
    U32 = "u32"
    I32 = "i32"
    U64 = "u64"
    F32 = "f32"
    F64 = "f64"

    @property
    def registers(self) -> int:
        return {"u16": 1, "i16": 1, "u32": 2, "i32": 2, "f32": 2, "u64": 4, "f64": 4}[self.value]


class WordOrder(StrEnum):
    HIGH_FIRST = "high_first"  # big endian: Eastron, Schneider, ABB, Finder
    LOW_FIRST = "low_first"  # Carlo Gavazzi


FunctionCode = Literal[3, 4]


class FieldDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    function: FunctionCode = 3
    type: DataType = DataType.F32
    word_order: WordOrder = WordOrder.HIGH_FIRST


class RegisterField(BaseModel):
    """One quantity of a meter. ``unit`` is the unit after scaling: the contract's canonical unit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: int = Field(ge=0, le=0xFFFF, description="0-based PDU address (vendor register number - 1)")
    function: FunctionCode | None = Field(default=None, description="3 = holding, 4 = input registers")
    type: DataType | None = None
    word_order: WordOrder | None = None
    scale: float = Field(default=1.0, description="raw value x scale = value in unit")
    unit: str = Field(min_length=1, max_length=16)
    sentinels: tuple[int, ...] = Field(default=(), description="raw register values meaning 'not available'")

    @field_validator("scale")
    @classmethod
    def _non_zero(cls, scale: float) -> float:
        if scale == 0:
            raise ValueError("scale 0 would turn every value into 0: use 1, or 0.1, 1000, ...")
        return scale


class ResolvedField(BaseModel):
    """A field with the profile defaults applied: everything the decoder needs."""

    model_config = ConfigDict(frozen=True)

    quantity: str
    function: FunctionCode
    address: int
    type: DataType
    word_order: WordOrder
    scale: float
    unit: str
    sentinels: tuple[int, ...]

    @property
    def count(self) -> int:
        return self.type.registers


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,47}$")
    version: int = Field(ge=1)
    manufacturer: str = ""
    model: str = ""
    defaults: FieldDefaults = FieldDefaults()
    probe: str = Field(default="voltage_l1", description="a voltage field read by `shopfloor edge probe`")
    fields: dict[str, RegisterField] = Field(min_length=1)

    @field_validator("fields")
    @classmethod
    def _contract_quantities(cls, fields: dict[str, RegisterField]) -> dict[str, RegisterField]:
        for quantity, spec in fields.items():
            expected = QUANTITY_UNITS.get(quantity)
            if expected is None and not quantity.startswith("x_"):
                raise ValueError(
                    f"{quantity!r} is not a contract quantity: use one of {', '.join(QUANTITY_UNITS)}, "
                    "or prefix a custom one with 'x_'"
                )
            if expected is not None and spec.unit != expected:
                raise ValueError(
                    f"{quantity}.unit must be {expected!r} (got {spec.unit!r}): set 'scale' to convert, "
                    "e.g. kW -> W is scale 1000, Wh -> kWh is scale 0.001"
                )
        return fields

    @model_validator(mode="after")
    def _probe_is_a_field(self) -> Self:
        if self.probe not in self.fields:
            raise ValueError(f"probe {self.probe!r} is not one of the fields")
        return self

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def resolved(self, quantities: Iterable[str] | None = None) -> list[ResolvedField]:
        wanted = list(self.fields) if quantities is None else list(quantities)
        out = []
        for quantity in wanted:
            spec = self.fields[quantity]
            out.append(
                ResolvedField(
                    quantity=quantity,
                    function=spec.function or self.defaults.function,
                    address=spec.address,
                    type=spec.type or self.defaults.type,
                    word_order=spec.word_order or self.defaults.word_order,
                    scale=spec.scale,
                    unit=spec.unit,
                    sentinels=spec.sentinels,
                )
            )
        return out


def load_profile(path: Path | str) -> Profile:
    data: dict[str, Any] = read_yaml(path)
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, validation_problems(path, exc, Profile)) from None


class ProfileLibrary:
    """All known profiles, by name and by ``name@version``. User dirs may add or override versions."""

    def __init__(self, profiles: Iterable[Profile]) -> None:
        self._by_ref: dict[str, Profile] = {}
        self._latest: dict[str, Profile] = {}
        for profile in profiles:
            self._by_ref[profile.ref] = profile
            current = self._latest.get(profile.name)
            if current is None or profile.version >= current.version:
                self._latest[profile.name] = profile

    @classmethod
    def load(cls, user_dirs: Iterable[Path] = ()) -> ProfileLibrary:
        profiles: list[Profile] = []
        shipped = resources.files("edge").joinpath("profiles")
        for entry in sorted(shipped.iterdir(), key=lambda e: e.name):
            if entry.name.endswith((".yaml", ".yml")):
                with resources.as_file(entry) as path:
                    profiles.append(load_profile(path))
        for directory in user_dirs:
            for path in sorted(Path(directory).glob("*.y*ml")):
                profiles.append(load_profile(path))
        return cls(profiles)

    def names(self) -> list[str]:
        return sorted(self._latest)

    def all(self) -> list[Profile]:
        return [self._latest[name] for name in self.names()]

    def get(self, ref: str) -> Profile | None:
        """``name`` (the newest version) or ``name@version``."""
        if "@" in ref:
            return self._by_ref.get(ref)
        return self._latest.get(ref)
