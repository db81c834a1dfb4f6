"""``shopfloor edge probe``: which meter answers at which unit id, told by a plausible voltage.

Some models of one maker share their voltage register (Eastron SDM120 and SDM630, Carlo Gavazzi EM24 and
EM340), and their register maps (docs/edge.md, the profiles' sources) have no model or meter-code register:
what one model lacks the other may answer with zero or an exception, the maps do not say. So the probe names
the family and says plainly that the model is not known, rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from edge.decode import DecodeError, decode_value
from edge.modbus import ModbusLink, ReadError
from edge.profiles import ProfileLibrary

PLAUSIBLE_VOLTS = (80.0, 500.0)


@dataclass(frozen=True, slots=True)
class ProbeMatch:
    ref: str
    manufacturer: str
    model: str
    volts: float


def describe_matches(matches: list[ProbeMatch]) -> str:
    """One answer for one unit id: the profile, or the family, its models and their profiles."""
    parts = []
    ordered = sorted(matches, key=lambda m: (m.manufacturer or m.ref, m.ref))
    for _, group in groupby(ordered, key=lambda m: m.manufacturer or m.ref):
        family = list(group)
        first = family[0]
        if len(family) == 1:
            parts.append(f"{first.ref} ({first.volts:.1f} V)")
            continue
        models = " or ".join(m.model or m.ref for m in family)
        refs = " or ".join(m.ref for m in family)
        parts.append(
            f"{first.manufacturer} {models} ({first.volts:.1f} V). The family is known, the model isn't: "
            f"their register maps have no register that tells them apart. Use {refs}, as the meter's label says."
        )
    return " Or: ".join(parts)


def link_for_target(target: str, *, baudrate: int, parity: str, stopbits: int, timeout_s: float) -> ModbusLink:
    host, sep, port = target.rpartition(":")
    if sep and port.isdigit() and not target.startswith("/"):
        return ModbusLink(host=host, port=int(port), timeout_s=timeout_s)
    return ModbusLink(serial=target, baudrate=baudrate, parity=parity, stopbits=stopbits, timeout_s=timeout_s)


async def probe(
    target: str,
    units: list[int],
    *,
    baudrate: int = 9600,
    parity: str = "N",
    stopbits: int = 1,
    timeout_s: float = 0.3,
    profile_dirs: list[Path] | None = None,
) -> dict[int, list[ProbeMatch]]:
    """unit id -> a match for every profile whose voltage register reads plausibly."""
    library = ProfileLibrary.load(profile_dirs or [])
    link = link_for_target(target, baudrate=baudrate, parity=parity, stopbits=stopbits, timeout_s=timeout_s)
    found: dict[int, list[ProbeMatch]] = {}
    try:
        for unit in units:
            answered, unanswered = False, 0
            for profile in library.all():
                (spec,) = profile.resolved([profile.probe])
                try:
                    words = await link.read(spec.function, spec.address, spec.count, unit)
                except ReadError as exc:
                    unanswered += exc.no_answer
                    answered = answered or not exc.no_answer
                    if not answered and unanswered >= 2:
                        break  # nobody at this unit id: do not wait out every profile's timeout
                    continue
                answered = True
                try:
                    volts = decode_value(words, spec)
                except DecodeError:
                    continue
                if volts is not None and PLAUSIBLE_VOLTS[0] <= volts <= PLAUSIBLE_VOLTS[1]:
                    match = ProbeMatch(profile.ref, profile.manufacturer, profile.model, volts)
                    found.setdefault(unit, []).append(match)
    finally:
        link.close()
    return found
