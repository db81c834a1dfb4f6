"""simulate.yaml: what `shopfloor simulate` runs. Every key also has a command-line flag."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shopfloor.mqtt import BrokerSettings


class SimulateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sites: int = Field(
        default=3, ge=1, le=50, description="number of workshops; kinds cycle electrical, textile, furniture"
    )
    seed: int = 42
    broker: BrokerSettings = BrokerSettings()
    modbus_host: str = "127.0.0.1"
    modbus_port: int = Field(default=5020, ge=1, le=65535, description="site i serves its meters on modbus_port + i")
    backfill_days: float = Field(default=0, ge=0, le=400, description="publish this much history before going live")
    backfill_step_s: int = Field(default=60, ge=1, le=3600)
    epoch_days: float = Field(
        default=31, ge=0, description="energy counters start this many days back (stable across runs)"
    )
    live: bool = True
