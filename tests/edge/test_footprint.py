"""The edge runs on a Raspberry Pi with only the `edge` extra: no module of it may pull in a server library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SERVER_LIBRARIES = (
    "fastapi",
    "influxdb_client",
    "httpx",
    "uvicorn",
    "matplotlib",
    "grafana_client",
    "prometheus_client",
)

_PROBE = f"""
import importlib, pkgutil, sys
import edge
for module in pkgutil.walk_packages(edge.__path__, "edge."):
    importlib.import_module(module.name)
print(",".join(name for name in {SERVER_LIBRARIES!r} if name in sys.modules))
print(len([name for name in sys.modules if name.startswith("edge.")]))
"""


def test_every_edge_module_imports_without_server_libraries() -> None:
    # A fresh interpreter: this test process has loaded everything already.
    result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True)
    loaded, count = result.stdout.split("\n")[:2]
    assert loaded == ""
    assert int(count) >= 20


_RUN_EDGE_CHECK = """
import sys
from shopfloor.cli import main
code = main(["-v", "edge", "check", sys.argv[1]])
others = sorted({name.split(".")[0] for name in sys.modules} & {"collector", "dashboards", "simulator"})
print(f"exit={code} others={','.join(others)}")
"""


def test_an_edge_command_imports_no_other_component() -> None:
    # `shopfloor edge run` keeps what it imported for as long as it runs: the other components' CLIs
    # (the ORDS converter, the dashboards) cost the agent more than a megabyte of RSS.
    example = Path(__file__).resolve().parents[2] / "examples" / "edge.yaml"
    result = subprocess.run(
        [sys.executable, "-c", _RUN_EDGE_CHECK, str(example)], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.splitlines()[-1] == "exit=0 others="


_RUN_AGENT_IMPORTS = """
import sys
import edge.agent, edge.cli, edge.settings
names = ("edge.peak_guard.shell", "edge.mqtt_sources", "shopfloor.kpi.")
print(",".join(sorted(name for name in sys.modules if name.startswith(names))))
"""


def test_an_agent_without_a_peak_guard_or_plugs_does_not_hold_their_code() -> None:
    # The guard's shell and core, the KPI maths they share with the collector, and the MQTT sources are
    # imported when configured (Agent.__init__): 0.8 MB of the agent's RSS (docs/performance.md, "Edge").
    result = subprocess.run([sys.executable, "-c", _RUN_AGENT_IMPORTS], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.strip().split(","))
    assert "edge.peak_guard.shell" not in loaded and "edge.mqtt_sources" not in loaded
    assert "shopfloor.kpi.energy" not in loaded and "shopfloor.kpi.tariff" in loaded
