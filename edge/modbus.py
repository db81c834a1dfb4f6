"""The Modbus I/O shell: async TCP and RTU clients. The only module that imports pymodbus.

Every failure (timeout, exception response, lost connection, short answer) comes out as one
:class:`ReadError`, whose message is what the edge publishes as the reading's ``error``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

log = logging.getLogger(__name__)

# pymodbus logs every timeout at ERROR; the scheduler reports failures once, in its own words.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


class ReadError(Exception):
    """A read failed: no answer, an exception response, or a broken connection.

    ``no_answer`` tells a silent or unreachable meter (stale) from one that answered badly (error).
    """

    def __init__(self, message: str, *, no_answer: bool = True) -> None:
        super().__init__(message)
        self.no_answer = no_answer


class ModbusLink:
    """One connection: a serial port or a TCP host:port. Callers serialise requests on it."""

    def __init__(
        self,
        *,
        serial: str | None = None,
        host: str | None = None,
        port: int = 502,
        baudrate: int = 9600,
        parity: str = "N",
        stopbits: int = 1,
        bytesize: int = 8,
        timeout_s: float = 0.5,
    ) -> None:
        self.timeout_s = timeout_s
        self.lock = asyncio.Lock()
        self.name = serial or f"{host}:{port}"
        self._client: AsyncModbusSerialClient | AsyncModbusTcpClient
        if serial is not None:
            self._client = AsyncModbusSerialClient(
                serial,
                framer=FramerType.RTU,
                baudrate=baudrate,
                parity=parity,
                stopbits=stopbits,
                bytesize=bytesize,
                timeout=timeout_s,
                retries=0,
                reconnect_delay=0,
            )
        else:
            assert host is not None
            self._client = AsyncModbusTcpClient(host, port=port, timeout=timeout_s, retries=0, reconnect_delay=0)

    async def _ensure_connected(self) -> None:
        if self._client.connected:
            return
        try:
            ok = await asyncio.wait_for(self._client.connect(), timeout=self.timeout_s + 2)
        except Exception as exc:  # pyserial/termios errors are not OSErrors: all mean "cannot connect"
            raise ReadError(f"cannot connect to {self.name}: {exc or type(exc).__name__}") from exc
        if not ok:
            raise ReadError(f"cannot connect to {self.name}")

    async def read(self, function: int, address: int, count: int, unit_id: int) -> list[int]:
        """``count`` registers from FC03 (holding) or FC04 (input)."""
        call = self._client.read_holding_registers if function == 3 else self._client.read_input_registers
        response = await self._request(call, function, address, count, unit_id)
        registers: list[int] = response.registers
        if len(registers) < count:
            raise ReadError(
                f"unit {unit_id} on {self.name}: asked {count} registers, got {len(registers)}", no_answer=False
            )
        return registers if len(registers) == count else registers[:count]

    async def read_bits(self, function: int, address: int, count: int, unit_id: int) -> list[bool]:
        """``count`` bits from FC01 (coils) or FC02 (discrete inputs): an I/O module's points."""
        call = self._client.read_coils if function == 1 else self._client.read_discrete_inputs
        response = await self._request(call, function, address, count, unit_id)
        bits = [bool(b) for b in response.bits]
        if len(bits) < count:
            raise ReadError(f"unit {unit_id} on {self.name}: asked {count} bits, got {len(bits)}", no_answer=False)
        return bits[:count]

    async def write_coil(self, address: int, on: bool, unit_id: int) -> None:
        """FC05: switch one coil (a relay output); the peak guard's Modbus loads."""

        async def call(address: int, count: int, device_id: int) -> Any:
            return await self._client.write_coil(address, on, device_id=device_id)

        await self._request(call, 5, address, 1, unit_id)

    async def _request(self, call: Any, function: int, address: int, count: int, unit_id: int) -> Any:
        if not self._client.connected:
            await self._ensure_connected()
        try:
            # No timer of our own around the call: pymodbus waits for each answer at most ``timeout_s``
            # (``wait_for`` on the answer, retries=0) and raises "No response received". A second timer
            # per request cost more than the rest of this method (docs/performance.md, "Edge").
            response = await call(address, count=count, device_id=unit_id)
        except TimeoutError as exc:
            raise ReadError(f"no answer from unit {unit_id} on {self.name}") from exc
        except ModbusException as exc:
            text = str(exc).replace("Modbus Error: ", "")
            if "No response" in text or "timeout" in text.lower():
                raise ReadError(f"no answer from unit {unit_id} on {self.name}") from exc
            raise ReadError(f"unit {unit_id} on {self.name}: {text}", no_answer=False) from exc
        except Exception as exc:  # a broken port or socket, in whatever type the driver raises
            raise ReadError(f"unit {unit_id} on {self.name}: {exc or type(exc).__name__}") from exc
        if response.isError():
            code = getattr(response, "exception_code", "?")
            raise ReadError(
                f"unit {unit_id} on {self.name} refused FC{function:02d} {address}+{count} (exception {code})",
                no_answer=False,
            )
        return response

    def close(self) -> None:
        self._client.close()
