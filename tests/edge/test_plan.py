"""Read planning: fewest transactions, 125-register limit, function codes apart, small gaps bridged."""

from __future__ import annotations

import itertools

import pytest

from edge.plan import FieldSpan, ReadRequest, plan_reads
from edge.scheduler import device_plan
from edge.settings import DeviceSettings
from tests.edge.helpers import library


def spans(*items: tuple[str, int, int, int]) -> list[FieldSpan]:
    return [FieldSpan(*item) for item in items]


CASES = [
    pytest.param(
        spans(("a", 4, 0, 2), ("b", 4, 2, 2), ("c", 4, 6, 2)),
        {},
        [ReadRequest(4, 0, 8, ("a", "b", "c"))],
        id="small gap bridged",
    ),
    pytest.param(
        spans(("a", 4, 0, 2), ("b", 4, 100, 2)),
        {"max_gap": 32},
        [ReadRequest(4, 0, 2, ("a",)), ReadRequest(4, 100, 2, ("b",))],
        id="large gap split",
    ),
    pytest.param(
        spans(("a", 3, 0, 2), ("b", 4, 0, 2)),
        {},
        [ReadRequest(3, 0, 2, ("a",)), ReadRequest(4, 0, 2, ("b",))],
        id="function codes apart",
    ),
    pytest.param(
        spans(("a", 4, 0, 2), ("b", 4, 122, 2), ("c", 4, 124, 2)),
        {"max_gap": 125},
        [ReadRequest(4, 0, 124, ("a", "b")), ReadRequest(4, 124, 2, ("c",))],
        id="125 register limit",
    ),
    pytest.param(
        spans(("a", 4, 0, 2), ("b", 4, 2, 2), ("c", 4, 4, 2)),
        {"max_registers": 4},
        [ReadRequest(4, 0, 4, ("a", "b")), ReadRequest(4, 4, 2, ("c",))],
        id="device max registers",
    ),
    pytest.param(
        spans(("a", 4, 0, 2), ("b", 4, 2, 2)),
        {"one_per_field": True},
        [ReadRequest(4, 0, 2, ("a",)), ReadRequest(4, 2, 2, ("b",))],
        id="one request per field",
    ),
    pytest.param(
        spans(("b", 4, 10, 1), ("a", 4, 0, 4)),
        {"max_gap": 6},
        [ReadRequest(4, 0, 11, ("a", "b"))],
        id="unsorted input",
    ),
    pytest.param(
        spans(("a", 4, 0, 2), ("b", 4, 3, 2)),
        {"max_gap": 0},
        [ReadRequest(4, 0, 2, ("a",)), ReadRequest(4, 3, 2, ("b",))],
        id="no bridging",
    ),
]


@pytest.mark.parametrize(("fields", "options", "expected"), CASES)
def test_plan(fields: list[FieldSpan], options: dict[str, object], expected: list[ReadRequest]) -> None:
    assert plan_reads(fields, **options) == expected  # type: ignore[arg-type]


def _covered(plan: list[ReadRequest], fields: list[FieldSpan]) -> None:
    for field in fields:
        holders = [r for r in plan if field.quantity in r.quantities]
        assert len(holders) == 1
        (request,) = holders
        assert request.function == field.function
        assert request.address <= field.address and field.end <= request.end
    for request in plan:
        assert 1 <= request.count <= 125


def _brute_force_minimum(fields: list[FieldSpan], max_registers: int, max_gap: int) -> int:
    """Smallest number of windows over all orderings of contiguous groups (small inputs only)."""
    best = len(fields)
    ordered = sorted(fields, key=lambda f: (f.function, f.address))
    for cuts in itertools.product([False, True], repeat=len(ordered) - 1):
        groups: list[list[FieldSpan]] = [[ordered[0]]]
        for cut, field in zip(cuts, ordered[1:], strict=True):
            if cut:
                groups.append([field])
            else:
                groups[-1].append(field)
        ok = True
        for group in groups:
            if len({f.function for f in group}) > 1:
                ok = False
                break
            start, end = group[0].address, max(f.end for f in group)
            if end - start > max_registers:
                ok = False
            for _left, right in itertools.pairwise(group):
                if right.address - max(f.end for f in group[: group.index(right)]) > max_gap:
                    ok = False
        if ok:
            best = min(best, len(groups))
    return best


@pytest.mark.parametrize("max_registers", [4, 10, 125])
@pytest.mark.parametrize("max_gap", [0, 3, 32])
def test_plan_is_minimal(max_registers: int, max_gap: int) -> None:
    fields = spans(
        ("a", 4, 0, 2), ("b", 4, 2, 2), ("c", 4, 7, 1), ("d", 4, 9, 2), ("e", 4, 30, 2), ("f", 3, 5, 2), ("g", 3, 6, 4)
    )
    plan = plan_reads(fields, max_registers=max_registers, max_gap=max_gap)
    _covered(plan, fields)
    assert len(plan) == _brute_force_minimum(fields, max_registers, max_gap)


SHIPPED_PLAN_SIZES = {
    "abb-b23": 2,  # energy at 0x5000, instantaneous values at 0x5B00
    "carlogavazzi-em24": 1,
    "carlogavazzi-em340": 1,
    "eastron-sdm120": 1,
    "eastron-sdm630": 1,
    "finder-7m": 2,  # 2500..2585, 2752..2757: decimal addresses far apart
    "schneider-iem3155": 2,  # 0x0BB7..0x0C26 (gap to frequency bridged) and the INT64 energies at 0x0C83
}


@pytest.mark.parametrize("name", sorted(SHIPPED_PLAN_SIZES))
def test_shipped_profiles_plan(name: str) -> None:
    profile = library().get(name)
    assert profile is not None
    fields, plan = device_plan(DeviceSettings(id="m", unit_id=1, profile=name), profile)
    spans_ = [FieldSpan(f.quantity, f.function, f.address, f.count) for f in fields]
    _covered(plan, spans_)
    assert len(plan) == SHIPPED_PLAN_SIZES[name]
