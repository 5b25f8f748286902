"""The fault types. Pure: they describe an outcome, the transports render it per client."""

from __future__ import annotations

import functools
import http
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

from pytest_exchange_chaos.outcome import ClientTimeouts, NetworkFailure, Outcome
from pytest_exchange_chaos.venues.base import ExchangeRequest, Venue, VenueReply

__all__ = [
    "ExchangeErrorFault",
    "Fault",
    "FaultContext",
    "Ghost",
    "HttpFault",
    "Latency",
    "MalformedBody",
    "NetworkFault",
    "reason_phrase",
]

# A client with no timeout would hang forever on a silent peer; the chaos clock has to stop
# somewhere, and Linux gives up on an unanswered connect after about two minutes.
NO_TIMEOUT_WAIT = 300.0

_EXTRA_REASONS = {
    520: "Web Server Returned an Unknown Error",
    521: "Web Server Is Down",
    522: "Connection Timed Out",
    523: "Origin Is Unreachable",
    524: "A Timeout Occurred",
    525: "SSL Handshake Failed",
    526: "Invalid SSL Certificate",
}


@functools.cache
def reason_phrase(status: int) -> str:
    """The reason phrase the server sends; a client without one crashes ccxt (it concatenates it)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return _EXTRA_REASONS.get(status, "Unknown")


@dataclass(frozen=True)
class FaultContext:
    """What a fault may look at to build its outcome."""

    request: ExchangeRequest
    venue: Venue
    timeouts: ClientTimeouts
    rng: random.Random
    reply: VenueReply | None = None
    """The exchange's own answer, when the fault let the exchange execute the request."""


class Fault(ABC):
    """Subclass to add a fault of your own; return instances from a schedule or a hook."""

    name: str
    executes: bool = False
    """Whether the exchange processes the request before the client sees the fault."""

    @abstractmethod
    def outcome(self, context: FaultContext) -> Outcome:
        """What the client sees."""

    def describe(self) -> str:
        """How a trader's incident report names it, e.g. ``502 Bad Gateway``."""
        return self.name


@dataclass(frozen=True)
class HttpFault(Fault):
    """A response from a gateway, proxy or CDN in front of the exchange: the exchange never saw it."""

    name: str
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    reason: str = ""

    def outcome(self, context: FaultContext) -> Outcome:
        return Outcome(
            status=self.status,
            reason=self.reason or reason_phrase(self.status),
            headers=dict(self.headers),
            body=self.body,
        )

    def describe(self) -> str:
        return f"{self.status} {self.reason or reason_phrase(self.status)}"


@dataclass(frozen=True)
class ExchangeErrorFault(Fault):
    """The exchange's own error body (Binance ``{"code", "msg"}``, Bybit ``retCode``)."""

    code: int
    message: str
    status: int | None = None
    """Override the HTTP status the venue would use for this code."""
    name: str = "exchange_error"

    def outcome(self, context: FaultContext) -> Outcome:
        reply = context.venue.error_reply(self.code, self.message)
        status = self.status if self.status is not None else reply.status
        return Outcome(
            status=status, reason=reason_phrase(status), headers=dict(reply.headers), body=reply.body
        )

    def describe(self) -> str:
        return f"exchange error {self.code} {self.message!r}"


_NETWORK_MESSAGES: dict[str, str] = {
    "connection_reset": "Connection reset by peer",
    "connect_timeout": "Connection timeout",
    "read_timeout": "Timeout on reading data from socket",
    "dns_failure": "Temporary failure in name resolution",
}


@dataclass(frozen=True)
class NetworkFault(Fault):
    """Nothing comes back: the connection is reset, a timeout fires, the name does not resolve."""

    name: str
    kind: NetworkFailure

    def outcome(self, context: FaultContext) -> Outcome:
        delay = 0.0
        kind = self.kind
        if kind == "connect_timeout":
            deadline, kind = context.timeouts.connect_deadline
            delay = NO_TIMEOUT_WAIT if deadline is None else deadline
        elif kind == "read_timeout":
            deadline, kind = context.timeouts.read_deadline
            delay = NO_TIMEOUT_WAIT if deadline is None else deadline
        return Outcome(network=kind, delay=delay, message=_NETWORK_MESSAGES.get(self.kind, self.kind))

    def describe(self) -> str:
        return self.name.replace("_", " ")


@dataclass(frozen=True)
class Latency(Fault):
    """The exchange answers, late; later than the client's read timeout, the client gives up."""

    seconds: float
    name: str = "latency"
    executes: bool = True

    def outcome(self, context: FaultContext) -> Outcome:
        deadline, kind = context.timeouts.read_deadline
        if deadline is not None and self.seconds >= deadline:
            return Outcome(network=kind, delay=deadline, message=_NETWORK_MESSAGES["read_timeout"])
        reply = context.reply
        assert reply is not None, "latency executes the request, so the venue has answered"
        return Outcome(
            status=reply.status,
            reason=reason_phrase(reply.status),
            headers=dict(reply.headers),
            body=reply.body,
            delay=self.seconds,
        )

    def describe(self) -> str:
        return f"latency {self.seconds:g}s"


@dataclass(frozen=True)
class MalformedBody(Fault):
    """``200 OK`` with a body cut short: what a proxy that drops the connection mid-body leaves."""

    name: str = "malformed_body"

    def outcome(self, context: FaultContext) -> Outcome:
        body = context.reply.body if context.reply is not None else b'{"orderId":83897655123,"symbol":"'
        return Outcome(
            status=200,
            reason="OK",
            headers={"Content-Type": "application/json"},
            body=body[: max(1, len(body) // 2)],
        )

    def describe(self) -> str:
        return "200 OK with a truncated body"


@dataclass(frozen=True)
class Ghost(Fault):
    """The exchange executes the request; the client sees ``inner`` and believes it failed."""

    inner: Fault
    label: str | None = None
    executes: bool = True

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.label or f"ghost({self.inner.name})"

    def outcome(self, context: FaultContext) -> Outcome:
        return self.inner.outcome(context)

    def describe(self) -> str:
        return f"{self.inner.describe()} (but the exchange executed it)"
