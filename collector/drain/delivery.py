"""How one batch reaches InfluxDB: split on 413, find the rejected lines on 400/422, retry the rest later.

Writes are idempotent (source timestamps), so re-sending lines that were already stored is harmless:
that is what makes splitting and bisecting safe. A rejected line is reported once and never retried.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from collector.influx.client import InfluxClient, InfluxUnreachable, WriteResponse

# 1.x names the lines it could not parse: unable to parse '<line>': <reason>
_UNPARSABLE = re.compile(r"unable to parse '((?:[^'\\]|\\.)*)': ([^\n]*)")
_REJECTED = (400, 422)
_TOO_LARGE = 413


class RetryLater(Exception):
    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


@dataclass
class Delivered:
    written: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0


def joins_the_next(line: str) -> bool:
    """A line ending in an unescaped backslash, which escapes the newline after it: InfluxDB would read it and
    the next line as one point, and store the next line's point under a garbled name. (A newline inside a
    quoted string field is fine: multi-line text is written that way.) No line we build ends so."""
    return line.endswith("\\") and (len(line) - len(line.rstrip("\\"))) % 2 == 1


def deliver(client: InfluxClient, lines: list[str], outcome: Delivered | None = None) -> Delivered:
    """Write ``lines``; raises RetryLater when InfluxDB is away or busy (nothing is lost: retry them all)."""
    outcome = outcome or Delivered()
    if not lines:
        return outcome
    if any(joins_the_next(line) for line in lines):
        outcome.rejected.extend(
            (line, "not a line of line protocol: it ends in a backslash, which escapes the newline after it")
            for line in lines
            if joins_the_next(line)
        )
        lines = [line for line in lines if not joins_the_next(line)]
        if not lines:
            return outcome
    try:
        response = client.write(lines)
    except InfluxUnreachable as exc:
        raise RetryLater(str(exc)) from exc
    outcome.requests += 1
    if response.unreadable:
        # Either a line made InfluxDB answer something unreadable, or the server went away mid-answer:
        # only a server that still answers pings gets its lines bisected, so no outage dead-letters data.
        if not client.ping():
            raise RetryLater(response.text)
        _deliver_rejected(client, lines, response, outcome)
    elif response.ok:
        outcome.written += len(lines)
    elif response.status == _TOO_LARGE and len(lines) > 1:
        half = len(lines) // 2
        deliver(client, lines[:half], outcome)
        deliver(client, lines[half:], outcome)
    elif response.status in _REJECTED or response.status == _TOO_LARGE:
        _deliver_rejected(client, lines, response, outcome)
    else:
        raise RetryLater(_describe(response), response.retry_after_s)
    return outcome


def _deliver_rejected(client: InfluxClient, lines: list[str], response: WriteResponse, outcome: Delivered) -> None:
    named = {match.group(1).replace("\\'", "'"): match.group(2) for match in _UNPARSABLE.finditer(response.text)}
    if len(lines) == 1:
        # The reason whole, without InfluxDB's echo of the line (the dead letter keeps the line itself).
        why = named.get(lines[0])
        reason = f"HTTP {response.status}: unable to parse the line: {why}" if why else _describe(response)
        outcome.rejected.append((lines[0], reason))
        return
    if named and named.keys() <= set(lines):
        # The server told us which lines: resend the others (idempotent) to be sure they are stored.
        outcome.rejected.extend((line, f"HTTP {response.status}: {named[line]}") for line in lines if line in named)
        deliver(client, [line for line in lines if line not in named], outcome)
        return
    # Otherwise (a field type conflict, points beyond the retention policy) bisect down to the bad lines.
    half = len(lines) // 2
    deliver(client, lines[:half], outcome)
    deliver(client, lines[half:], outcome)


def _describe(response: WriteResponse) -> str:
    text = response.text.strip().replace("\n", " ")
    if response.unreadable:
        return text
    return f"HTTP {response.status}: {text}" if text else f"HTTP {response.status}"
