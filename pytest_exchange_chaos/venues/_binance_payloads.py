"""Binance USD-M bodies for the account side: orders, algo orders, balances, positions, fills.

Field names, types (numbers as strings, ids as integers) and formatting follow the real
``/fapi`` answers, because ccxt's ``parse_order``/``parse_position_risk``/``parse_balance``
read exactly these keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from typing import Any

from pytest_exchange_chaos.venues._book import Book
from pytest_exchange_chaos.venues._instruments import Instrument
from pytest_exchange_chaos.venues._records import Fill, Order, OrderKind, PositionSnapshot

__all__ = [
    "BINANCE_KINDS",
    "BINANCE_TYPES",
    "account_v2",
    "account_v3",
    "algo_payload",
    "balances",
    "fmt",
    "income",
    "leverage_brackets",
    "order_payload",
    "order_reply_body",
    "plain",
    "position_risk_v2",
    "position_risk_v3",
    "user_trade",
]

ZERO = Decimal(0)

BINANCE_TYPES: dict[str, str] = {
    "market": "MARKET",
    "limit": "LIMIT",
    "stop": "STOP",
    "stop_market": "STOP_MARKET",
    "take_profit": "TAKE_PROFIT",
    "take_profit_market": "TAKE_PROFIT_MARKET",
    "trailing_stop_market": "TRAILING_STOP_MARKET",
}
BINANCE_KINDS: dict[str, OrderKind] = {
    "MARKET": "market",
    "LIMIT": "limit",
    "STOP": "stop",
    "STOP_MARKET": "stop_market",
    "TAKE_PROFIT": "take_profit",
    "TAKE_PROFIT_MARKET": "take_profit_market",
    "TRAILING_STOP_MARKET": "trailing_stop_market",
}
_STATUSES = {
    "new": "NEW",
    "partially_filled": "PARTIALLY_FILLED",
    "filled": "FILLED",
    "canceled": "CANCELED",
    "expired": "EXPIRED",
    "rejected": "REJECTED",
    "triggered": "FILLED",
}


def fmt(value: Decimal, places: int) -> str:
    """Fixed decimals, the way Binance pads prices and quantities."""
    return format(value, f".{places}f")


def plain(value: Decimal) -> str:
    """The shortest exact decimal, never in exponent form."""
    return format(value.normalize(), "f")


def _quote_places(instrument: Instrument) -> int:
    return max(instrument.price_precision + instrument.quantity_precision, 5)


def _extra_bool(order: Order, key: str) -> bool:
    return order.extra.get(key, "").lower() == "true"


@dataclass(frozen=True)
class _OrderFormats:
    """An instrument's number formats in order answers, and its zeros already formatted."""

    price: str
    average: str
    quantity: str
    quote: str
    zero_price: str
    zero_average: str
    zero_quantity: str
    zero_quote: str
    symbol_json: str


# Keyed by what the formats depend on, not by the Instrument (hashing its 17 fields per order
# would cost more than the formatting it saves). A handful of entries: one per listed contract.
_FORMATS: dict[tuple[str, int, int], _OrderFormats] = {}


def _formats(instrument: Instrument) -> _OrderFormats:
    key = (instrument.id, instrument.price_precision, instrument.quantity_precision)
    found = _FORMATS.get(key)
    if found is None:
        price = f".{instrument.price_precision}f"
        average = f".{max(instrument.price_precision, 5)}f"
        quantity = f".{instrument.quantity_precision}f"
        quote = f".{_quote_places(instrument)}f"
        found = _FORMATS[key] = _OrderFormats(
            price=price,
            average=average,
            quantity=quantity,
            quote=quote,
            zero_price=format(ZERO, price),
            zero_average=format(ZERO, average),
            zero_quantity=format(ZERO, quantity),
            zero_quote=format(ZERO, quote),
            symbol_json=encode_basestring_ascii(instrument.id),
        )
    return found


def _executed_figures(order: Order, formats: _OrderFormats, *, ack: bool) -> tuple[str, str, str]:
    """The executed quantity, cumulative quote and average price of an order answer; an
    acknowledgement shows the order before it executed, all zeros."""
    if ack:
        return formats.zero_quantity, formats.zero_quote, formats.zero_average
    return (
        format(order.executed_qty, formats.quantity),
        format(order.cum_quote, formats.quote),
        format(order.avg_price, formats.average),
    )


def order_payload(
    order: Order, instrument: Instrument, *, with_time: bool, ack: bool = False
) -> dict[str, Any]:
    """A ``/fapi/v1/order`` answer. ``ack`` is the order as accepted, before it executed.

    ``order_reply_body`` renders the same answer straight to JSON: change both together.
    """
    formats = _formats(instrument)
    executed, cum_quote, average = _executed_figures(order, formats, ack=ack)
    binance_type = BINANCE_TYPES[order.kind]
    extra = order.extra
    payload: dict[str, Any] = {
        "orderId": int(order.id),
        "symbol": instrument.id,
        "status": "NEW" if ack else _STATUSES[order.status],
        "clientOrderId": order.client_order_id,
        "price": _price_or_zero(order.price, formats),
        "avgPrice": average,
        "origQty": format(order.quantity, formats.quantity),
        "executedQty": executed,
        "cumQty": executed,
        "cumQuote": cum_quote,
        "timeInForce": order.time_in_force,
        "type": binance_type,
        "reduceOnly": order.reduce_only,
        "closePosition": order.close_position,
        "side": order.side.upper(),
        "positionSide": extra.get("positionSide", "BOTH"),
        "stopPrice": _price_or_zero(order.trigger_price, formats),
        "workingType": extra.get("workingType", "CONTRACT_PRICE"),
        "priceProtect": _extra_bool(order, "priceProtect"),
        "origType": binance_type,
        "priceMatch": extra.get("priceMatch", "NONE"),
        "selfTradePreventionMode": extra.get("selfTradePreventionMode", "EXPIRE_MAKER"),
        "goodTillDate": 0,
        "updateTime": order.created_ms if ack else order.updated_ms,
    }
    if order.kind == "trailing_stop_market":
        payload["activatePrice"] = _price_or_zero(order.activation_price, formats)
        payload["priceRate"] = plain(order.callback_rate or ZERO)
    if with_time:
        payload["time"] = order.created_ms
    return payload


def _price_or_zero(value: Decimal | None, formats: _OrderFormats) -> str:
    # ``fmt(value or ZERO, ...)``: any zero (``-0`` too) formats as ZERO does.
    return format(value, formats.price) if value else formats.zero_price


# A JSON string literal: json.dumps's own encoder for one str, called directly (no Python frame
# in between; an order answer has ten of them).
_json_text = encode_basestring_ascii


# A JSON boolean, indexed by the bool itself.
_JSON_BOOL = ("false", "true")
# The fixed vocabularies of an order answer, already as JSON string literals.
_JSON_TYPES = {kind: _json_text(text) for kind, text in BINANCE_TYPES.items()}
_JSON_STATUSES = {status: _json_text(text) for status, text in _STATUSES.items()}
_JSON_SIDES = {"buy": '"BUY"', "sell": '"SELL"'}


def order_reply_body(order: Order, instrument: Instrument, *, ack: bool) -> bytes:
    """``order_payload(order, instrument, with_time=False, ack=ack)`` as compact JSON, the very
    bytes ``json.dumps(..., separators=(",", ":"))`` makes of it, without building the dict and
    walking it again: the answer to every order a bot places."""
    formats = _formats(instrument)
    executed, cum_quote, average = _executed_figures(order, formats, ack=ack)
    binance_type = _JSON_TYPES[order.kind]
    extra = order.extra
    price = _price_or_zero(order.price, formats)
    stop_price = _price_or_zero(order.trigger_price, formats)
    text = (
        f'{{"orderId":{int(order.id)!r},"symbol":{formats.symbol_json},'
        f'"status":{_JSON_STATUSES["new" if ack else order.status]},'
        f'"clientOrderId":{_json_text(order.client_order_id)},"price":"{price}",'
        f'"avgPrice":"{average}","origQty":"{format(order.quantity, formats.quantity)}",'
        f'"executedQty":"{executed}","cumQty":"{executed}","cumQuote":"{cum_quote}",'
        f'"timeInForce":{_json_text(order.time_in_force)},"type":{binance_type},'
        f'"reduceOnly":{_JSON_BOOL[order.reduce_only]},'
        f'"closePosition":{_JSON_BOOL[order.close_position]},'
        f'"side":{_JSON_SIDES[order.side]},'
        f'"positionSide":{_json_text(extra.get("positionSide", "BOTH"))},'
        f'"stopPrice":"{stop_price}",'
        f'"workingType":{_json_text(extra.get("workingType", "CONTRACT_PRICE"))},'
        f'"priceProtect":{_JSON_BOOL[extra.get("priceProtect", "").lower() == "true"]},'
        f'"origType":{binance_type},"priceMatch":{_json_text(extra.get("priceMatch", "NONE"))},'
        '"selfTradePreventionMode":'
        f"{_json_text(extra.get('selfTradePreventionMode', 'EXPIRE_MAKER'))},"
        f'"goodTillDate":0,"updateTime":{(order.created_ms if ack else order.updated_ms)!r}'
    )
    if order.kind == "trailing_stop_market":
        text += (
            f',"activatePrice":"{_price_or_zero(order.activation_price, formats)}",'
            f'"priceRate":{_json_text(plain(order.callback_rate or ZERO))}'
        )
    return (text + "}").encode()


def algo_payload(order: Order, instrument: Instrument, book: Book) -> dict[str, Any]:
    """A ``/fapi/v1/algoOrder`` answer: a conditional order that places a real order on trigger."""
    price_places = instrument.price_precision
    child = book.orders.get(("regular", order.child_order_id)) if order.child_order_id else None
    if order.status == "triggered":
        status = "TRIGGERED" if child is not None and child.is_open else "FINISHED"
    else:
        status = {"new": "NEW", "canceled": "CANCELED", "expired": "EXPIRED"}.get(order.status, "REJECTED")
    payload: dict[str, Any] = {
        "algoId": int(order.id),
        "clientAlgoId": order.client_order_id,
        "algoType": "CONDITIONAL",
        "orderType": BINANCE_TYPES[order.kind],
        "symbol": instrument.id,
        "side": order.side.upper(),
        "positionSide": order.extra.get("positionSide", "BOTH"),
        "timeInForce": order.time_in_force,
        "quantity": fmt(order.quantity, instrument.quantity_precision),
        "algoStatus": status,
        "actualOrderId": child.id if child is not None else "",
        "actualPrice": fmt(child.avg_price, max(price_places, 5)) if child is not None else "0.00000",
        "triggerPrice": fmt(order.trigger_price or ZERO, price_places),
        "price": fmt(order.price or ZERO, price_places),
        "icebergQuantity": None,
        "selfTradePreventionMode": order.extra.get("selfTradePreventionMode", "EXPIRE_MAKER"),
        "workingType": order.extra.get("workingType", "CONTRACT_PRICE"),
        "priceMatch": order.extra.get("priceMatch", "NONE"),
        "closePosition": order.close_position,
        "priceProtect": _extra_bool(order, "priceProtect"),
        "reduceOnly": order.reduce_only,
        "activatePrice": fmt(order.activation_price, price_places) if order.activation_price else "",
        "callbackRate": plain(order.callback_rate) if order.callback_rate else "",
        "createTime": order.created_ms,
        "updateTime": order.updated_ms,
        "triggerTime": order.trigger_ms,
        "goodTillDate": 0,
    }
    return payload


def _asset(book: Book, *, v3: bool) -> dict[str, Any]:
    account = book.account()
    entry: dict[str, Any] = {
        "asset": account.asset,
        "walletBalance": fmt(account.wallet_balance, 8),
        "unrealizedProfit": fmt(account.unrealized_pnl, 8),
        "marginBalance": fmt(account.margin_balance, 8),
        "maintMargin": fmt(account.maint_margin, 8),
        "initialMargin": fmt(account.initial_margin, 8),
        "positionInitialMargin": fmt(account.position_initial_margin, 8),
        "openOrderInitialMargin": fmt(account.open_order_initial_margin, 8),
        "crossWalletBalance": fmt(account.wallet_balance, 8),
        "crossUnPnl": fmt(account.unrealized_pnl, 8),
        "availableBalance": fmt(account.available_balance, 8),
        "maxWithdrawAmount": fmt(account.max_withdraw, 8),
        # ccxt skips assets whose updateTime is 0 (never funded), so it must be real.
        "updateTime": account.updated_ms,
    }
    if not v3:
        entry["marginAvailable"] = True
    return entry


def _idle_assets() -> list[dict[str, Any]]:
    return [
        {
            "asset": asset,
            "walletBalance": "0.00000000",
            "unrealizedProfit": "0.00000000",
            "marginBalance": "0.00000000",
            "maintMargin": "0.00000000",
            "initialMargin": "0.00000000",
            "positionInitialMargin": "0.00000000",
            "openOrderInitialMargin": "0.00000000",
            "crossWalletBalance": "0.00000000",
            "crossUnPnl": "0.00000000",
            "availableBalance": "0.00000000",
            "maxWithdrawAmount": "0.00000000",
            "updateTime": 0,
        }
        for asset in ("BTC", "BNB", "USDC")
    ]


def _totals(book: Book) -> dict[str, Any]:
    account = book.account()
    return {
        "totalInitialMargin": fmt(account.initial_margin, 8),
        "totalMaintMargin": fmt(account.maint_margin, 8),
        "totalWalletBalance": fmt(account.wallet_balance, 8),
        "totalUnrealizedProfit": fmt(account.unrealized_pnl, 8),
        "totalMarginBalance": fmt(account.margin_balance, 8),
        "totalPositionInitialMargin": fmt(account.position_initial_margin, 8),
        "totalOpenOrderInitialMargin": fmt(account.open_order_initial_margin, 8),
        "totalCrossWalletBalance": fmt(account.wallet_balance, 8),
        "totalCrossUnPnl": fmt(account.unrealized_pnl, 8),
        "availableBalance": fmt(account.available_balance, 8),
        "maxWithdrawAmount": fmt(account.max_withdraw, 8),
    }


def account_v3(book: Book) -> dict[str, Any]:
    positions = []
    for symbol in book.positions:
        snapshot = book.position_snapshot(symbol)
        assert snapshot is not None
        positions.append(
            {
                "symbol": symbol,
                "positionSide": "BOTH",
                "positionAmt": fmt(snapshot.quantity, book.instruments[symbol].quantity_precision),
                "unrealizedProfit": fmt(snapshot.unrealized_pnl, 8),
                "isolatedMargin": "0",
                "notional": fmt(snapshot.notional, 8),
                "isolatedWallet": "0",
                "initialMargin": fmt(snapshot.initial_margin, 8),
                "maintMargin": fmt(snapshot.maint_margin, 8),
                "updateTime": snapshot.updated_ms,
            }
        )
    return {**_totals(book), "assets": [_asset(book, v3=True), *_idle_assets()], "positions": positions}


def account_v2(book: Book) -> dict[str, Any]:
    positions = []
    for instrument in book.instruments.values():
        snapshot = book.position_snapshot(instrument.id)
        leverage = book.leverage(instrument.id)
        positions.append(
            {
                "symbol": instrument.id,
                "initialMargin": fmt(snapshot.initial_margin, 8) if snapshot else "0",
                "maintMargin": fmt(snapshot.maint_margin, 8) if snapshot else "0",
                "unrealizedProfit": fmt(snapshot.unrealized_pnl, 8) if snapshot else "0.00000000",
                "positionInitialMargin": fmt(snapshot.initial_margin, 8) if snapshot else "0",
                "openOrderInitialMargin": fmt(book.open_order_margin(instrument.id), 8),
                "leverage": str(leverage),
                "isolated": book.margin_mode(instrument.id) == "isolated",
                "entryPrice": plain(snapshot.entry_price) if snapshot else "0.0",
                "breakEvenPrice": plain(snapshot.break_even_price) if snapshot else "0.0",
                "maxNotional": plain(book.max_notional(instrument.id)),
                "bidNotional": "0",
                "askNotional": "0",
                "positionSide": "BOTH",
                "positionAmt": fmt(snapshot.quantity if snapshot else ZERO, instrument.quantity_precision),
                "updateTime": snapshot.updated_ms if snapshot else 0,
            }
        )
    return {
        "feeTier": 0,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "updateTime": 0,
        "multiAssetsMargin": book.multi_assets,
        "tradeGroupId": -1,
        **_totals(book),
        "assets": [_asset(book, v3=False), *_idle_assets()],
        "positions": positions,
    }


def balances(book: Book, account_alias: str) -> list[dict[str, Any]]:
    account = book.account()
    return [
        {
            "accountAlias": account_alias,
            "asset": account.asset,
            "balance": fmt(account.wallet_balance, 8),
            "crossWalletBalance": fmt(account.wallet_balance, 8),
            "crossUnPnl": fmt(account.unrealized_pnl, 8),
            "availableBalance": fmt(account.available_balance, 8),
            "maxWithdrawAmount": fmt(account.max_withdraw, 8),
            "marginAvailable": True,
            "updateTime": account.updated_ms,
        }
    ]


def _risk_common(snapshot: PositionSnapshot, instrument: Instrument) -> dict[str, Any]:
    return {
        "symbol": instrument.id,
        "positionSide": "BOTH",
        "positionAmt": fmt(snapshot.quantity, instrument.quantity_precision),
        "entryPrice": plain(snapshot.entry_price),
        "breakEvenPrice": plain(snapshot.break_even_price.quantize(Decimal("1e-8"))),
        "markPrice": fmt(snapshot.mark_price, 8),
        "unRealizedProfit": fmt(snapshot.unrealized_pnl, 8),
        "liquidationPrice": plain(snapshot.liquidation_price.quantize(Decimal("1e-8"))),
        "isolatedMargin": "0",
        "notional": fmt(snapshot.notional, 8),
        "isolatedWallet": "0",
        "updateTime": snapshot.updated_ms,
    }


def position_risk_v3(book: Book, symbol: str | None) -> list[dict[str, Any]]:
    rows = []
    for instrument_id in list(book.positions):
        if symbol is not None and instrument_id != symbol:
            continue
        snapshot = book.position_snapshot(instrument_id)
        assert snapshot is not None
        instrument = book.instruments[instrument_id]
        rows.append(
            {
                **_risk_common(snapshot, instrument),
                "marginAsset": book.asset,
                "initialMargin": fmt(snapshot.initial_margin, 8),
                "maintMargin": fmt(snapshot.maint_margin, 8),
                "positionInitialMargin": fmt(snapshot.initial_margin, 8),
                "openOrderInitialMargin": fmt(snapshot.open_order_initial_margin, 8),
                "adl": 1,
                "bidNotional": "0",
                "askNotional": "0",
            }
        )
    return rows


def position_risk_v2(book: Book, symbol: str | None) -> list[dict[str, Any]]:
    rows = []
    for instrument in book.instruments.values():
        if symbol is not None and instrument.id != symbol:
            continue
        snapshot = book.position_snapshot(instrument.id)
        leverage = book.leverage(instrument.id)
        mark = book.marks[instrument.id]
        if snapshot is None:
            row: dict[str, Any] = {
                "symbol": instrument.id,
                "positionSide": "BOTH",
                "positionAmt": fmt(ZERO, instrument.quantity_precision),
                "entryPrice": "0.0",
                "breakEvenPrice": "0.0",
                "markPrice": fmt(mark, 8),
                "unRealizedProfit": "0.00000000",
                "liquidationPrice": "0",
                "isolatedMargin": "0.00000000",
                "notional": "0",
                "isolatedWallet": "0",
                "updateTime": 0,
            }
        else:
            row = _risk_common(snapshot, instrument)
        row.update(
            {
                "leverage": str(leverage),
                "maxNotionalValue": plain(book.max_notional(instrument.id)),
                "marginType": book.margin_mode(instrument.id),
                "isAutoAddMargin": "false",
                "isolated": book.margin_mode(instrument.id) == "isolated",
                "adlQuantile": 1 if snapshot else 0,
            }
        )
        rows.append(row)
    return rows


def leverage_brackets(instrument: Instrument) -> dict[str, Any]:
    return {
        "symbol": instrument.id,
        "notionalCoef": 1.0,
        "brackets": [
            {
                "bracket": tier.bracket,
                "initialLeverage": tier.max_leverage,
                "notionalCap": int(tier.cap),
                "notionalFloor": int(tier.floor),
                "maintMarginRatio": float(tier.maint_margin_ratio),
                "cum": float(tier.cum),
            }
            for tier in instrument.tiers
        ],
    }


def user_trade(fill: Fill, instrument: Instrument) -> dict[str, Any]:
    return {
        "buyer": fill.side == "buy",
        "commission": fmt(fill.commission, 8),
        "commissionAsset": fill.commission_asset,
        "id": int(fill.id),
        "maker": fill.maker,
        "orderId": int(fill.order_id),
        "price": fmt(fill.price, instrument.price_precision),
        "qty": fmt(fill.quantity, instrument.quantity_precision),
        "quoteQty": fmt(fill.quote_qty, _quote_places(instrument)),
        "realizedPnl": fmt(fill.realized_pnl, 8),
        "side": fill.side.upper(),
        "positionSide": "BOTH",
        "symbol": instrument.id,
        "time": fill.time_ms,
    }


def income(book: Book, symbol: str | None, income_type: str | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for fill in book.fills_for(symbol):
        entries = [("COMMISSION", -fill.commission)]
        if fill.realized_pnl:
            entries.insert(0, ("REALIZED_PNL", fill.realized_pnl))
        for kind, amount in entries:
            if income_type is not None and income_type != kind:
                continue
            rows.append(
                {
                    "symbol": fill.symbol,
                    "incomeType": kind,
                    "income": fmt(amount, 8),
                    "asset": fill.commission_asset,
                    "info": "",
                    "time": fill.time_ms,
                    "tranId": int(fill.id) * 10 + len(rows) % 10,
                    "tradeId": fill.id,
                }
            )
    return rows
