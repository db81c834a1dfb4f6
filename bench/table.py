"""One table for every benchmark: each script emits rows in one format, ``make bench`` prints them together.

A script builds :class:`Row`s and calls :func:`emit`: the rows are printed, and appended as JSON lines to
the file named by ``SHOPFLOOR_BENCH_TABLE`` when it is set (``scripts/bench.sh`` sets it for the whole run).
``python bench/table.py FILE`` prints the collected rows as one Markdown table.

A row holds one figure and the baseline measured in the same run. Its target applies either to the ratio
(``figure / baseline``, the usual case) or to the figure itself (a latency in ms), with ``>=`` or ``<=``.

Run: .venv/bin/python bench/table.py bench/results/table-<stamp>.jsonl
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

TABLE_ENV = "SHOPFLOOR_BENCH_TABLE"


@dataclass(frozen=True)
class Row:
    bench: str  # the script, e.g. "collector_throughput"
    figure: str  # what was measured, e.g. "live: publish -> all points in InfluxDB"
    value: float
    unit: str
    baseline: float | None = None  # measured in the same run, in the same unit
    baseline_name: str = ""  # e.g. "bare paho subscriber"
    target: float | None = None
    target_on: Literal["ratio", "value"] = "ratio"
    op: Literal[">=", "<="] = ">="
    note: str = ""  # e.g. "best of 3; min-max 9.1-10.2 k msg/s"

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.value / self.baseline

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        measured = self.ratio if self.target_on == "ratio" else self.value
        if measured is None:
            return None
        return measured >= self.target if self.op == ">=" else measured <= self.target


def _cpu_ticks() -> list[int]:
    """The machine's CPU ticks by kind since boot (the ``cpu`` line of /proc/stat; empty where there is none)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            return [int(word) for word in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return []


@dataclass
class CpuSteal:
    """The hypervisor's share of the machine's CPU ticks since this was made ("steal", /proc/stat's 8th column).

    On a shared VM a stalled hour stalls the baseline as much as the figure: printed beside each row, it says
    which runs to distrust (8.7 % during one collector run here, when every process stalled for 0.5 s at once).
    """

    start: list[int] = field(default_factory=_cpu_ticks)

    def share(self) -> float | None:
        now = _cpu_ticks()
        if len(now) < 8 or len(self.start) < 8:
            return None
        spent = [after - before for before, after in zip(self.start, now, strict=False)]
        total = sum(spent)
        return None if total <= 0 else spent[7] / total


def emit(rows: list[Row], path: str | None = None, steal: CpuSteal | None = None) -> None:
    """Print the rows, and append them to the run's table file (``SHOPFLOOR_BENCH_TABLE``) if there is one.
    With ``steal``, each row's note says how much of the CPU the hypervisor took during the run."""
    share = None if steal is None else steal.share()
    if share is not None:
        note = f"VM steal {share:.1%} of CPU ticks during the run"
        rows = [replace(row, note=f"{row.note}; {note}" if row.note else note) for row in rows]
    print(render(rows))
    target = path or os.environ.get(TABLE_ENV)
    if target:
        with Path(target).open("a", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(asdict(row)) + "\n")


def load(path: Path) -> list[Row]:
    return [Row(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}".replace(",", " ")
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def render(rows: list[Row]) -> str:
    lines = [
        "| bench | figure | value | baseline (same run) | ratio | target | met | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        baseline = f"{_number(row.baseline)} {row.unit} ({row.baseline_name})" if row.baseline is not None else ""
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else ""
        if row.target is None:
            target = ""
        elif row.target_on == "ratio":
            target = f"ratio {row.op} {row.target:g}"
        else:
            target = f"{row.op} {row.target:g} {row.unit}"
        met = {True: "met", False: "**not met**", None: ""}[row.met]
        lines.append(
            f"| {row.bench} | {row.figure} | {_number(row.value)} {row.unit} | {baseline} | {ratio} | {target} "
            f"| {met} | {row.note} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    path = Path(argv[0])
    if not path.exists():
        print(f"{path}: no rows (did any benchmark run with {TABLE_ENV} set?)", file=sys.stderr)
        return 1
    print(render(load(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
