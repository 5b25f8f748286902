"""Bybit v5 spot (``category=spot``): the pairs, the order requests, the order rows and the
``retCode`` of each refusal. The state is a :class:`SpotBook` whose USDT is the unified
account's own, the same coins that margin the perpetuals.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pytest_exchange_chaos.venues import _errors as errors
from pytest_exchange_chaos.venues._book import Book
from pytest_exchange_chaos.venues._bybit_market import SPOT_LISTING
from pytest_exchange_chaos.venues._bybit_payloads import fmt, plain
from pytest_exchange_chaos.venues._bybit_requests import (
    BybitReject,
    Params,
    order_kind,
    text,
    trigger_direction,
)
from pytest_exchange_chaos.venues._errors import BookError
from pytest_exchange_chaos.venues._instruments import INSTRUMENTS, Instrument, spot_pair
from pytest_exchange_chaos.venues._records import Order, OrderRequest, Side, TimeInForce
from pytest_exchange_chaos.venues._spot import SpotBook
from pytest_exchange_chaos.venues.base import OrderTicket

__all__ = [
    "BYBIT_SPOT_PAIRS",
    "UnifiedWallet",
    "spot_order_payload",
    "spot_order_request",
    "spot_reject_for",
    "spot_ticket",
]

_MARKS = {instrument.base: instrument.mark_price for instrument in INSTRUMENTS}
BYBIT_SPOT_PAIRS: tuple[Instrument, ...] = tuple(
    spot_pair(
        base,
        tick=Decimal(tick),
        step=Decimal(precision),
        min_qty=Decimal(minimum),
        min_notional=Decimal(5),
        mark=_MARKS[base],
        max_qty=Decimal(10_000_000),
    )
    for base, tick, precision, minimum in SPOT_LISTING
)
"""The spot pairs Bybit lists in ``instruments-info?category=spot``, priced like the perpetuals."""

_TIME_IN_FORCE: dict[str, TimeInForce] = {"GTC": "GTC", "IOC": "IOC", "FOK": "FOK", "PostOnly": "GTX"}
_STATUSES = {
    "new": "New",
    "partially_filled": "PartiallyFilled",
    "filled": "Filled",
    "canceled": "Cancelled",
    "expired": "Cancelled",
    "triggered": "Triggered",
    "rejected": "Rejected",
}


class UnifiedWallet:
    """The unified account's USDT, as the spot book spends it: the derivatives book's wallet."""

    def __init__(self, book: Book) -> None:
        self.book = book

    def total(self) -> Decimal:
        return self.book.wallet_balance

    def available(self) -> Decimal:
        return self.book.account().available_balance

    def add(self, delta: Decimal, now_ms: int) -> None:
        self.book.wallet_balance += delta
        self.book.balance_updated_ms = now_ms


def _conditional(params: Params) -> bool:
    return text(params, "orderFilter") in ("StopOrder", "tpslOrder") or bool(text(params, "triggerPrice"))


def spot_ticket(params: Params, mark: Decimal) -> tuple[OrderTicket, str | None]:
    """The engine's grouping key for a spot placement, and its book kind (None when unreadable)."""
    side = text(params, "side").lower()
    direction = None
    try:
        if _conditional(params):
            direction = trigger_direction(params, mark)
    except (BybitReject, BookError):
        direction = None
    kind = order_kind(text(params, "orderType"), side, direction) if side in ("buy", "sell") else None
    ticket = OrderTicket(
        side=side,
        order_type=text(params, "orderType"),
        amount=text(params, "qty") or None,
        price=text(params, "price") or None,
        trigger_price=(text(params, "triggerPrice") or None) if direction is not None else None,
        client_order_id=text(params, "orderLinkId") or None,
    )
    return ticket, kind


def spot_order_request(params: Params, mark: Decimal) -> tuple[OrderRequest, str | None]:
    """Validate a spot ``/v5/order/create``; also the quote quantity of a market order sized in
    USDT (a market buy without ``marketUnit``, or with ``marketUnit=quoteCoin``)."""
    symbol = text(params, "symbol")
    if not symbol:
        raise BybitReject(10001, "params error: symbol invalid")
    side_text = text(params, "side")
    if side_text not in ("Buy", "Sell"):
        raise BybitReject(10001, f"params error: side {side_text or 'empty'} invalid")
    side: Side = "buy" if side_text == "Buy" else "sell"
    order_type = text(params, "orderType")
    if order_type not in ("Market", "Limit"):
        raise BybitReject(10001, f"params error: orderType {order_type or 'empty'} invalid")
    order_filter = text(params, "orderFilter") or "Order"
    if order_filter not in ("Order", "StopOrder", "tpslOrder"):
        raise BybitReject(10001, f"params error: orderFilter {order_filter} invalid")
    direction = trigger_direction(params, mark) if order_filter != "Order" else None
    if order_filter != "Order" and direction is None:
        raise BybitReject(10001, "params error: triggerPrice invalid")
    kind = order_kind(order_type, side, direction)
    assert kind is not None
    tif_text = text(params, "timeInForce") or ("IOC" if order_type == "Market" else "GTC")
    time_in_force = _TIME_IN_FORCE.get(tif_text)
    if time_in_force is None:
        raise BybitReject(10001, f"params error: timeInForce {tif_text} invalid")
    if order_type == "Limit" and not text(params, "price"):
        raise BybitReject(10001, "params error: price invalid")
    qty = text(params, "qty")
    if not qty:
        raise BybitReject(10001, "params error: qty invalid")
    unit = text(params, "marketUnit")
    if unit not in ("", "baseCoin", "quoteCoin"):
        raise BybitReject(10001, f"params error: marketUnit {unit} invalid")
    # Bybit sizes a spot market buy in USDT unless told otherwise, a sell in the base coin.
    in_quote = order_type == "Market" and (unit == "quoteCoin" or (not unit and side == "buy"))
    link_id = text(params, "orderLinkId")
    extra = {"orderLinkId": link_id, "orderFilter": order_filter, "marketUnit": unit}
    if direction is not None:
        extra["triggerDirection"] = str(direction)
    request = OrderRequest(
        symbol=symbol,
        side=side,
        kind=kind,
        quantity=None if in_quote else qty,
        price=text(params, "price") if order_type == "Limit" else None,
        trigger_price=text(params, "triggerPrice") or None,
        client_order_id=link_id or None,
        time_in_force="IOC" if order_type == "Market" else time_in_force,
        channel="spot",
        extra=extra,
    )
    return request, qty if in_quote else None


def spot_order_payload(order: Order, instrument: Instrument, spot: SpotBook) -> dict[str, Any]:
    """A spot order in ``/v5/order/realtime`` and ``/v5/order/history`` (no ``tpslMode``: ccxt
    reads a row that has one as a contract's)."""
    places = instrument.price_precision
    extra = order.extra
    fee = sum((f.commission for f in spot.fills if f.order_id == order.id), Decimal(0))
    unit = extra.get("marketUnit", "")
    in_quote = order.market_like and (unit == "quoteCoin" or (not unit and order.side == "buy"))
    leaves = order.remaining if order.is_open else Decimal(0)
    status = _STATUSES[order.status]
    if order.conditional and order.is_open and not order.triggered:
        status = "Untriggered"
    payload: dict[str, Any] = {
        "orderId": order.id,
        "orderLinkId": extra.get("orderLinkId", ""),
        "blockTradeId": "",
        "symbol": instrument.id,
        "price": fmt(order.price, places) if order.price is not None else "0",
        "qty": plain(order.cum_quote if in_quote and not order.is_open else order.quantity),
        "side": "Buy" if order.side == "buy" else "Sell",
        "isLeverage": "0",
        "positionIdx": 0,
        "orderStatus": status,
        "createType": "CreateByUser",
        "cancelType": "CancelByUser" if order.status == "canceled" else "UNKNOWN",
        "rejectReason": "EC_NoError",
        "avgPrice": fmt(order.avg_price, places) if order.executed_qty else "",
        "leavesQty": plain(leaves),
        "leavesValue": plain(leaves * (order.price or order.trigger_price or Decimal(0))),
        "cumExecQty": plain(order.executed_qty),
        "cumExecValue": plain(order.cum_quote),
        "cumExecFee": plain(fee),
        "timeInForce": {"GTX": "PostOnly"}.get(order.time_in_force, order.time_in_force),
        "orderType": "Market" if order.market_like else "Limit",
        "stopOrderType": {"StopOrder": "Stop", "tpslOrder": "tpslOrder"}.get(
            extra.get("orderFilter", ""), ""
        ),
        "orderIv": "",
        "marketUnit": unit if order.market_like else "",
        "triggerPrice": fmt(order.trigger_price, places) if order.trigger_price is not None else "0",
        "takeProfit": "0",
        "stopLoss": "0",
        "tpTriggerBy": "",
        "slTriggerBy": "",
        "triggerDirection": int(extra.get("triggerDirection", "0")),
        "triggerBy": "LastPrice" if order.conditional else "",
        "lastPriceOnCreated": "",
        "reduceOnly": False,
        "closeOnTrigger": False,
        "placeType": "",
        "smpType": "None",
        "smpGroup": 0,
        "smpOrderId": "",
        "createdTime": str(order.created_ms),
        "updatedTime": str(order.updated_ms),
    }
    if fee:
        payload["cumFeeDetail"] = {spot.quote: plain(fee)}
    return payload


# Bybit's spot retCode and message for each book refusal that has one whatever its details.
_REFUSALS: dict[type[BookError], tuple[int, str]] = {
    errors.UnknownSymbol: (10001, "Not supported symbols"),
    errors.InsufficientBalance: (170131, "Insufficient balance."),
    errors.TickSizeError: (170134, "Order price has too many decimals."),
    errors.QuantityTooSmall: (170136, "Order quantity exceeded lower limit."),
    errors.QuantityTooLarge: (170135, "Order quantity exceeded upper limit."),
    errors.NotionalTooSmall: (170140, "Order value exceeded lower limit."),
    errors.DuplicateClientOrderId: (170141, "Duplicate clientOrderId."),
    errors.WouldTriggerImmediately: (10001, "params error: the trigger price would trigger immediately"),
    errors.PostOnlyWouldTake: (10001, "params error: a PostOnly order would take liquidity"),
    errors.OrderNotFound: (170213, "Order does not exist."),
}


def spot_reject_for(error: BookError) -> BybitReject:
    """Bybit's spot ``retCode`` for a book refusal (ccxt's ``exceptions`` map)."""
    if isinstance(error, errors.PrecisionError):
        if error.field == "quantity":
            return BybitReject(170137, "Order quantity has too many decimals.")
        return BybitReject(170134, "Order price has too many decimals.")
    if isinstance(error, errors.InvalidOrderParameters):
        return BybitReject(10001, f"params error: {error.field or 'param'} invalid")
    code, message = _REFUSALS.get(type(error), (10016, "Server error."))
    return BybitReject(code, message)
