"""The processes around a live benchmark run: the publisher and the bare-library baselines.

Each runs as its own process, so none of them shares a GIL with the consumer it measures:

* ``publisher``: a QoS 1 publisher that writes pre-encoded MQTT PUBLISH packets on a plain socket and counts
  the PUBACKs, with a window of messages in flight. It does no per-message Python work beyond a slice and a
  send, so it outruns every consumer measured here: the consumer, not the publisher, sets the pace. It stays
  up for the whole benchmark and takes commands on stdin, so every run is fed by the same process and the
  same payloads:
  ``burst N T0`` publishes N messages as fast as the broker takes them; ``paced RATE N FILE T0`` publishes N
  at RATE msg/s and writes each one's send time (monotonic ns) to FILE. Message ``seq`` is dated ``T0 + seq``
  ms (the benchmark passes the time it starts: live data, whose minutes are still open when written, not a
  backfill that sets the drainer's rollup catch-up going). Payloads are built before the first send.
  Each command answers one JSON line: the monotonic ns of the first send and of the last PUBACK.
* ``bare``: a bare paho-mqtt subscriber (MQTT v5, QoS 1, paho's automatic acks, the collector's receive
  maximum) that only counts. It prints ``ready`` after the SUBACK and ``done <ns>`` at the last message.
* ``bare-post``: a bare paho subscriber that POSTs each message's one line to InfluxDB at once, on one
  keep-alive connection: the latency floor of "write every point as it comes".

CLOCK_MONOTONIC is one clock for every process on the machine, so the times compare across processes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SITE = "test-site"
DEVICES = 50
WINDOW = 1000  # QoS 1 messages in flight from the publisher


def live_messages(count: int, t0: int) -> list[tuple[str, bytes]]:
    """The backlog shape: one 10-field MeterReading per message, 50 devices interleaved (tests' traffic)."""
    from tests.collector.traffic import readings

    return list(readings(DEVICES, -(-count // DEVICES), t0))[:count]


def latency_messages(count: int, t0: int) -> list[tuple[str, bytes]]:
    """The live shape: one 10-field MeterReading per message, 50 devices interleaved, message ``seq`` dated
    ``t0 + seq`` ms: one point per ms, found by its time."""
    from shopfloor.contract import Kind, build_topic
    from tests.collector.traffic import reading

    out = []
    for seq in range(count):
        body = reading(seq % DEVICES, seq, t0)
        body["ts_ms"] = t0 + seq
        out.append((build_topic(SITE, body["device"], Kind.READING), json.dumps(body).encode()))
    return out


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (128 if n else 0))
        if not n:
            return bytes(out)


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    name = topic.encode()
    body = len(name).to_bytes(2, "big") + name + packet_id.to_bytes(2, "big") + payload
    return b"\x32" + _varint(len(body)) + body


class RawPublisher:
    """MQTT 3.1.1, clean session, no keep-alive pings: after the CONNACK only PUBACKs (4 bytes each) come back."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client_id = f"bench-pub-{uuid.uuid4().hex[:8]}".encode()
        variable = b"\x00\x04MQTT\x04\x02\x00\x00" + len(client_id).to_bytes(2, "big") + client_id
        self.sock.sendall(b"\x10" + _varint(len(variable)) + variable)
        connack = self._read_exactly(4)
        if connack[0] != 0x20 or connack[3] != 0:
            raise RuntimeError(f"broker refused the publisher: {connack!r}")
        self._acked_bytes = 0
        self._cond = threading.Condition()
        self.last_ack_ns = 0
        self._next_id = 0
        threading.Thread(target=self._read_acks, daemon=True).start()

    def _read_exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise RuntimeError("broker closed the connection")
            data += chunk
        return data

    def _read_acks(self) -> None:
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return
            with self._cond:
                self._acked_bytes += len(chunk)
                self.last_ack_ns = time.monotonic_ns()
                self._cond.notify_all()

    @property
    def acked(self) -> int:
        return self._acked_bytes // 4

    def packets(self, messages: list[tuple[str, bytes]]) -> list[bytes]:
        out = []
        for topic, payload in messages:
            self._next_id = self._next_id % 65535 + 1
            out.append(publish_packet(topic, payload, self._next_id))
        return out

    def burst(self, packets: list[bytes]) -> dict[str, int]:
        start = self.acked
        first_ns = time.monotonic_ns()
        sent = 0
        while sent < len(packets):
            with self._cond:
                self._cond.wait_for(lambda n=sent: n - (self.acked - start) < WINDOW)  # type: ignore[misc]
                room = WINDOW - (sent - (self.acked - start))
            chunk = packets[sent : sent + min(room, 64)]
            self.sock.sendall(b"".join(chunk))
            sent += len(chunk)
        self._wait_acked(start + len(packets))
        return {"first_ns": first_ns, "last_ns": self.last_ack_ns, "sent": sent}

    def paced(self, packets: list[bytes], rate: float, times_path: Path) -> dict[str, int]:
        start = self.acked
        sent_ns: list[int] = []
        first_ns = time.monotonic_ns()
        step_ns = int(1e9 / rate)
        for k, packet in enumerate(packets):
            due = first_ns + k * step_ns
            now = time.monotonic_ns()
            if due > now:
                time.sleep((due - now) / 1e9)
            sent_ns.append(time.monotonic_ns())
            self.sock.sendall(packet)
        self._wait_acked(start + len(packets))
        times_path.write_text(json.dumps(sent_ns))
        return {"first_ns": first_ns, "last_ns": self.last_ack_ns, "sent": len(packets)}

    def _wait_acked(self, target: int) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.acked >= target, 600):
                raise TimeoutError(f"{self.acked} of {target} PUBACKs")


def run_publisher(args: argparse.Namespace) -> int:
    publisher = RawPublisher(args.host, args.port)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        if words[0] == "burst":
            answer = publisher.burst(publisher.packets(latency_messages(int(words[1]), int(words[2]))))
        elif words[0] == "paced":
            rate, count, path = float(words[1]), int(words[2]), Path(words[3])
            answer = publisher.paced(publisher.packets(latency_messages(count, int(words[4]))), rate, path)
        else:
            answer = {"error": f"unknown command {words[0]!r}"}
        print(json.dumps(answer), flush=True)
    return 0


def _bare_client(args: argparse.Namespace, on_message: Any) -> Any:
    import paho.mqtt.client as paho

    from shopfloor.mqtt import connect_properties

    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2, client_id=f"bare-{uuid.uuid4().hex[:6]}", protocol=paho.MQTTv5
    )
    client.max_inflight_messages_set(1000)
    client.on_subscribe = lambda *a: print("ready", flush=True)
    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe(f"shopfloor/v1/{SITE}/+/+", qos=1)
    client.connect(args.host, args.port, clean_start=True, properties=connect_properties(300, 1000))
    return client


def end_session(client: Any) -> None:
    """Disconnect and let the broker drop our session: a finished run's session kept for its expiry would queue
    every later run's messages (same topics), and the broker's periodic save of them stalled all its clients."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    props = Properties(PacketTypes.DISCONNECT)
    props.SessionExpiryInterval = 0
    client.disconnect(properties=props)


def run_bare(args: argparse.Namespace) -> int:
    count = 0

    def on_message(client: Any, userdata: object, message: Any) -> None:
        nonlocal count
        count += 1
        if count == args.count:
            print(f"done {time.monotonic_ns()}", flush=True)

    client = _bare_client(args, on_message)
    client.loop_start()
    sys.stdin.read()  # until the benchmark closes our stdin
    end_session(client)
    client.loop_stop()
    return 0


def run_bare_post(args: argparse.Namespace) -> int:
    from urllib.parse import urlsplit

    url = urlsplit(args.influx)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 8086)
    path = f"/write?db={args.db}&precision=ms"

    def on_message(client: Any, userdata: object, message: Any) -> None:
        body = json.loads(message.payload)
        fields = ",".join(f"{name}={value}" for name, value in body["values"].items())
        series = f"meter,device={body['device']},edge={body['edge']},site={SITE}"
        line = f"{series} {fields},seq={body['seq']}i {body['ts_ms']}"
        conn.request("POST", path, body=line.encode())
        conn.getresponse().read()

    client = _bare_client(args, on_message)
    client.loop_start()
    sys.stdin.read()
    end_session(client)
    client.loop_stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("role", choices=["publisher", "bare", "bare-post"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=0, help="bare: messages to expect")
    parser.add_argument("--influx", default="", help="bare-post: InfluxDB URL")
    parser.add_argument("--db", default="", help="bare-post: database")
    args = parser.parse_args()
    runner = {"publisher": run_publisher, "bare": run_bare, "bare-post": run_bare_post}[args.role]
    return runner(args)


if __name__ == "__main__":
    sys.exit(main())
