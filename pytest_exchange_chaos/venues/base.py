"""What every simulated exchange offers the engine, and the request and reply it trades in.

A venue never sees an HTTP client: transports hand the engine an :class:`ExchangeRequest`
built from whatever the client sent, and turn the :class:`VenueReply` back into that
client's own response object.
"""

from __future__ import annotations

import functools
import json
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar, overload
from urllib.parse import SplitResult, parse_qsl, urlsplit

from pytest_exchange_chaos._frozen import fast_init
from pytest_exchange_chaos._redact import redact_body, redact_headers, redact_url
from pytest_exchange_chaos.naked_time import UnprotectedInterval

__all__ = [
    "INTENTS",
    "Call",
    "ExchangeRequest",
    "InstrumentView",
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

    def __repr__(self) -> str:
        # What a traceback shows of a request (pytest -l, junit.xml): never its API key, secret,
        # signature or token. Redacted here, when it is printed, not when it is built.
        return (
            f"{type(self).__name__}(method={self.method!r}, url={redact_url(self.url)!r}, "
            f"headers={redact_headers(self.headers)!r}, body={redact_body(self.body)!r}, "
            f"client={self.client!r})"
        )

    # The URL is split once per request, not once per question asked of it: the engine routes
    # by host, the venue classifies and executes by path, the journal records the endpoint.

    @_once
    def _url_parts(self) -> SplitResult:
        parts = urlsplit(self.url)
        # Host, path and endpoint in one step: each is asked for on every request.
        netloc = parts.netloc
        if "@" in netloc or "[" in netloc or "%" in netloc:  # credentials, IPv6, a zone: urllib's parse
            host = (parts.hostname or "").lower()
        else:
            host = netloc.partition(":")[0].lower()
        path = parts.path or "/"
        values = self.__dict__
        values["host"] = host
        values["path"] = path
        values["endpoint"] = f"{self.method} {path}"
        return parts

    @_once
    def host(self) -> str:
        self._url_parts  # noqa: B018 - stores host, path and endpoint
        return self.__dict__["host"]  # type: ignore[no-any-return]

    @_once
    def path(self) -> str:
        self._url_parts  # noqa: B018 - stores host, path and endpoint
        return self.__dict__["path"]  # type: ignore[no-any-return]

    @_once
    def endpoint(self) -> str:
        """``"METHOD /path"``, the form the ``endpoint=`` matcher uses."""
        self._url_parts  # noqa: B018 - stores host, path and endpoint
        return self.__dict__["endpoint"]  # type: ignore[no-any-return]

    @property
    def query(self) -> dict[str, str]:
        return _parse_pairs(self._url_parts.query)

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
        params, decoded = self._params()
        return params if decoded is None else {**params, **decoded}

    @property
    def form(self) -> dict[str, str]:
        """:attr:`params` with every value as text, as a form-encoded request carries them: a
        JSON body's numbers and booleans read as ``str()`` makes them."""
        params, decoded = self._params()
        if decoded is None:
            return params
        return {**params, **{key: str(value) for key, value in decoded.items()}}

    def _params(self) -> tuple[dict[str, str], dict[str, Any] | None]:
        # Signed POSTs usually carry no query string at all: skip parsing the URL for one.
        params = self.query if "?" in self.url else {}
        if not self.body:
            return params, None
        text = self.body.decode("utf-8", errors="replace")
        if text.lstrip().startswith("{"):
            try:
                decoded = json.loads(text)
            except ValueError:
                decoded = None
            return params, decoded if isinstance(decoded, dict) else None
        if params:
            params.update(_parse_pairs(text))
            return params, None
        return _parse_pairs(text), None


# What ``json.dumps(payload, separators=(",", ":"))`` uses, built once instead of per call.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


def _parse_pairs(text: str) -> dict[str, str]:
    """``dict(parse_qsl(text, keep_blank_values=True))``, without its per-field unquoting when
    nothing in ``text`` is escaped (ccxt's signed forms never are)."""
    if "%" not in text and "+" not in text:
        try:
            # Every field "name=value": each split gives the pair dict() wants.
            return dict([field_text.split("=", 1) for field_text in text.split("&")])
        except ValueError:  # an empty field, or one without "=": parse_qsl's rules below
            pass
    return dict(parse_qsl(text, keep_blank_values=True))


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
class InstrumentView:
    """One instrument a venue lists, with its trading rules and current prices, as the trader
    reads them (the numbers ccxt's ``market()`` derives from the exchange's own listing)."""

    symbol: str
    """The ccxt unified symbol: ``BTC/USDT:USDT`` for a perpetual, ``BTC/USDT`` for spot."""
    id: str
    """The exchange's own id, e.g. ``BTCUSDT``."""
    market: Literal["spot", "swap"]
    """ccxt's market type: ``"spot"`` or ``"swap"`` (a perpetual)."""
    base: str
    quote: str
    settle: str | None
    """The asset a contract settles in; None for spot."""
    tick_size: float
    """The price step: every price must be a multiple of it."""
    step_size: float
    """The amount step: every amount must be a multiple of it."""
    min_amount: float
    max_amount: float
    """The largest amount of a limit order (``max_market_amount`` for a market order)."""
    max_market_amount: float
    min_notional: float
    """The smallest order value (amount x price) in the quote asset."""
    max_leverage: int | None
    """None for spot."""
    mark_price: float
    """Now, as ``set_price`` moved it."""
    last_price: float
    """The last traded price; the simulated market trades at the mark."""


@dataclass(frozen=True)
class VenueContext:
    """What a venue may use from its surroundings: the chaos clock and seeded randomness."""

    now: Callable[[], float]
    """Chaos-clock seconds since the test started."""
    wall_time: Callable[[], float]
    """Epoch seconds on the chaos clock (what the exchange's own clock would say)."""
    rng: random.Random
    seed: int = 0


def _telling_listeners(
    set_price: Callable[[Venue, str, float], None],
) -> Callable[[Venue, str, float], None]:
    @functools.wraps(set_price)
    def moved(venue: Venue, symbol: str, price: float) -> None:
        state = venue.__dict__
        state["_moving"] = state.get("_moving", 0) + 1
        try:
            set_price(venue, symbol, price)
        finally:
            state["_moving"] -= 1
        if not state["_moving"]:  # a subclass's super().set_price(...) tells once, at the end
            for listener in list(state.get("_price_listeners", ())):
                listener()

    moved._tells_listeners = True  # type: ignore[attr-defined]
    return moved


class Venue(ABC):
    """A simulated exchange with state.

    Subclass it to simulate an exchange the plugin does not ship, and return the class from
    the ``pytest_exchange_chaos_venues`` hook.
    """

    id: ClassVar[str]
    """The ccxt id, e.g. ``"binanceusdm"``."""
    hosts: ClassVar[frozenset[str]]
    """Every host this venue answers for (production, testnet, demo)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Every venue's own set_price tells the listeners, so a test that took
        # ``venue.set_price`` before the bot opened its first stream still moves the stream.
        own = cls.__dict__.get("set_price")
        if own is not None and not getattr(own, "_tells_listeners", False):
            cls.set_price = _telling_listeners(own)  # type: ignore[assignment,method-assign]

    def __init__(self, context: VenueContext) -> None:
        self.context = context

    def when_price_moves(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after each :meth:`set_price` (once, however the subclasses chain
        it). Returns what removes it again."""
        listeners: list[Callable[[], None]] = self.__dict__.setdefault("_price_listeners", [])
        listeners.append(listener)
        return lambda: listeners.remove(listener)

    def serves(self, request: ExchangeRequest) -> bool:
        return request.host in self.hosts

    def not_simulated(self, request: ExchangeRequest) -> str | None:
        """Why this venue cannot answer a request to a host it serves (``"binance spot POST
        /api/v3/order/oco is not simulated"``), or None when it can. The engine refuses such a
        request and fails the test, rather than answer a 404 a bot would retry as an outage."""
        return None

    def instruments(self) -> list[InstrumentView]:
        """Every instrument the venue lists, with its filters and current prices."""
        raise NotImplementedError(
            f"venue {self.id!r} ({type(self).__name__}) does not list its instruments: "
            "override instruments() to return InstrumentView objects"
        )

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

    def unprotected_intervals(self) -> list[UnprotectedInterval]:
        """Every interval so far in which a position had no stop-loss covering it, oldest first
        (see :class:`~pytest_exchange_chaos.naked_time.UnprotectedInterval`). The shipped
        venues track it; a venue of your own that does not raises NotImplementedError, and
        ``assert_positions_protected(max_unprotected=...)`` then fails rather than pass
        unchecked."""
        raise NotImplementedError(
            f"venue {self.id!r} does not track the time its positions spent unprotected"
        )

    def positions_opened(self) -> int:
        """How many positions were opened so far (a flip from long to short counts as one)."""
        raise NotImplementedError(f"venue {self.id!r} does not count the positions it opened")
