"""A Modbus server that plays one or more meters (or I/O modules), over TCP or serial RTU.

Used by the simulator, the tests and the benchmarks. Each device is a register map: four
tables of 16-bit words (holding, input) or bits (coils, discrete inputs). Values can be
changed while the server runs; every transaction is counted per (unit id, function code),
so a test can check that the edge does no more reads than its plan says. A device can be
silenced to play a dead meter: it then simply does not answer, as on a real RS-485 bus.

This is the only module of the simulator that imports pymodbus.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Self

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simutils import SimUtils

from simulator.services import free_port, port_open, wait_until


class Table(StrEnum):
    COILS = "coils"  # FC01 / FC05 / FC15
    DISCRETE_INPUTS = "discrete_inputs"  # FC02
    HOLDING = "holding"  # FC03 / FC06 / FC16
    INPUT = "input"  # FC04


_TABLE_OF_FC = {1: Table.COILS, 5: Table.COILS, 15: Table.COILS, 2: Table.DISCRETE_INPUTS}
_TABLE_OF_FC.update({3: Table.HOLDING, 6: Table.HOLDING, 16: Table.HOLDING, 23: Table.HOLDING, 4: Table.INPUT})
_BIT_TABLES = (Table.COILS, Table.DISCRETE_INPUTS)
_READ_FCS = frozenset({1, 2, 3, 4})


@dataclass
class DeviceMap:
    """The registers of one device. Addresses are 0-based PDU addresses."""

    unit_id: int
    tables: dict[Table, dict[int, int]] = field(default_factory=dict)
    silent: bool = False

    def words(self, table: Table) -> dict[int, int]:
        return self.tables.setdefault(table, {})

    def set_words(self, table: Table, address: int, words: Iterable[int]) -> None:
        store = self.words(table)
        for offset, word in enumerate(words):
            if not 0 <= word <= 0xFFFF:
                raise ValueError(f"register {address + offset}: {word} is not a 16-bit word")
            store[address + offset] = word

    def set_bits(self, table: Table, address: int, bits: Iterable[bool]) -> None:
        store = self.words(table)
        for offset, bit in enumerate(bits):
            store[address + offset] = int(bool(bit))


class MeterServer:
    """Serve :class:`DeviceMap` s on ``tcp`` (host, port) or ``serial`` (a pty path), in a thread.

    ``span`` extends each table's served address range on both sides, so reads that bridge
    gaps between fields succeed, as they do on real meters.
    """

    def __init__(
        self,
        devices: Iterable[DeviceMap],
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        serial_port: str | None = None,
        baudrate: int = 9600,
        parity: str = "N",
        stopbits: int = 1,
        span: int = 200,
    ) -> None:
        self.devices: dict[int, DeviceMap] = {d.unit_id: d for d in devices}
        self.host = host
        self.serial_port = serial_port
        self.port = port if port is not None else (0 if serial_port else free_port(host))
        self.baudrate, self.parity, self.stopbits = baudrate, parity, stopbits
        self.span = span
        self.transactions: Counter[tuple[int, int]] = Counter()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    # ---- inspection and control, from any thread
    def count(self, unit_id: int | None = None, function_code: int | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (unit, fc), n in self.transactions.items()
                if (unit_id is None or unit == unit_id) and (function_code is None or fc == function_code)
            )

    def reset_counts(self) -> None:
        with self._lock:
            self.transactions.clear()

    def set_silent(self, unit_id: int, silent: bool = True) -> None:
        self.devices[unit_id].silent = silent

    # ---- lifecycle
    def _sim_device(self, device: DeviceMap) -> SimDevice:
        blocks: list[list[SimData]] = []
        for table in (Table.COILS, Table.DISCRETE_INPUTS, Table.HOLDING, Table.INPUT):
            store = device.words(table)
            if table in _BIT_TABLES:
                # Bits are served from address 0: I/O modules number their points from 0.
                bits = min(0xFFFF, max(store, default=0) + self.span + 1)
                blocks.append([SimData(0, count=(bits + 15) // 16 * 16, values=False, datatype=DataType.BITS)])
            else:
                low = max(0, min(store, default=0) - self.span)
                high = min(0xFFFF, max(store, default=0) + self.span)
                blocks.append([SimData(low, count=high - low + 1, values=0, datatype=DataType.REGISTERS)])

        return SimDevice(
            device.unit_id,
            simdata=(blocks[0], blocks[1], blocks[2], blocks[3]),
            action=functools.partial(self._on_access, device),
        )

    async def _on_access(
        self,
        device: DeviceMap,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if device.silent:
            # A dead meter never answers; the client's timeout is what the edge must handle.
            await asyncio.sleep(3600)
        # pymodbus calls us once to read and once more to write on a write request: count once.
        if set_values is not None or function_code in _READ_FCS:
            with self._lock:
                self.transactions[(device.unit_id, function_code)] += 1
        table = _TABLE_OF_FC.get(function_code)
        if table is None:
            return None
        store = device.words(table)
        if set_values is not None:
            for offset, value in enumerate(set_values):
                store[address + offset] = int(value)
            return None
        if table in _BIT_TABLES:
            # Bit tables arrive as packed 16-bit registers; ``count`` counts registers here.
            first_register = address // 16
            for reg in range(first_register, first_register + count):
                bits = [bool(store.get(reg * 16 + k, 0)) for k in range(16)]
                index = reg - start_address
                if 0 <= index < len(current_registers):
                    current_registers[index] = SimUtils.bitsToRegisters(bits)[0]
            return None
        for offset in range(count):
            index = address - start_address + offset
            if 0 <= index < len(current_registers):
                current_registers[index] = store.get(address + offset, 0)
        return None

    @staticmethod
    async def _absent(function_code: int, start_address: int, *_: object) -> ExcCodes | None:
        raise NoSuchIdException(f"no device at this unit id (FC{function_code:02d} {start_address})")

    def _nobody(self) -> SimDevice:
        """Device id 0 is pymodbus's "any other id". Without it pymodbus 3.16 fails a request to an absent unit
        with a logged ``KeyError: 0`` traceback and an exception answer. This one raises what
        ``ignore_missing_devices`` expects, so an absent unit stays silent, as on a real RS-485 bus."""
        everything = [SimData(0, count=0x10000, values=0, datatype=DataType.REGISTERS)]
        return SimDevice(0, simdata=everything, action=self._absent)

    async def _serve(self) -> None:
        sims = [self._sim_device(d) for d in self.devices.values()]
        if 0 not in self.devices:
            sims.append(self._nobody())
        server: ModbusTcpServer | ModbusSerialServer
        if self.serial_port:
            server = ModbusSerialServer(
                sims,
                framer=FramerType.RTU,
                port=self.serial_port,
                baudrate=self.baudrate,
                parity=self.parity,
                stopbits=self.stopbits,
                ignore_missing_devices=True,
            )
        else:
            server = ModbusTcpServer(sims, address=(self.host, self.port), ignore_missing_devices=True)
        self._server = server
        self._started.set()
        await server.serve_forever()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._error = exc
            self._started.set()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def start(self, timeout: float = 10.0) -> Self:
        self._thread = threading.Thread(target=self._run, name=f"meter-server-{self.port}", daemon=True)
        self._thread.start()
        self._started.wait(timeout)
        if self._error is not None:
            raise RuntimeError(f"meter server failed to start: {self._error}") from self._error
        if not self.serial_port:
            wait_until(lambda: port_open(self.host, self.port), timeout, f"Modbus TCP server on {self.port}")
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is not None and server is not None and loop.is_running():
            with contextlib.suppress(RuntimeError, TimeoutError):
                shutdown = server.shutdown()  # type: ignore[no-untyped-call]
                asyncio.run_coroutine_threadsafe(shutdown, loop).result(timeout=10)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def device_from_words(unit_id: int, tables: Mapping[Table, Mapping[int, int]]) -> DeviceMap:
    return DeviceMap(unit_id, {table: dict(words) for table, words in tables.items()})
