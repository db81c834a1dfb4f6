"""Per-reading cost of the collector's receive path, step by step, against the models' path in the same run.

One ReadingBatch of 500 readings (10 values each, as edges send them) is taken apart:

* baseline: the contract's pydantic models (``decode``) plus ``message_lines``, the authority's path;
* the fast path's steps: JSON parse, contract checks on plain dicts, line protocol from plain dicts.

Each step is timed with ``timeit`` (best of ``--repeat``), reported in µs per reading and as a share of the
baseline. Run: .venv/bin/python bench/collector_steps.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pydantic_core  # noqa: E402

from bench.table import Row, emit  # noqa: E402
from collector.ingest.pipeline import fast_points  # noqa: E402
from collector.points import message_lines, raw_reading_line  # noqa: E402
from shopfloor.contract import Kind, build_topic, decode, parse_topic  # noqa: E402
from shopfloor.contract.fastpath import valid_reading  # noqa: E402
from tests.collector.traffic import base_ts_ms, reading  # noqa: E402

READINGS = 500


def per_reading_us(step: object, repeat: int, number: int = 20) -> float:
    best = min(timeit.repeat(step, number=number, repeat=repeat))  # type: ignore[arg-type]
    return best / number / READINGS * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timeit repeats; the best is reported")
    args = parser.parse_args()
    t0 = base_ts_ms()
    body = {"edge": "edge-1", "readings": [reading(i % 50, i, t0) for i in range(READINGS)]}
    topic, payload = build_topic("test-site", "edge-1", Kind.BATCH), json.dumps(body).encode()
    parsed = pydantic_core.from_json(payload)
    readings = parsed["readings"]
    parsed_topic = parse_topic(topic)
    fast = fast_points(parsed_topic, payload)
    assert fast is not None and fast.lines == message_lines(decode(topic, payload)), "the two paths must agree"

    baseline = per_reading_us(lambda: message_lines(decode(topic, payload)), args.repeat)
    steps = {
        "JSON parse (pydantic-core)": per_reading_us(lambda: pydantic_core.from_json(payload), args.repeat),
        "contract checks on dicts": per_reading_us(
            lambda: all(valid_reading(r, "edge-1") for r in readings), args.repeat
        ),
        "line protocol from dicts": per_reading_us(
            lambda: [raw_reading_line("test-site", r) for r in readings], args.repeat
        ),
        "fast path, all three": per_reading_us(lambda: fast_points(parse_topic(topic), payload), args.repeat),
    }
    print(f"ReadingBatch of {READINGS} readings x 10 values, {len(payload) / READINGS:.0f} bytes a reading")
    print(f"  {'models: decode + message_lines (baseline)':44s} {baseline:6.2f} µs/reading   1.00")
    for name, us in steps.items():
        print(f"  {name:44s} {us:6.2f} µs/reading   {us / baseline:.2f}")
    emit(
        [
            Row(
                "collector_steps",
                f"receive path per reading (ReadingBatch of {READINGS}): {name}",
                us,
                "µs",
                baseline,
                "contract models: decode + message_lines",
                note=f"best of {args.repeat}",
            )
            for name, us in steps.items()
        ]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
