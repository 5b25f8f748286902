"""The fault types. Pure: they describe an outcome, the transports render it per client."""

from __future__ import annotations

import functools
import http
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import get_args

from pytest_exchange_chaos._durations import parse_duration, shown
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


# Statuses whose answer has no body: a client would drop the fault's body without a word.
_BODILESS = (204, 205, 304)


def _check_name(owner: str, argument: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{owner}({argument}={shown(value)}): write a name as a string, e.g. 'bad_gateway'")
    if not value.strip():
        raise ValueError(f"{owner}({argument}={value!r}): write a non-empty name, e.g. 'bad_gateway'")


def _check_status(owner: str, status: object, body: bytes | None = None) -> int:
    if isinstance(status, bool) or not isinstance(status, int):
        raise TypeError(f"{owner}(status={shown(status)}): write an HTTP status as a whole number, e.g. 502")
    if not 200 <= status <= 599:
        raise ValueError(
            f"{owner}(status={shown(status)}): an exchange's answer has a status from 200 to 599, e.g. 502"
        )
    if body and status in _BODILESS:
        raise ValueError(f"{owner}(status={status}): a {status} answer carries no body; use another status")
    return status


def _check_header_text(owner: str, what: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{owner}({what}): header names and values are strings, not {shown(value)}")
    if any(ch in value for ch in "\r\n\0"):
        raise ValueError(f"{owner}({what}={shown(value)}): a header cannot hold a line break or NUL")


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

    def __post_init__(self) -> None:
        _check_name("HttpFault", "name", self.name)
        if not isinstance(self.body, bytes):
            raise TypeError(f"HttpFault(body={shown(self.body)}): write the body as bytes, e.g. b'<html>...'")
        _check_status("HttpFault", self.status, self.body)
        if not isinstance(self.headers, Mapping):
            raise TypeError(
                f"HttpFault(headers={shown(self.headers)}): write a dict, e.g. {{'Retry-After': '60'}}"
            )
        for key, value in self.headers.items():
            _check_header_text("HttpFault", f"headers={{{shown(key)}: ...}}", key)
            _check_header_text("HttpFault", f"headers={{{shown(key)}: {shown(value)}}}", value)
        _check_header_text("HttpFault", "reason", self.reason)

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

    def __post_init__(self) -> None:
        code = self.code
        if isinstance(code, bool) or not isinstance(code, int):
            raise TypeError(
                f"exchange_error(code={shown(code)}): write the exchange's error code as a whole number, "
                "e.g. -2019 (Binance) or 10006 (Bybit)"
            )
        if code == 0 or not -(2**31) <= code < 2**31:
            raise ValueError(
                f"exchange_error(code={shown(code)}): write an error code such as -2019 (Binance) or "
                "10006 (Bybit); 0 is success, and codes fit in 32 bits"
            )
        if not isinstance(self.message, str):
            raise TypeError(
                f"exchange_error(msg={shown(self.message)}): write the exchange's message as a string, "
                "e.g. 'Margin is insufficient.'"
            )
        if self.status is not None:
            # The venue always answers an error with a body, so a bodiless status would drop it.
            _check_status("exchange_error", self.status, b"error body")
        _check_name("exchange_error", "name", self.name)

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

    def __post_init__(self) -> None:
        _check_name("NetworkFault", "name", self.name)
        kinds = get_args(NetworkFailure)
        if self.kind not in kinds:
            raise ValueError(f"NetworkFault(kind={shown(self.kind)}): write one of {', '.join(kinds)}")

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

    def __post_init__(self) -> None:
        # frozen: the parsed seconds go in the way dataclasses themselves set fields.
        seconds = parse_duration(self.seconds, what="latency seconds")
        if seconds == 0:
            # No delay is no fault: the test would count it as injected chaos that changed nothing.
            raise ValueError("latency(seconds=0) delays nothing: write a delay, e.g. latency('2s')")
        object.__setattr__(self, "seconds", seconds)
        _check_name("Latency", "name", self.name)

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

    def __post_init__(self) -> None:
        _check_name("MalformedBody", "name", self.name)

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

    def __post_init__(self) -> None:
        inner = self.inner
        if not isinstance(inner, Fault):
            raise TypeError(f"ghost() wraps a fault, e.g. ghost(faults.bad_gateway()), not {shown(inner)}")
        if isinstance(inner, Ghost):
            raise ValueError(
                f"ghost({inner.name}) is already a ghost: the exchange executes the request once; "
                "write ghost(faults.bad_gateway()) around the plain fault"
            )
        if inner.executes:
            raise ValueError(
                f"ghost({inner.name}): {inner.name} already lets the exchange execute the request, "
                "so ghost() adds nothing; use it alone"
            )
        if self.label is not None:
            _check_name("Ghost", "label", self.label)

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.label or f"ghost({self.inner.name})"

    def outcome(self, context: FaultContext) -> Outcome:
        return self.inner.outcome(context)

    def describe(self) -> str:
        return f"{self.inner.describe()} (but the exchange executed it)"
