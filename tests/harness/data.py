"""Where the shared reference data lives: the real ORDS export the acceptance tests use."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def ords_dir() -> Path:
    """``$SHOPFLOOR_ORDS_DIR``, else ``shared/data/ords`` beside the checkout (as CI lays it out)."""
    candidates = [Path(p) for p in (os.environ.get("SHOPFLOOR_ORDS_DIR"),) if p]
    candidates += [REPO.parent / "shared" / "data" / "ords", Path("/work/shared/data/ords")]
    for candidate in candidates:
        if (candidate / "OpenRepairData_v0.3_RestartProject_202204.csv").exists():
            return candidate
    raise FileNotFoundError(
        "the shared ORDS data is missing: put shared/data/ords beside the checkout or set SHOPFLOOR_ORDS_DIR"
    )
