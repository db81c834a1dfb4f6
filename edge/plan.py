"""Read planning: the fewest Modbus transactions that cover the wanted fields. Pure.

Fields are grouped by function code, sorted by address and merged greedily into one read
while the read stays within ``max_registers`` (125, the Modbus limit for FC03/FC04) and the
unread gap between neighbours is at most ``max_gap`` registers. For fields on a line that
must each lie whole in one window, greedy merging from the lowest address is optimal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MODBUS_MAX_REGISTERS = 125


@dataclass(frozen=True, slots=True)
class FieldSpan:
    quantity: str
    function: int
    address: int
    count: int

    @property
    def end(self) -> int:
        return self.address + self.count


@dataclass(frozen=True, slots=True)
class ReadRequest:
    function: int
    address: int
    count: int
    quantities: tuple[str, ...]

    @property
    def end(self) -> int:
        return self.address + self.count


def plan_reads(
    fields: Iterable[FieldSpan],
    *,
    max_registers: int = MODBUS_MAX_REGISTERS,
    max_gap: int = 64,
    one_per_field: bool = False,
) -> list[ReadRequest]:
    if not 1 <= max_registers <= MODBUS_MAX_REGISTERS:
        raise ValueError(f"max_registers must be 1..{MODBUS_MAX_REGISTERS}, got {max_registers}")
    if max_gap < 0:
        raise ValueError(f"max_gap must be >= 0, got {max_gap}")
    spans = sorted(fields, key=lambda f: (f.function, f.address, f.count))
    plan: list[ReadRequest] = []
    current: list[FieldSpan] = []
    start = end = function = 0
    for span in spans:
        if span.count > max_registers:
            raise ValueError(f"{span.quantity} needs {span.count} registers, more than max_registers={max_registers}")
        fits = (
            current
            and not one_per_field
            and span.function == function
            and span.address - end <= max_gap
            and max(end, span.end) - start <= max_registers
        )
        if fits:
            current.append(span)
            end = max(end, span.end)
            continue
        if current:
            plan.append(ReadRequest(function, start, end - start, tuple(f.quantity for f in current)))
        current, start, end, function = [span], span.address, span.end, span.function
    if current:
        plan.append(ReadRequest(function, start, end - start, tuple(f.quantity for f in current)))
    return plan
