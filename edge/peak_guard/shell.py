"""The peak guard's I/O shell: meter polls in, coils and relays switched, state saved, decisions published.

Each tick (every main-meter poll, and at least once a second so quarter ends, overrides and
hold times are seen without readings): ask :class:`PeakGuard`, save the state, then switch,
then put each decision in the outbox. A switch that fails is retried on every tick until it
succeeds, and the decision still says what the guard meant to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from edge.modbus import ModbusLink, ReadError
from edge.peak_guard.core import Decision, PeakGuard
from edge.peak_guard.settings import LoadSettings, PeakGuardSettings, RelaySettings
from edge.peak_guard.state import load_overrides, load_state, save_state
from edge.scheduler import Poll
from shopfloor.contract import GuardAction, GuardDecision, Quality, encode
from shopfloor.kpi.energy import MeterSample
from shopfloor.mqtt import BrokerSettings, connect_in_background, new_client

if TYPE_CHECKING:  # for the type only: shopfloor.mqtt makes the client
    import paho.mqtt.client as paho

log = logging.getLogger(__name__)

TICK_S = 1.0
# Without a reading this long, the state is still saved, so a crash loses at most this of the quarter.
SAVE_EVERY_S = 10.0

Store = Callable[[int, Callable[[int], str]], None]


def relay_command(relay: RelaySettings, on: bool) -> tuple[str, str]:
    """The MQTT topic and payload that switch a Shelly or Tasmota relay (their documented APIs)."""
    if relay.format == "shelly-gen1":
        return f"shellies/{relay.device}/relay/{relay.channel}/command", "on" if on else "off"
    if relay.format == "shelly-gen2":
        body = {
            "id": 1,
            "src": "shopfloor-peak-guard",
            "method": "Switch.Set",
            "params": {"id": relay.channel, "on": on},
        }
        return f"{relay.device}/rpc", json.dumps(body)
    return f"cmnd/{relay.device}/POWER{relay.channel + 1}", "ON" if on else "OFF"


def sample_of(poll: Poll, ts_ms: int) -> MeterSample | None:
    """A good poll of the main meter as a sample at ``ts_ms`` (when it arrived, on the guard's clock).

    A stale or failed poll is no sample: the meter is silent, never zero.
    """
    if poll.quality is not Quality.OK:
        return None
    power = poll.values.get("power", (None, "W"))[0]
    energy = poll.values.get("energy_import", (None, "kWh"))[0]
    if power is None and energy is None:
        return None
    return MeterSample(ts_ms, power, energy)


def decision_payload(edge_id: str, decision: Decision, number: int) -> Callable[[int], str]:
    model = GuardDecision(
        decision_id=f"{edge_id}-{decision.ts_ms}-{number}"[:64],
        ts_ms=decision.ts_ms,
        edge=edge_id,
        action=GuardAction(decision.action),
        load=decision.load,
        quarter_start_ms=decision.quarter_start_ms,
        forecast_kw=None if decision.forecast_kw is None else round(decision.forecast_kw, 3),
        average_kw=None if decision.average_kw is None else round(decision.average_kw, 3),
        target_kw=round(decision.target_kw, 3),
        month_peak_kw=None if decision.month_peak_kw is None else round(decision.month_peak_kw, 3),
        reason=decision.reason[:200],
    )
    return lambda seq: encode(model.model_copy(update={"seq": seq})).decode()


class GuardShell:
    def __init__(
        self,
        settings: PeakGuardSettings,
        edge_id: str,
        site_broker: BrokerSettings,
        link: Callable[[str], ModbusLink],
        store: Store,
    ) -> None:
        self.settings = settings
        self.edge_id = edge_id
        self.core = PeakGuard(settings)
        self.state = load_state(settings.state_path, self.core.new_state())
        self._site_broker = site_broker
        self._link = link
        self._store = store
        self._polls: asyncio.Queue[Poll] = asyncio.Queue()
        self._unsynced: dict[str, bool] = {}  # load -> on, still to be switched
        self._numbered = 0
        # The guard's clock; a test may run it fast to fit quarter hours in seconds (tests/edge/test_peak_guard.py).
        self.clock: Callable[[], float] = time.time
        self._relays: paho.Client | None = None
        if any(ld.relay for ld in settings.loads):
            self._relays = new_client(site_broker, f"shopfloor-guard-{edge_id}"[:64])

    def observe(self, poll: Poll) -> None:
        """Called by the agent for every poll; only the main meter's matter."""
        if poll.device == self.settings.meter:
            self._polls.put_nowait(poll)

    async def run(self, stop: asyncio.Event) -> None:
        if self._relays is not None:
            await asyncio.to_thread(
                connect_in_background, self._relays, self._site_broker, clean_start=True, session_expiry_s=0
            )
        # After a restart the shed loads stay shed: switch them off again, in case the relay forgot.
        shed = [ld.id for ld in self.settings.loads if self.state.loads.get(ld.id) and self.state.loads[ld.id].shed]
        for load_id in shed:
            self._unsynced[load_id] = False
        if shed:
            log.warning("peak guard: %s still shed from before the restart", ", ".join(shed))
        last_save = 0.0
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    poll = await asyncio.wait_for(self._polls.get(), timeout=TICK_S)
                    sample = sample_of(poll, int(self.clock() * 1000))
                    if sample is not None:
                        self.core.observe(self.state, sample)
                decisions = self.core.decide(
                    self.state, int(self.clock() * 1000), load_overrides(self.settings.override_path)
                )
                for decision in decisions:
                    if decision.load is not None and decision.action != "override_end":
                        self._unsynced[decision.load] = not self.state.loads[decision.load].shed
                if decisions or time.monotonic() - last_save >= SAVE_EVERY_S:
                    save_state(self.settings.state_path, self.state)
                    last_save = time.monotonic()
                await self._switch_pending()
                for decision in decisions:
                    self._numbered += 1
                    self._store(decision.ts_ms, decision_payload(self.edge_id, decision, self._numbered))
                    log.info("peak guard: %s %s (%s)", decision.action, decision.load or "", decision.reason)
        finally:
            save_state(self.settings.state_path, self.state)
            if self._relays is not None:
                self._relays.disconnect()
                self._relays.loop_stop()

    async def _switch_pending(self) -> None:
        loads = {ld.id: ld for ld in self.settings.loads}
        for load_id, on in list(self._unsynced.items()):
            try:
                await self._switch(loads[load_id], on)
            except ReadError as exc:
                log.warning("peak guard: cannot switch %s %s: %s; retrying", load_id, "on" if on else "off", exc)
                continue
            del self._unsynced[load_id]

    async def _switch(self, load: LoadSettings, on: bool) -> None:
        if load.coil is not None:
            link = self._link(load.coil.bus)
            async with link.lock:
                await link.write_coil(load.coil.address, on == load.coil.on_is, load.coil.unit_id)
        elif load.relay is not None and self._relays is not None:
            topic, payload = relay_command(load.relay, on)
            self._relays.publish(topic, payload, qos=1)
