"""The edge benchmark's memory and CPU baseline: a bare pymodbus + paho loop, nothing else.

    python bench/edge_bare_loop.py BROKER_PORT PLAN_JSON

``PLAN_JSON`` is a list of ``{"host", "port", "unit", "interval_s", "blocks": [[function, address, count], ...]}``,
the same blocks the agent reads (bench/edge_poll.py writes it). Every interval each meter's blocks are read
and their registers published with QoS 1 as one JSON message: what any Modbus-to-MQTT script does, with no
config validation, no decoding, no outbox.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from typing import Any

import paho.mqtt.client as paho
from pymodbus.client import AsyncModbusTcpClient


async def poll_meter(mqtt: paho.Client, index: int, meter: dict[str, Any], stop: asyncio.Event) -> None:
    client = AsyncModbusTcpClient(meter["host"], port=meter["port"], timeout=1, retries=0)
    await client.connect()
    interval, unit, blocks = meter["interval_s"], meter["unit"], meter["blocks"]
    next_due = time.monotonic() + interval * index / 10
    while not stop.is_set():
        await asyncio.sleep(max(0.0, next_due - time.monotonic()))
        next_due += interval
        words = []
        for function, address, count in blocks:
            call = client.read_holding_registers if function == 3 else client.read_input_registers
            response = await call(address, count=count, device_id=unit)
            words.append(response.registers)
        mqtt.publish(f"bare/m{index}/reading", json.dumps({"ts": time.time(), "words": words}), qos=1)
    client.close()


async def main(port: int, meters: list[dict[str, Any]]) -> None:
    mqtt = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bare-loop")
    mqtt.connect("127.0.0.1", port)
    mqtt.loop_start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await asyncio.gather(*(poll_meter(mqtt, i, m, stop) for i, m in enumerate(meters)))
    mqtt.disconnect()
    mqtt.loop_stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), json.loads(sys.argv[2])))
