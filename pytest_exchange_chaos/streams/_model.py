"""The plain records streams trade in: what a venue publishes, what the hub records, and the
facts a message states about orders and positions (what verdicts compare with the venue)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pytest_exchange_chaos.venues.base import Intent

_COMPACT = json.JSONEncoder(separators=(",", ":"))

__all__ = [
    "Fact",
    "OrderFact",
    "PositionFact",
    "StreamCall",
    "StreamEventKind",
    "StreamMessage",
    "StreamRecord",
    "StreamRefused",
]


@dataclass(frozen=True)
class OrderFact:
    """What one stream message says an order is now."""

    venue: str
    order_id: str
    symbol: str
    """ccxt unified symbol."""
    status: str
    """ccxt's words: ``open``, ``closed`` (filled), ``canceled``, ``expired``, ``rejected``."""
    filled: float
    amount: float
    client_order_id: str | None = None
    trigger: bool = False
    """A stop or take-profit still waiting for its trigger (Binance's algo orders too)."""


@dataclass(frozen=True)
class PositionFact:
    """What one stream message says a position is now (``contracts`` 0: flat)."""

    venue: str
    symbol: str
    contracts: float
    side: Literal["long", "short"] | None = None


Fact = OrderFact | PositionFact


@dataclass(frozen=True)
class StreamMessage:
    """One message a venue publishes. ``payload`` is sent as JSON text (a ``str`` as is)."""

    stream: str
    """The stream kind schedules match with ``stream=``: ``"user"``, ``"ticker"``, ``"kline"``,
    ``"markPrice"``, ``"depth"`` (Binance), ``"order"``, ``"execution"``, ``"position"``,
    ``"wallet"``, ``"tickers"``, ``"orderbook"`` (Bybit)..."""
    payload: Any
    symbol: str | None = None
    """ccxt unified symbol the message is about, if one."""
    private: bool = False
    facts: tuple[Fact, ...] = ()
    """What the message tells the bot about its orders and positions."""

    def text(self) -> str:
        if isinstance(self.payload, str):
            return self.payload
        return _COMPACT.encode(self.payload)


@dataclass(frozen=True)
class StreamCall:
    """A stream event as the schedule's matchers read it (like a venue's ``Call``)."""

    venue: str
    intent: Intent
    endpoint: str
    """``"WS <path>"``: never matches an HTTP ``endpoint=`` matcher."""
    symbol: str | None
    stream: str
    """The stream kind; ``stream="public"``/``"private"`` match by :attr:`private`."""
    private: bool = False
    kinds: frozenset[str] = field(default_factory=frozenset)
    """Every stream kind the connection carries (a connection-level event matches if any does)."""


StreamEventKind = Literal[
    "connected",
    "refused",
    "closed",
    "subscribed",
    "received",
    "delivered",
    "dropped",
    "duplicated",
    "delayed",
    "stalled",
    "stall_ended",
    "listen_key_expired",
    "lost",
]


@dataclass(frozen=True)
class StreamRecord:
    """One thing that happened on a stream, on the chaos clock (seconds since the test started).

    ``delivered`` records carry the message the bot's client received (a duplicate is two
    records); ``dropped`` ones the message it never got, and ``lost`` ones those published to a
    connection that was stalled or closing. ``closed`` carries the close code the client saw."""

    t: float
    venue: str
    connection: int
    event: StreamEventKind
    stream: str | None = None
    symbol: str | None = None
    code: int | None = None
    fault: str | None = None
    detail: str = ""
    message: StreamMessage | None = None


class StreamRefused(Exception):
    """Raised by a venue's ``accept()`` to fail the handshake, as the exchange would (e.g. an
    unknown listenKey): the bot's ``ws_connect`` raises aiohttp's handshake error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
