"""What every simulated exchange offers the engine, and the request and reply it trades in.

A venue never sees an HTTP client: transports hand the engine an :class:`ExchangeRequest`
built from whatever the client sent, and turn the :class:`VenueReply` back into that
client's own response object.
"""

from __future__ import annotations

import json
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar, overload
from urllib.parse import SplitResult, parse_qsl, urlsplit

from pytest_exchange_chaos._frozen import fast_init

__all__ = [
    "INTENTS",
    "Call",
    "ExchangeRequest",
    "Intent",
    "OrderTicket",
    "OrderView",
    "PositionView",
    "Venue",
    "VenueContext",
    "VenueReply",
]

_T = TypeVar("_T")


class _once(Generic[_T]):
    """``functools.cached_property`` without its per-access lock (taken on every first access
    up to Python 3.11): each request asks these once or twice, so that lock was most of the cost.
    A non-data descriptor, so once stored the value is read straight from the instance dict.
    """

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self._func = func
        self._name = func.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> _once[_T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> _T | _once[_T]:
        if instance is None:
            return self
        value = self._func(instance)
        # Frozen dataclasses forbid setattr, not the instance dict.
        instance.__dict__[self._name] = value
        return value


Intent = Literal["entry", "exit", "stop_loss", "take_profit", "cancel", "market_data", "account", "other"]
INTENTS: tuple[Intent, ...] = (
    "entry",
    "exit",
    "stop_loss",
    "take_profit",
    "cancel",
    "market_data",
    "account",
    "other",
)


@fast_init
@dataclass(frozen=True)
class ExchangeRequest:
    """One HTTP request as the bot's client sent it, independent of the client library."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    client: str = "unknown"

    # The URL and a form body are parsed once per request, not once per question asked of
    # them: the engine, the venue's classify() and execute() and the journal all ask.

    @_once
    def _url_parts(self) -> SplitResult:
        return urlsplit(self.url)

    @_once
    def _query_pairs(self) -> tuple[tuple[str, str], ...]:
        return _parse_pairs(self._url_parts.query)

    @_once
    def _body_text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @_once
    def _body_pairs(self) -> tuple[tuple[str, str], ...]:
        return _parse_pairs(self._body_text)

    # Asked by the engine to route, then by the venue to classify and to execute.

    @_once
    def host(self) -> str:
        return (self._url_parts.hostname or "").lower()

    @_once
    def path(self) -> str:
        return self._url_parts.path or "/"

    @_once
    def endpoint(self) -> str:
        """``"METHOD /path"``, the form the ``endpoint=`` matcher uses."""
        return f"{self.method} {self.path}"

    @property
    def query(self) -> dict[str, str]:
        return dict(self._query_pairs)

    def header(self, name: str) -> str | None:
        exact = self.headers.get(name)  # as clients usually send them, case and all
        if exact is not None:
            return exact
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    @property
    def params(self) -> dict[str, Any]:
        """Query string merged with the body, whether form-encoded (Binance) or JSON (Bybit)."""
        # Signed POSTs usually carry no query string at all: skip parsing the URL for one.
        params: dict[str, Any] = self.query if "?" in self.url else {}
        if self.body:
            text = self._body_text
            stripped = text.lstrip()
            if stripped.startswith("{"):
                try:
                    decoded = json.loads(text)
                except ValueError:
                    decoded = None
                if isinstance(decoded, dict):
                    params.update(decoded)
            else:
                params.update(self._body_pairs)
        return params


# What ``json.dumps(payload, separators=(",", ":"))`` uses, built once instead of per call.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


def _parse_pairs(text: str) -> tuple[tuple[str, str], ...]:
    """``parse_qsl(text, keep_blank_values=True)``, without its per-field unquoting when nothing
    in ``text`` is escaped (ccxt's signed forms never are)."""
    if "%" in text or "+" in text:
        return tuple(parse_qsl(text, keep_blank_values=True))
    # ``partition`` gives (name, "=", value), or (name, "", "") for a field without "=".
    return tuple([field_text.partition("=")[::2] for field_text in text.split("&") if field_text])


@fast_init
@dataclass(frozen=True)
class OrderTicket:
    """The parts of an order request that make two requests "the same order".

    The engine groups a bot's retries of one order into one logical operation by these
    fields (plus venue and intent); the client order id is deliberately not part of the key,
    because a bot that retries usually sends a fresh one.
    """

    side: str
    order_type: str
    amount: str | None = None
    price: str | None = None
    trigger_price: str | None = None
    reduce_only: bool = False
    close_position: bool = False
    client_order_id: str | None = None
    attached_stop_loss: str | None = None
    """A stop-loss price sent with the entry itself (Bybit's ``stopLoss``): the position is
    protected from the moment the entry executes."""

    @property
    def key(self) -> tuple[str | None, ...]:
        return (
            self.side,
            self.order_type,
            self.amount,
            self.price,
            self.trigger_price,
            str(self.reduce_only),
            str(self.close_position),
            self.attached_stop_loss,
        )


@fast_init
@dataclass(frozen=True)
class Call:
    """A venue's reading of a request: what the trader was trying to do."""

    venue: str
    intent: Intent
    endpoint: str
    symbol: str | None = None
    order: OrderTicket | None = None


@fast_init
@dataclass(frozen=True)
class VenueReply:
    """What the exchange answered, before any fault or client gets to it."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    accepted: bool = True
    """False when the exchange refused the request (an error code), even with HTTP 200."""
    order_id: str | None = None
    """The id of the order this request placed, when it placed one."""
    error_code: int | None = None

    @classmethod
    def json(
        cls,
        payload: Any,
        status: int = 200,
        *,
        accepted: bool = True,
        order_id: str | None = None,
        error_code: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> VenueReply:
        merged = {"Content-Type": "application/json"}
        if headers:
            merged.update(headers)
        return cls(
            status=status,
            body=_COMPACT_JSON.encode(payload).encode(),
            headers=merged,
            accepted=accepted,
            order_id=order_id,
            error_code=error_code,
        )


@dataclass(frozen=True)
class OrderView:
    """An order as the trader sees it, the same shape on every venue."""

    id: str
    client_order_id: str | None
    symbol: str
    side: str
    type: str
    amount: float
    price: float | None
    trigger_price: float | None
    reduce_only: bool
    close_position: bool
    status: str
    intent: Intent


@dataclass(frozen=True)
class PositionView:
    """An open position as the trader sees it, the same shape on every venue."""

    symbol: str
    side: Literal["long", "short"]
    contracts: float
    entry_price: float
    opened_at: float
    """Chaos-clock seconds since the test started."""


@dataclass(frozen=True)
class VenueContext:
    """What a venue may use from its surroundings: the chaos clock and seeded randomness."""

    now: Callable[[], float]
    """Chaos-clock seconds since the test started."""
    wall_time: Callable[[], float]
    """Epoch seconds on the chaos clock (what the exchange's own clock would say)."""
    rng: random.Random
    seed: int = 0


class Venue(ABC):
    """A simulated exchange with state.

    Subclass it to simulate an exchange the plugin does not ship, and return the class from
    the ``pytest_exchange_chaos_venues`` hook.
    """

    id: ClassVar[str]
    """The ccxt id, e.g. ``"binanceusdm"``."""
    hosts: ClassVar[frozenset[str]]
    """Every host this venue answers for (production, testnet, demo)."""

    def __init__(self, context: VenueContext) -> None:
        self.context = context

    def serves(self, request: ExchangeRequest) -> bool:
        return request.host in self.hosts

    @abstractmethod
    def classify(self, request: ExchangeRequest) -> Call:
        """Say what the request is for. Must not change state."""

    @abstractmethod
    def execute(self, request: ExchangeRequest, call: Call) -> VenueReply:
        """Answer the request as the exchange would, changing state as it would."""

    @abstractmethod
    def error_reply(self, code: int, message: str) -> VenueReply:
        """The exchange's own error body for ``code`` (``faults.exchange_error``)."""

    @abstractmethod
    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        """Open orders, stop and take-profit orders included."""

    @abstractmethod
    def positions(self) -> list[PositionView]:
        """Open positions (non-zero size)."""

    @abstractmethod
    def set_price(self, symbol: str, price: float) -> None:
        """Move the mark price; resting and trigger orders that it crosses execute."""
