"""The one error type of the wire contract."""

from __future__ import annotations


class ContractError(ValueError):
    """A topic or payload breaks contract v1. ``field`` is a dotted path, e.g. ``values.power.unit``.

    ``site``: the topic's site, when the topic named a valid one (a dead letter is filed under it).
    """

    def __init__(self, field: str, reason: str, site: str | None = None) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.site = site
