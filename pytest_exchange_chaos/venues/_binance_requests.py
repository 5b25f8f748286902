"""Reading Binance USD-M order requests: the form fields of ``/fapi/v1/order`` and
``/fapi/v1/algoOrder`` turned into the book's :class:`OrderRequest`, and Binance's own
error codes for what is wrong with them (spot shares the symbol and side check).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pytest_exchange_chaos.venues._binance_payloads import BINANCE_KINDS
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
from pytest_exchange_chaos.venues._records import (
    CONDITIONAL_KINDS,
    OrderRequest,
    Side,
    TimeInForce,
    intent_of,
)
from pytest_exchange_chaos.venues.base import Intent, OrderTicket

__all__ = [
    "BinanceReject",
    "batch_entries",
    "check_decimals",
    "flag",
    "illegal",
    "missing",
    "order_request",
    "order_symbol_and_side",
    "order_ticket",
    "placement_intent",
    "reject_for",
]

_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_TIME_IN_FORCE: dict[str, TimeInForce] = {
    "GTC": "GTC",
    "IOC": "IOC",
    "FOK": "FOK",
    "GTX": "GTX",
    "GTD": "GTD",
}
_PARAM_NAMES = {
    "quantity": "quantity",
    "price": "price",
    "callback_rate": "callbackRate",
    "order_id": "orderId",
    "kind": "type",
    "reduce_only": "reduceOnly",
}


class BinanceReject(Exception):
    """Answer with Binance's ``{"code", "msg"}`` body."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.status = status


def missing(name: str) -> BinanceReject:
    return BinanceReject(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def illegal(name: str) -> BinanceReject:
    """A decimal field that is not a plain unsigned decimal (a sign, an exponent, a letter)."""
    return BinanceReject(
        -1100,
        f"Illegal characters found in parameter '{name}'; "
        "legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
    )


def check_decimals(params: Mapping[str, str], names: tuple[str, ...]) -> None:
    """Binance reads every decimal field against one pattern before any filter sees the order."""
    for name in names:
        value = params.get(name)
        if value and not _DECIMAL.match(value):
            raise illegal(name)


def flag(params: Mapping[str, str], name: str) -> bool:
    value = params.get(name, "").strip().lower()
    if value in ("", "false"):
        return False
    if value == "true":
        return True
    raise BinanceReject(-1130, f"Data sent for parameter '{name}' is not valid.")


def _trigger_param(algo: bool) -> str:
    return "triggerPrice" if algo else "stopPrice"


def order_symbol_and_side(params: Mapping[str, str]) -> tuple[str, Side]:
    """An order's symbol and side, checked first on futures and spot alike."""
    symbol = params.get("symbol") or ""
    if not symbol:
        raise missing("symbol")
    side = params.get("side", "")
    if not side:
        raise missing("side")
    if side not in ("BUY", "SELL"):
        raise BinanceReject(-1117, "Invalid side.")
    return symbol, "buy" if side == "BUY" else "sell"


def order_request(params: Mapping[str, str], *, algo: bool, hedge_mode: bool) -> OrderRequest:
    """Validate the fields Binance checks before the matching engine sees the order."""
    symbol, side = order_symbol_and_side(params)
    if algo:
        algo_type = params.get("algoType", "")
        if not algo_type:
            raise missing("algoType")
        if algo_type != "CONDITIONAL":
            raise BinanceReject(-1130, "Data sent for parameter 'algoType' is not valid.")
    type_text = params.get("type", "")
    if not type_text:
        raise missing("type")
    kind = BINANCE_KINDS.get(type_text)
    if kind is None or (algo and kind not in CONDITIONAL_KINDS):
        raise BinanceReject(-1116, "Invalid orderType.")
    # Most orders send neither flag.
    reduce_only = "reduceOnly" in params and flag(params, "reduceOnly")
    close_position = "closePosition" in params and flag(params, "closePosition")
    position_side = params.get("positionSide", "BOTH") or "BOTH"
    if hedge_mode:
        if position_side not in ("LONG", "SHORT"):
            raise BinanceReject(-4061, "Order's position side does not match user's setting.")
        if "reduceOnly" in params:
            raise BinanceReject(-1106, "Parameter 'reduceOnly' sent when not required.")
        # The book is one-way: closing a hedge-mode leg is a reduce-only order on it.
        reduce_only = (position_side == "LONG") == (side == "sell")
    elif position_side != "BOTH":
        raise BinanceReject(-4061, "Order's position side does not match user's setting.")
    if close_position:
        if kind not in ("stop_market", "take_profit_market"):
            raise BinanceReject(
                -4136, f"Target strategy invalid for orderType {type_text},closePosition true"
            )
        if params.get("quantity"):
            raise BinanceReject(-4137, "Quantity must be zero with closePosition equals true")
        if reduce_only and not hedge_mode:
            raise BinanceReject(-1106, "Parameter 'reduceOnly' sent when not required.")
        reduce_only = False
    time_in_force = params.get("timeInForce", "")
    if not time_in_force:
        if kind in ("limit", "stop", "take_profit") and not algo:
            raise missing("timeInForce")
        time_in_force = "GTC"
    if time_in_force not in _TIME_IN_FORCE:
        raise BinanceReject(-1115, "Invalid timeInForce.")
    client_key = "clientAlgoId" if algo else "newClientOrderId"
    client_id = params.get(client_key) or None
    if client_id is not None and not _CLIENT_ID.match(client_id):
        raise BinanceReject(-4015, "Client order id is not valid.")
    extra = {
        key: params[key]
        for key in ("workingType", "priceProtect", "priceMatch", "selfTradePreventionMode")
        if params.get(key)
    }
    extra["positionSide"] = position_side
    return OrderRequest(
        symbol=symbol,
        side=side,
        kind=kind,
        quantity=params.get("quantity") or None,
        price=params.get("price") or None,
        trigger_price=params.get("triggerPrice" if algo else "stopPrice") or None,
        reduce_only=reduce_only,
        close_position=close_position,
        client_order_id=client_id,
        time_in_force=_TIME_IN_FORCE[time_in_force],
        channel="algo" if algo else "regular",
        spawns_order_on_trigger=algo,
        callback_rate=params.get("callbackRate") or None,
        activation_price=params.get("activatePrice" if algo else "activationPrice") or None,
        extra=extra,
    )


def order_ticket(params: Mapping[str, str], *, algo: bool) -> OrderTicket:
    """The engine's grouping key for an order placement, straight from the request's strings."""
    reduce_only = params.get("reduceOnly")
    close_position = params.get("closePosition")
    return OrderTicket(
        side=params.get("side", "").lower(),
        order_type=params.get("type", ""),
        amount=params.get("quantity") or None,
        price=params.get("price") or None,
        trigger_price=params.get("triggerPrice" if algo else "stopPrice")
        or params.get("activationPrice")
        or None,
        reduce_only=reduce_only is not None and reduce_only.strip().lower() == "true",
        close_position=close_position is not None and close_position.strip().lower() == "true",
        client_order_id=params.get("clientAlgoId" if algo else "newClientOrderId") or None,
    )


def placement_intent(ticket: OrderTicket, position_qty: Decimal) -> Intent:
    kind = BINANCE_KINDS.get(ticket.order_type)
    if kind is None or ticket.side not in ("buy", "sell"):
        return "other"
    return intent_of(
        kind, ticket.side, ticket.reduce_only, ticket.close_position, position_qty, ticket.amount
    )


def batch_entries(params: Mapping[str, str]) -> list[dict[str, str]]:
    raw = params.get("batchOrders", "")
    if not raw:
        raise missing("batchOrders")
    try:
        decoded: Any = json.loads(raw)
    except ValueError:
        raise BinanceReject(-1130, "Data sent for parameter 'batchOrders' is not valid.") from None
    if not isinstance(decoded, list) or not decoded or not all(isinstance(e, dict) for e in decoded):
        raise BinanceReject(-1130, "Data sent for parameter 'batchOrders' is not valid.")
    if len(decoded) > 5:
        raise BinanceReject(-4082, "Invalid number of batch place orders.")
    return [{str(k): _form_value(v) for k, v in entry.items()} for entry in decoded]


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _param_name(error: InvalidOrderParameters, algo: bool) -> str:
    field = error.field or "unknown"
    if field == "trigger_price":
        return _trigger_param(algo)
    if field == "activation_price":
        return "activatePrice" if algo else "activationPrice"
    return _PARAM_NAMES.get(field, field)


def reject_for(error: BookError, *, algo: bool = False, cancelling: bool = False) -> BinanceReject:
    """Binance's code and message for a book refusal (the USD-M codes ccxt maps by URL)."""
    if isinstance(error, UnknownSymbol):
        return BinanceReject(-1121, "Invalid symbol.")
    if isinstance(error, PrecisionError):
        return BinanceReject(-1111, "Precision is over the maximum defined for this asset.")
    if isinstance(error, TickSizeError):
        return BinanceReject(-4014, "Price not increased by tick size.")
    if isinstance(error, QuantityTooSmall):
        if error.non_positive:
            return BinanceReject(-4003, "Quantity less than or equal to zero.")
        return BinanceReject(-4004, "Quantity less than min quantity.")
    if isinstance(error, QuantityTooLarge):
        return BinanceReject(-4005, "Quantity greater than max quantity.")
    if isinstance(error, NotionalTooSmall):
        minimum = format(error.minimum.normalize(), "f")
        return BinanceReject(
            -4164, f"Order's notional must be no smaller than {minimum} (unless you choose reduce only)."
        )
    if isinstance(error, InsufficientMargin):
        return BinanceReject(-2019, "Margin is insufficient.")
    if isinstance(error, ReduceOnlyRejected):
        return BinanceReject(-2022, "ReduceOnly Order is rejected.")
    if isinstance(error, DuplicateClientOrderId):
        return BinanceReject(-4116, "ClientOrderId is duplicated.")
    if isinstance(error, OrderNotFound):
        if cancelling:
            return BinanceReject(-2011, "Unknown order sent.")
        return BinanceReject(-2013, "Order does not exist.")
    if isinstance(error, WouldTriggerImmediately):
        return BinanceReject(-2021, "Order would immediately trigger.")
    if isinstance(error, PostOnlyWouldTake):
        return BinanceReject(
            -5022,
            "Due to the order could not be executed as maker, the Post Only order will be rejected. "
            "The order will not be recorded in the order history",
        )
    if isinstance(error, FillOrKillNotFillable):
        return BinanceReject(
            -5021,
            "Due to the order could not be filled immediately, the FOK order has been rejected. "
            "The order will not be recorded in the order history",
        )
    if isinstance(error, InvalidLeverage):
        return BinanceReject(-4028, f"Leverage {error.leverage} is not valid")
    if isinstance(error, NoChangeNeeded):
        return {
            "margin_mode": BinanceReject(-4046, "No need to change margin type."),
            "hedge_mode": BinanceReject(-4059, "No need to change position side."),
            "multi_assets": BinanceReject(
                -4171, "Adjusted asset mode is currently set and does not need to be adjusted repeatedly."
            ),
        }[error.setting]
    if isinstance(error, SettingLocked):
        return _locked(error)
    if isinstance(error, InvalidOrderParameters):
        name = _param_name(error, algo)
        if error.reason == "missing":
            return missing(name)
        if error.reason == "illegal":
            return illegal(name)
        return BinanceReject(-1130, f"Data sent for parameter '{name}' is not valid.")
    return BinanceReject(-1000, "An unknown error occured while processing the request.")


def _locked(error: SettingLocked) -> BinanceReject:
    if error.setting == "margin_mode":
        if error.because == "position":
            return BinanceReject(-4048, "Margin type cannot be changed if there exists position.")
        return BinanceReject(-4047, "Margin type cannot be changed if there exists open orders.")
    if error.setting == "hedge_mode":
        if error.because == "position":
            return BinanceReject(-4068, "Position side cannot be changed if there exists position.")
        return BinanceReject(-4067, "Position side cannot be changed if there exists open orders.")
    return BinanceReject(-4170, "Unable to adjust Multi-Assets Mode with open orders in USDⓈ-M Futures")
