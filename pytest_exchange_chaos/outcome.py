"""What a transport must make its client see: a response, or a network failure, after a delay."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pytest_exchange_chaos._frozen import fast_init

__all__ = ["ClientTimeouts", "NetworkFailure", "Outcome"]

NetworkFailure = Literal[
    "connection_reset",
    "connect_timeout",
    "read_timeout",
    "total_timeout",
    "dns_failure",
    "unserved",
]


@fast_init
@dataclass(frozen=True)
class ClientTimeouts:
    """The timeouts the bot configured on its client, in seconds (None: waits forever)."""

    connect: float | None = None
    read: float | None = None
    total: float | None = None

    @property
    def connect_deadline(self) -> tuple[float | None, NetworkFailure]:
        return _earliest(self.connect, "connect_timeout", self.total)

    @property
    def read_deadline(self) -> tuple[float | None, NetworkFailure]:
        return _earliest(self.read, "read_timeout", self.total)


def _earliest(
    own: float | None, own_kind: NetworkFailure, total: float | None
) -> tuple[float | None, NetworkFailure]:
    if total is not None and (own is None or total < own):
        return total, "total_timeout"
    return own, own_kind


@fast_init
@dataclass(frozen=True)
class Outcome:
    """Either an HTTP response (``status`` set) or a network failure (``network`` set)."""

    status: int | None = None
    reason: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    network: NetworkFailure | None = None
    delay: float = 0.0
    """Chaos-clock seconds between sending the request and the client seeing this."""
    message: str = ""
    """For network failures: the text the client's exception carries."""
