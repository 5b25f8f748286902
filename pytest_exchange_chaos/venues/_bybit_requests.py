"""Reading Bybit v5 order requests: the JSON body of ``/v5/order/create`` turned into the book's
:class:`OrderRequest`, and Bybit's own ``retCode`` for what is wrong with a request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

from pytest_exchange_chaos.venues._book import parse_decimal
from pytest_exchange_chaos.venues._errors import (
    BookError,
    DuplicateClientOrderId,
    FillOrKillNotFillable,
    InsufficientMargin,
    InvalidLeverage,
    InvalidOrderParameters,
    NoChangeNeeded,
    NotionalTooSmall,
    OrderNotFound,
    PostOnlyWouldTake,
    PrecisionError,
    QuantityTooLarge,
    QuantityTooSmall,
    ReduceOnlyRejected,
    SettingLocked,
    TickSizeError,
    UnknownSymbol,
    WouldTriggerImmediately,
)
from pytest_exchange_chaos.venues._records import OrderKind, OrderRequest, Side, TimeInForce, intent_of
from pytest_exchange_chaos.venues.base import Intent, OrderTicket

__all__ = [
    "BybitReject",
    "Params",
    "flag",
    "order_kind",
    "order_request",
    "order_ticket",
    "placement_intent",
    "reject_for",
    "text",
    "trigger_direction",
]

Params = Mapping[str, Any]
Direction = Literal[1, 2]

_LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
_TIME_IN_FORCE: dict[str, TimeInForce] = {"GTC": "GTC", "IOC": "IOC", "FOK": "FOK", "PostOnly": "GTX"}


class BybitReject(Exception):
    """Answer with Bybit's ``{"retCode", "retMsg"}`` body (always HTTP 200)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


def text(params: Params, name: str) -> str:
    """A parameter as Bybit reads it: JSON booleans and numbers arrive typed, queries as strings."""
    value = params.get(name)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flag(params: Params, name: str) -> bool:
    value = text(params, name).strip().lower()
    if value in ("", "false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise BybitReject(10001, f"params error: {name} invalid")


def _side(params: Params) -> Side:
    side = text(params, "side")
    if side == "Buy":
        return "buy"
    if side == "Sell":
        return "sell"
    if not side:
        raise BybitReject(10001, "params error: side invalid")
    raise BybitReject(10001, f"params error: side {side} invalid")


def trigger_direction(params: Params, mark: Decimal) -> Direction | None:
    """``triggerDirection`` as sent, or the way the trigger lies from the mark when it is absent."""
    raw = text(params, "triggerDirection")
    if raw in ("1", "2"):
        return 1 if raw == "1" else 2
    if raw not in ("", "0"):
        raise BybitReject(10001, "params error: TriggerDirection invalid")
    trigger = text(params, "triggerPrice")
    if not trigger:
        return None
    return 1 if parse_decimal(trigger, "trigger_price") > mark else 2


def order_kind(order_type: str, side: str, direction: Direction | None) -> OrderKind | None:
    """A rising trigger is a stop for a buy and a take-profit for a sell; a falling one the reverse."""
    if order_type not in ("Market", "Limit"):
        return None
    market = order_type == "Market"
    if direction is None:
        return "market" if market else "limit"
    stop = (side == "buy") == (direction == 1)
    if stop:
        return "stop_market" if market else "stop"
    return "take_profit_market" if market else "take_profit"


def order_request(params: Params, *, mark: Decimal, hedge_mode: bool) -> OrderRequest:
    """Validate the fields Bybit checks before the matching engine sees the order."""
    symbol = text(params, "symbol")
    if not symbol:
        raise BybitReject(10001, "params error: symbol invalid")
    side = _side(params)
    order_type = text(params, "orderType")
    if order_type not in ("Market", "Limit"):
        raise BybitReject(10001, f"params error: orderType {order_type or 'empty'} invalid")
    direction = trigger_direction(params, mark)
    kind = order_kind(order_type, side, direction)
    assert kind is not None
    reduce_only = flag(params, "reduceOnly") or flag(params, "closeOnTrigger")
    position_idx = text(params, "positionIdx") or "0"
    if hedge_mode:
        if position_idx not in ("1", "2"):
            raise BybitReject(10001, "position idx not match position mode")
        # The book is one-way: closing a hedge-mode leg is a reduce-only order on it.
        reduce_only = (position_idx == "1") == (side == "sell")
    elif position_idx != "0":
        raise BybitReject(10001, "position idx not match position mode")
    time_in_force_text = text(params, "timeInForce") or ("IOC" if order_type == "Market" else "GTC")
    time_in_force = _TIME_IN_FORCE.get(time_in_force_text)
    if time_in_force is None:
        raise BybitReject(10001, f"params error: timeInForce {time_in_force_text} invalid")
    if order_type == "Market":
        # Bybit turns a market order into an IOC order at a protective price.
        time_in_force = "IOC"
    link_id = text(params, "orderLinkId")
    if link_id and not _LINK_ID.match(link_id):
        raise BybitReject(10001, "params error: orderLinkId invalid")
    extra: dict[str, str] = {"orderLinkId": link_id, "positionIdx": position_idx}
    if direction is not None:
        extra["triggerDirection"] = str(direction)
        extra["triggerBy"] = text(params, "triggerBy") or "LastPrice"
        extra["stopOrderType"] = "Stop"
    for key in (
        "stopLoss",
        "takeProfit",
        "tpslMode",
        "slOrderType",
        "tpOrderType",
        "slLimitPrice",
        "tpLimitPrice",
    ):
        if text(params, key):
            extra[key] = text(params, key)
    if order_type == "Limit" and not text(params, "price"):
        raise BybitReject(10001, "params error: price invalid")
    return OrderRequest(
        symbol=symbol,
        side=side,
        kind=kind,
        quantity=text(params, "qty") or None,
        price=text(params, "price") if order_type == "Limit" else None,
        trigger_price=text(params, "triggerPrice") or None,
        reduce_only=reduce_only,
        client_order_id=link_id or None,
        time_in_force=time_in_force,
        extra=extra,
    )


def order_ticket(params: Params, mark: Decimal) -> OrderTicket:
    """The engine's grouping key for an order placement, straight from the request's fields."""
    try:
        direction = trigger_direction(params, mark) if text(params, "triggerPrice") else None
    except (BybitReject, BookError):
        direction = None
    return OrderTicket(
        side=text(params, "side").lower(),
        order_type=text(params, "orderType"),
        amount=text(params, "qty") or None,
        price=text(params, "price") or None,
        trigger_price=(text(params, "triggerPrice") or None) if direction is not None else None,
        reduce_only=_truthy(params, "reduceOnly") or _truthy(params, "closeOnTrigger") or _closes_leg(params),
        client_order_id=text(params, "orderLinkId") or None,
        attached_stop_loss=_attached_price(text(params, "stopLoss")),
    )


def _attached_price(value: str) -> str | None:
    # Bybit reads "0" (and an empty field) as "no stop-loss".
    try:
        return value if value and Decimal(value) != 0 else None
    except ArithmeticError:
        return None


def _closes_leg(params: Params) -> bool:
    """In hedge mode a sell on the long leg (or a buy on the short one) can only close it."""
    leg, side = text(params, "positionIdx"), text(params, "side")
    return (leg, side) in (("1", "Sell"), ("2", "Buy"))


def _truthy(params: Params, name: str) -> bool:
    return text(params, name).strip().lower() in ("true", "1")


def placement_intent(params: Params, ticket: OrderTicket, mark: Decimal, position_qty: Decimal) -> Intent:
    try:
        direction = trigger_direction(params, mark) if ticket.trigger_price else None
    except (BybitReject, BookError):
        return "other"
    kind = order_kind(ticket.order_type, ticket.side, direction)
    if kind is None or ticket.side not in ("buy", "sell"):
        return "other"
    return intent_of(
        kind, ticket.side, ticket.reduce_only, ticket.close_position, position_qty, ticket.amount
    )


_FIELD_NAMES = {
    "quantity": "qty",
    "price": "price",
    "trigger_price": "triggerPrice",
    "activation_price": "activePrice",
    "order_id": "orderId",
}


def reject_for(error: BookError, *, direction: Direction | None = None) -> BybitReject:
    """Bybit's code and message for a book refusal (codes from ccxt's ``exceptions`` map)."""
    if isinstance(error, UnknownSymbol):
        # ccxt matches this message broadly and raises BadSymbol.
        return BybitReject(10001, "Not supported symbols")
    if isinstance(error, (PrecisionError, TickSizeError)):
        name = _FIELD_NAMES.get(error.field, error.field)
        return BybitReject(10001, f"params error: {name} {error.value} does not match the instrument's step")
    if isinstance(error, QuantityTooSmall):
        if error.non_positive:
            return BybitReject(10001, "params error: qty must be greater than zero")
        return BybitReject(10001, "The number of contracts exceeds minimum limit allowed")
    if isinstance(error, QuantityTooLarge):
        return BybitReject(10001, "The number of contracts exceeds maximum limit allowed")
    if isinstance(error, NotionalTooSmall):
        minimum = format(error.minimum.normalize(), "f")
        return BybitReject(110094, f"Order does not meet minimum order value {minimum}USDT")
    if isinstance(error, InsufficientMargin):
        return BybitReject(110007, "ab not enough for new order")
    if isinstance(error, ReduceOnlyRejected):
        return BybitReject(110017, "Reduce-only rule not satisfied")
    if isinstance(error, DuplicateClientOrderId):
        return BybitReject(110072, "OrderLinkedID is duplicate")
    if isinstance(error, OrderNotFound):
        return BybitReject(110001, "order not exists or too late to cancel")
    if isinstance(error, WouldTriggerImmediately):
        if direction == 1:
            return BybitReject(110092, "expect Rising, but trigger_price <= current")
        return BybitReject(110093, "expect Falling, but trigger_price >= current")
    if isinstance(error, PostOnlyWouldTake):
        # Bybit accepts the order and cancels it at once; the book keeps no trace, so refuse it.
        return BybitReject(10001, "params error: a PostOnly order would take liquidity")
    if isinstance(error, FillOrKillNotFillable):
        return BybitReject(10001, "params error: a FOK order could not fill at once")
    if isinstance(error, InvalidLeverage):
        return BybitReject(10001, f"leverage invalid: {error.leverage} is not within 1..{error.maximum}")
    if isinstance(error, NoChangeNeeded):
        if error.setting == "hedge_mode":
            return BybitReject(110025, "Position mode is not modified")
        return BybitReject(110026, "Cross/isolated margin mode is not modified")
    if isinstance(error, SettingLocked):
        if error.setting == "hedge_mode":
            return BybitReject(110024, "You have an existing position, so position mode cannot be switched")
        return BybitReject(3400045, f"Set margin mode failed: there are {error.because.replace('_', ' ')}")
    if isinstance(error, InvalidOrderParameters):
        name = _FIELD_NAMES.get(error.field or "", error.field or "param")
        return BybitReject(10001, f"params error: {name} invalid")
    return BybitReject(10016, "Server error.")
