"""ModbusLink against a real pymodbus server: a silent TCP meter is 'no answer' within the bus timeout.

The link sets no timer of its own around a request (one per request was the costliest part of the edge's
own work in a poll cycle, docs/performance.md "Edge"): pymodbus's wait for the answer is the bound. These
tests hold it to that, so a pymodbus that stopped bounding it would fail here, not hang a bus.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from edge.modbus import ModbusLink, ReadError
from simulator.meter_server import MeterServer
from tests.edge.helpers import library, meter

TIMEOUT_S = 0.3


def _sdm120_server(meter_server: Callable[..., MeterServer]) -> MeterServer:
    sdm120 = library().get("eastron-sdm120")
    assert sdm120 is not None
    return meter_server([meter(1, sdm120), meter(2, sdm120)])


def test_a_silent_tcp_meter_is_no_answer_within_the_timeout(meter_server: Callable[..., MeterServer]) -> None:
    server = _sdm120_server(meter_server)

    async def scenario() -> tuple[list[int], float, ReadError, list[int], list[int]]:
        link = ModbusLink(host="127.0.0.1", port=server.port, timeout_s=TIMEOUT_S)
        try:
            before = await link.read(4, 0, 2, 2)
            server.set_silent(2)
            start = time.monotonic()
            with pytest.raises(ReadError) as caught:
                async with asyncio.timeout(5):  # an unbounded wait fails the test (TimeoutError) instead of hanging
                    await link.read(4, 0, 2, 2)
            waited = time.monotonic() - start
            other = await link.read(4, 0, 2, 1)  # the same connection serves the meter beside it
            server.set_silent(2, silent=False)
            after = await link.read(4, 0, 2, 2)
            return before, waited, caught.value, other, after
        finally:
            link.close()

    before, waited, error, other, after = asyncio.run(scenario())
    assert error.no_answer and "no answer from unit 2" in str(error)
    # The bound is pymodbus's one wait of timeout_s; the timer the link had was 2 x timeout_s + 0.5 s.
    assert TIMEOUT_S * 0.9 <= waited < TIMEOUT_S * 2 + 0.5
    assert before == after == other and before != [0, 0]


def test_a_refused_request_is_an_error_not_stale(meter_server: Callable[..., MeterServer]) -> None:
    server = _sdm120_server(meter_server)

    async def scenario() -> ReadError:
        link = ModbusLink(host="127.0.0.1", port=server.port, timeout_s=TIMEOUT_S)
        try:
            with pytest.raises(ReadError) as caught:
                await link.read(3, 60000, 2, 1)  # beyond the served range: an exception response
            return caught.value
        finally:
            link.close()

    error = asyncio.run(scenario())
    assert not error.no_answer and "refused FC03 60000+2" in str(error)
