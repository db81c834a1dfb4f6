"""Pick the writer for ``influx.version``. Imports lazily, so a 1.x setup never loads influxdb-client."""

from __future__ import annotations

from collector.settings import InfluxV1Settings, InfluxV2Settings
from collector.write_result import LineWriter


def make_writer(settings: InfluxV1Settings | InfluxV2Settings) -> LineWriter:
    if isinstance(settings, InfluxV1Settings):
        from collector.influx_v1 import InfluxV1Writer

        return InfluxV1Writer(settings)
    from collector.influx_v2 import InfluxV2Writer

    return InfluxV2Writer(settings)
