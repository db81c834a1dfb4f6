"""``make_client``: the InfluxDB client for ``influx.version``, imported lazily, so a 1.x setup never loads
influxdb-client."""

from __future__ import annotations

from collector.influx.client import InfluxClient
from collector.settings import InfluxV1Settings, InfluxV2Settings


def make_client(settings: InfluxV1Settings | InfluxV2Settings) -> InfluxClient:
    if isinstance(settings, InfluxV1Settings):
        from collector.influx.v1 import InfluxV1Client

        return InfluxV1Client(settings)
    from collector.influx.v2 import InfluxV2Client

    return InfluxV2Client(settings)
