"""The records the book keeps: order requests, orders, positions, fills and snapshots.

Venue-neutral: quantities and prices are exact decimals, sides are ``"buy"``/``"sell"``, order
kinds are lower-case (``"stop_market"``), and statuses are the book's own; each venue renders
them in its own vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

from pytest_exchange_chaos.venues.base import Intent

__all__ = [
    "CONDITIONAL_KINDS",
    "MARKET_KINDS",
    "STOP_KINDS",
    "TAKE_PROFIT_KINDS",
    "AccountSnapshot",
    "Fill",
    "IdSource",
    "MarkStats",
    "Order",
    "OrderKind",
    "OrderRequest",
    "OrderStatus",
    "Position",
    "PositionSnapshot",
    "Side",
    "TimeInForce",
    "intent_of",
]

Side = Literal["buy", "sell"]
OrderKind = Literal[
    "market", "limit", "stop_market", "stop", "take_profit_market", "take_profit", "trailing_stop_market"
]
OrderStatus = Literal["new", "partially_filled", "filled", "canceled", "expired", "triggered", "rejected"]
TimeInForce = Literal["GTC", "IOC", "FOK", "GTX", "GTD"]

CONDITIONAL_KINDS: frozenset[str] = frozenset(
    {"stop_market", "stop", "take_profit_market", "take_profit", "trailing_stop_market"}
)
STOP_KINDS: frozenset[str] = frozenset({"stop_market", "stop", "trailing_stop_market"})
TAKE_PROFIT_KINDS: frozenset[str] = frozenset({"take_profit_market", "take_profit"})
MARKET_KINDS: frozenset[str] = frozenset(
    {"market", "stop_market", "take_profit_market", "trailing_stop_market"}
)
OPEN_STATUSES: frozenset[str] = frozenset({"new", "partially_filled"})


def intent_of(
    kind: str,
    side: str,
    reduce_only: bool,
    close_position: bool,
    position_qty: Decimal,
    quantity: Decimal | str | None = None,
) -> Intent:
    """What a trader means by an order, given the position it meets.

    A stop on the far side of an open position protects it even without ``reduceOnly``;
    the same stop with no position (or on the same side) is a breakout entry.

    A market or limit order on the far side of an open position closes or reduces it: an
    ``exit`` even without ``reduceOnly`` (a bot's rollback close often omits the flag). One
    larger than the position (``quantity`` above its size) flips it: the position it leaves
    open the other way needs a stop of its own, so that is an ``entry``. With no ``quantity``
    known, a far-side order counts as an ``exit``.
    """
    protective = reduce_only or close_position
    if kind in STOP_KINDS or kind in TAKE_PROFIT_KINDS:
        opposite = (side == "sell" and position_qty > 0) or (side == "buy" and position_qty < 0)
        if protective or opposite:
            return "stop_loss" if kind in STOP_KINDS else "take_profit"
        return "entry"
    if protective:
        return "exit"
    if (side == "sell" and position_qty > 0) or (side == "buy" and position_qty < 0):
        return "entry" if _flips(quantity, abs(position_qty)) else "exit"
    return "entry"


def _flips(quantity: Decimal | str | None, held: Decimal) -> bool:
    if quantity is None:
        return False
    try:
        return Decimal(quantity) > held
    except ArithmeticError:  # an unreadable amount: the venue refuses the order anyway
        return False


class IdSource(Protocol):
    """Where a venue's ids come from: each exchange formats them its own way."""

    def order_id(self, symbol: str, channel: str) -> str: ...

    def trade_id(self, symbol: str) -> str: ...

    def client_order_id(self) -> str: ...


# Not frozen: built for every order placed, and a frozen dataclass sets each of its 16 fields
# through object.__setattr__ (about 2 µs). Nothing assigns to one; its ``extra`` dict already
# made it unhashable.
@dataclass(slots=True)
class OrderRequest:
    """An order as the venue adapter parsed it; numbers stay the request's strings until the
    book validates them against the instrument."""

    symbol: str
    """The exchange's instrument id (``BTCUSDT``)."""
    side: Side
    kind: OrderKind
    quantity: str | None = None
    price: str | None = None
    trigger_price: str | None = None
    reduce_only: bool = False
    close_position: bool = False
    client_order_id: str | None = None
    time_in_force: TimeInForce = "GTC"
    channel: str = "regular"
    """The order list it lives in. Ids and client ids are unique per channel; Binance keeps
    algo (conditional) orders in a list of their own."""
    spawns_order_on_trigger: bool = False
    """When it triggers, place a separate order (Binance algo orders) instead of becoming one."""
    callback_rate: str | None = None
    activation_price: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    """Venue-specific fields to echo back (workingType, positionSide...)."""


# Slotted, like the other records the book keeps for a test's whole life: less memory for
# each and quicker field reads on every order placed.
@dataclass(slots=True)
class Order:
    id: str
    client_order_id: str
    symbol: str
    side: Side
    kind: OrderKind
    quantity: Decimal
    """Zero for close-position orders: they close whatever is open when they trigger."""
    price: Decimal | None
    trigger_price: Decimal | None
    reduce_only: bool
    close_position: bool
    time_in_force: TimeInForce
    channel: str
    created_ms: int
    updated_ms: int
    spawns_order_on_trigger: bool = False
    status: OrderStatus = "new"
    executed_qty: Decimal = Decimal(0)
    cum_quote: Decimal = Decimal(0)
    triggered: bool = False
    trigger_ms: int = 0
    child_order_id: str | None = None
    parent_order_id: str | None = None
    callback_rate: Decimal | None = None
    activation_price: Decimal | None = None
    trailing_extreme: Decimal | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def conditional(self) -> bool:
        return self.kind in CONDITIONAL_KINDS

    @property
    def waiting_for_trigger(self) -> bool:
        return self.conditional and not self.triggered and self.is_open

    @property
    def remaining(self) -> Decimal:
        return max(self.quantity - self.executed_qty, Decimal(0))

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed_qty if self.executed_qty else Decimal(0)

    @property
    def market_like(self) -> bool:
        return self.kind in MARKET_KINDS

    @property
    def signed_side(self) -> int:
        return 1 if self.side == "buy" else -1


@dataclass(slots=True)
class Position:
    """One-way mode: one signed quantity per symbol (positive long, negative short)."""

    symbol: str
    quantity: Decimal
    entry_price: Decimal
    opened_at: float
    """Chaos-clock seconds when the position was opened (or flipped)."""
    updated_ms: int

    @property
    def side(self) -> Literal["long", "short"]:
        return "long" if self.quantity > 0 else "short"


# Not frozen either, for the same reason as OrderRequest: one per execution, never assigned to
# and never hashed.
@dataclass(slots=True)
class Fill:
    id: str
    order_id: str
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    quote_qty: Decimal
    realized_pnl: Decimal
    commission: Decimal
    commission_asset: str
    maker: bool
    time_ms: int


@dataclass(slots=True)
class MarkStats:
    """A rolling day's ticker numbers: open is where the venue started."""

    open: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal = Decimal(0)
    quote_volume: Decimal = Decimal(0)
    trades: int = 0


@dataclass(frozen=True)
class AccountSnapshot:
    """Cross-margin account in the settle asset."""

    asset: str
    wallet_balance: Decimal
    unrealized_pnl: Decimal
    margin_balance: Decimal
    position_initial_margin: Decimal
    open_order_initial_margin: Decimal
    maint_margin: Decimal
    available_balance: Decimal
    max_withdraw: Decimal
    updated_ms: int

    @property
    def initial_margin(self) -> Decimal:
        return self.position_initial_margin + self.open_order_initial_margin


@dataclass(frozen=True)
class PositionSnapshot:
    symbol: str
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal
    notional: Decimal
    """Signed like the quantity."""
    unrealized_pnl: Decimal
    initial_margin: Decimal
    maint_margin: Decimal
    open_order_initial_margin: Decimal
    leverage: int
    liquidation_price: Decimal
    break_even_price: Decimal
    margin_mode: str
    opened_at: float
    updated_ms: int
