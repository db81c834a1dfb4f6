"""``shopfloor edge probe``: which meter answers at which unit id, told by a plausible voltage."""

from __future__ import annotations

from pathlib import Path

from edge.decode import DecodeError, decode_value
from edge.modbus import ModbusLink, ReadError
from edge.profiles import ProfileLibrary

PLAUSIBLE_VOLTS = (80.0, 500.0)


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
) -> dict[int, list[tuple[str, float]]]:
    """unit id -> [(profile ref, volts)] for every profile whose voltage register reads plausibly."""
    library = ProfileLibrary.load(profile_dirs or [])
    link = link_for_target(target, baudrate=baudrate, parity=parity, stopbits=stopbits, timeout_s=timeout_s)
    found: dict[int, list[tuple[str, float]]] = {}
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
                    found.setdefault(unit, []).append((profile.ref, volts))
    finally:
        link.close()
    return found
