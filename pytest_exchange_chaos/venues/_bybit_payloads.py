"""Bybit v5 bodies for the account side: orders, positions, the unified wallet, executions.

Field names and types follow the real ``/v5`` answers (numbers as strings, times as string
milliseconds, empty strings for fields that do not apply), because ccxt's ``parse_order``,
``parse_position``, ``parse_balance`` and ``parse_trade`` read exactly these keys.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pytest_exchange_chaos.venues._book import Book
from pytest_exchange_chaos.venues._instruments import Instrument
from pytest_exchange_chaos.venues._records import Fill, Order
from pytest_exchange_chaos.venues._spot import SpotBook

__all__ = [
    "PROTECTION_TYPES",
    "execution",
    "fmt",
    "order_payload",
    "plain",
    "position_row",
    "wallet_balance",
]

ZERO = Decimal(0)
# Orders Bybit creates for a position's own take-profit and stop-loss (``stopOrderType``).
PROTECTION_TYPES = frozenset({"StopLoss", "TakeProfit", "PartialStopLoss", "PartialTakeProfit"})
_TIME_IN_FORCE = {"GTC": "GTC", "IOC": "IOC", "FOK": "FOK", "GTX": "PostOnly", "GTD": "GTC"}


def fmt(value: Decimal, places: int) -> str:
    return format(value, f".{places}f")


def plain(value: Decimal) -> str:
    """The shortest exact decimal, never in exponent form."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def _qty(value: Decimal, instrument: Instrument) -> str:
    return fmt(value, instrument.quantity_precision)


def _status(order: Order) -> str:
    if order.conditional and not order.triggered:
        if order.status in ("canceled", "expired"):
            return "Deactivated"
        return "Rejected" if order.status == "rejected" else "Untriggered"
    if order.status in ("canceled", "expired"):
        partial = ZERO < order.executed_qty < order.quantity
        return "PartiallyFilledCanceled" if partial else "Cancelled"
    return {
        "new": "New",
        "partially_filled": "PartiallyFilled",
        "filled": "Filled",
        "rejected": "Rejected",
        "triggered": "Triggered",
    }[order.status]


def _cancel_type(order: Order) -> str:
    if order.status == "canceled":
        return "CancelByUser"
    if order.status == "expired":
        if order.time_in_force in ("IOC", "FOK") and not order.conditional:
            return "UNKNOWN"
        return "CancelByReduceOnly"
    return "UNKNOWN"


def _fees(book: Book, order: Order) -> Decimal:
    return sum((fill.commission for fill in book.fills if fill.order_id == order.id), ZERO)


def order_payload(order: Order, instrument: Instrument, book: Book) -> dict[str, Any]:
    """An order in ``/v5/order/realtime`` and ``/v5/order/history``."""
    places = instrument.price_precision
    extra = order.extra
    fee = _fees(book, order)
    # A position's full-size stop closes whatever is open: it shows no size until it fills.
    quantity = order.executed_qty if order.close_position else order.quantity
    leaves = order.remaining if order.is_open and not order.close_position else ZERO
    direction = int(extra.get("triggerDirection", "0"))
    protective = order.close_position or extra.get("stopOrderType", "") in PROTECTION_TYPES
    payload: dict[str, Any] = {
        "orderId": order.id,
        "orderLinkId": extra.get("orderLinkId", ""),
        "blockTradeId": "",
        "symbol": instrument.id,
        "price": fmt(order.price, places) if order.price is not None else "0",
        "qty": _qty(quantity, instrument),
        "side": "Buy" if order.side == "buy" else "Sell",
        "isLeverage": "",
        "positionIdx": int(extra.get("positionIdx", "0")),
        "orderStatus": _status(order),
        "createType": extra.get("createType", "CreateByUser"),
        "cancelType": _cancel_type(order),
        "rejectReason": "EC_NoError",
        "avgPrice": fmt(order.avg_price, places) if order.executed_qty else "0",
        "leavesQty": _qty(leaves, instrument),
        "leavesValue": plain(leaves * (order.price or order.trigger_price or ZERO)),
        "cumExecQty": _qty(order.executed_qty, instrument),
        "cumExecValue": plain(order.cum_quote),
        "cumExecFee": plain(fee),
        "timeInForce": _TIME_IN_FORCE[order.time_in_force],
        "orderType": "Market" if order.market_like else "Limit",
        "stopOrderType": extra.get("stopOrderType", ""),
        "orderIv": "",
        "marketUnit": "",
        "triggerPrice": fmt(order.trigger_price, places) if order.trigger_price is not None else "0",
        "takeProfit": extra.get("takeProfit", "0"),
        "stopLoss": extra.get("stopLoss", "0"),
        "tpslMode": extra.get("tpslMode", ""),
        "ocoTriggerBy": "",
        "tpLimitPrice": extra.get("tpLimitPrice", "0"),
        "slLimitPrice": extra.get("slLimitPrice", "0"),
        "tpTriggerBy": "LastPrice" if "takeProfit" in extra else "",
        "slTriggerBy": "LastPrice" if "stopLoss" in extra else "",
        "triggerDirection": direction,
        "triggerBy": extra.get("triggerBy", ""),
        "lastPriceOnCreated": extra.get("lastPriceOnCreated", ""),
        "reduceOnly": order.reduce_only or protective,
        "closeOnTrigger": protective,
        "placeType": "",
        "smpType": "None",
        "smpGroup": 0,
        "smpOrderId": "",
        "slippageToleranceType": "UNKNOWN",
        "slippageTolerance": "0",
        "createdTime": str(order.created_ms),
        "updatedTime": str(order.updated_ms),
        "extraFees": "",
    }
    if fee:
        payload["cumFeeDetail"] = {book.asset: plain(fee)}
    return payload


def position_row(book: Book, instrument: Instrument, *, stop_loss: str, take_profit: str) -> dict[str, Any]:
    """A ``/v5/position/list`` row; a flat symbol still gets one, with size 0 and no side."""
    places = instrument.price_precision
    snapshot = book.position_snapshot(instrument.id)
    leverage = book.leverage(instrument.id)
    mark = book.marks[instrument.id]
    realised = sum((f.realized_pnl - f.commission for f in book.fills_for(instrument.id)), ZERO)
    tier = instrument.tiers[0]
    row: dict[str, Any] = {
        "positionIdx": 0,
        "riskId": tier.bracket,
        "riskLimitValue": plain(tier.cap),
        "symbol": instrument.id,
        "side": "",
        "size": _qty(ZERO, instrument),
        "avgPrice": "0",
        "positionValue": "",
        "tradeMode": 1 if book.margin_mode(instrument.id) == "isolated" else 0,
        "positionStatus": "Normal",
        "autoAddMargin": 0,
        "adlRankIndicator": 0,
        "leverage": str(leverage),
        "positionBalance": "",
        "markPrice": fmt(mark, places),
        "liqPrice": "",
        "bustPrice": "",
        "positionMM": "0",
        "positionIM": "0",
        "positionIMByMp": "0",
        "positionMMByMp": "0",
        "tpslMode": "Full",
        "takeProfit": take_profit,
        "stopLoss": stop_loss,
        "trailingStop": "0",
        "unrealisedPnl": "",
        "curRealisedPnl": plain(realised),
        "cumRealisedPnl": plain(realised),
        "seq": -1,
        "isReduceOnly": False,
        "mmrSysUpdatedTime": "",
        "leverageSysUpdatedTime": "",
        "sessionAvgPrice": "",
        "createdTime": str(book.balance_updated_ms),
        "updatedTime": str(book.balance_updated_ms),
    }
    if snapshot is None:
        return row
    tier = instrument.tier_for(snapshot.notional)
    row.update(
        {
            "riskId": tier.bracket,
            "riskLimitValue": plain(tier.cap),
            "side": "Buy" if snapshot.quantity > 0 else "Sell",
            "size": _qty(abs(snapshot.quantity), instrument),
            "avgPrice": plain(snapshot.entry_price),
            "positionValue": plain(abs(snapshot.quantity) * snapshot.entry_price),
            "adlRankIndicator": 2,
            "liqPrice": fmt(snapshot.liquidation_price, places) if snapshot.liquidation_price else "",
            "positionMM": plain(snapshot.maint_margin.quantize(Decimal("1e-8"))),
            "positionIM": plain(snapshot.initial_margin.quantize(Decimal("1e-8"))),
            "positionIMByMp": plain(snapshot.initial_margin.quantize(Decimal("1e-8"))),
            "positionMMByMp": plain(snapshot.maint_margin.quantize(Decimal("1e-8"))),
            "unrealisedPnl": plain(snapshot.unrealized_pnl),
            "seq": 1,
            "updatedTime": str(snapshot.updated_ms),
        }
    )
    return row


def wallet_balance(book: Book, spot: SpotBook | None = None) -> dict[str, Any]:
    """The unified trading account: the USDT collateral coin, then each coin spot bought."""
    account = book.account()
    equity = account.margin_balance
    im_rate = account.initial_margin / equity if equity > 0 else ZERO
    mm_rate = account.maint_margin / equity if equity > 0 else ZERO
    coin = {
        "availableToBorrow": "",
        "bonus": "0",
        "accruedInterest": "0",
        # Bybit stopped filling this for unified accounts in 2025; ccxt then derives the free
        # balance from the margins below.
        "availableToWithdraw": "",
        "totalOrderIM": plain(account.open_order_initial_margin),
        "equity": plain(equity),
        "totalPositionMM": plain(account.maint_margin),
        "usdValue": plain(equity),
        "unrealisedPnl": plain(account.unrealized_pnl),
        "collateralSwitch": True,
        "spotHedgingQty": "0",
        "borrowAmount": "0",
        "totalPositionIM": plain(account.position_initial_margin),
        "walletBalance": plain(account.wallet_balance),
        "cumRealisedPnl": plain(sum((f.realized_pnl - f.commission for f in book.fills), ZERO)),
        "locked": plain(spot.locked(account.asset)) if spot is not None else "0",
        "marginCollateral": True,
        "coin": account.asset,
    }
    coins = [coin]
    for asset in spot.assets() if spot is not None else ():
        if spot is None or asset == account.asset:
            continue
        held = spot.total(asset)
        value = held * spot.price_of(asset)
        coins.append(
            {
                "availableToBorrow": "",
                "bonus": "0",
                "accruedInterest": "0",
                "availableToWithdraw": "",
                "totalOrderIM": "0",
                "equity": plain(held),
                "totalPositionMM": "0",
                "usdValue": plain(value),
                "unrealisedPnl": "0",
                "collateralSwitch": True,
                "spotHedgingQty": "0",
                "borrowAmount": "0",
                "totalPositionIM": "0",
                "walletBalance": plain(held),
                "cumRealisedPnl": "0",
                "locked": plain(spot.locked(asset)),
                "marginCollateral": True,
                "coin": asset,
            }
        )
    return {
        "list": [
            {
                "totalEquity": plain(equity),
                "accountIMRate": fmt(im_rate, 4),
                "accountIMRateByMp": fmt(im_rate, 4),
                "totalMarginBalance": plain(equity),
                "totalInitialMargin": plain(account.initial_margin),
                "totalInitialMarginByMp": plain(account.initial_margin),
                "accountType": "UNIFIED",
                "totalAvailableBalance": plain(account.available_balance),
                "accountMMRate": fmt(mm_rate, 4),
                "accountMMRateByMp": fmt(mm_rate, 4),
                "totalPerpUPL": plain(account.unrealized_pnl),
                "totalWalletBalance": plain(account.wallet_balance),
                "accountLTV": "0",
                "totalMaintenanceMargin": plain(account.maint_margin),
                "totalMaintenanceMarginByMp": plain(account.maint_margin),
                "coin": coins,
            }
        ]
    }


def execution(
    fill: Fill, order: Order | None, instrument: Instrument, book: Book, seq: int
) -> dict[str, Any]:
    """A ``/v5/execution/list`` row (``execType`` Trade)."""
    places = instrument.price_precision
    fee_rate = book.maker_fee if fill.maker else book.taker_fee
    return {
        "symbol": instrument.id,
        "orderType": ("Market" if order.market_like else "Limit") if order is not None else "UNKNOWN",
        "underlyingPrice": "",
        "orderLinkId": order.extra.get("orderLinkId", "") if order is not None else "",
        "side": "Buy" if fill.side == "buy" else "Sell",
        "indexPrice": "",
        "orderId": fill.order_id,
        "stopOrderType": (order.extra.get("stopOrderType") or "UNKNOWN") if order is not None else "UNKNOWN",
        "leavesQty": _qty(order.remaining if order is not None and order.is_open else ZERO, instrument),
        "execTime": str(fill.time_ms),
        "feeCurrency": fill.commission_asset,
        "isMaker": fill.maker,
        "execFee": plain(fill.commission),
        "feeRate": plain(fee_rate),
        "execId": fill.id,
        "tradeIv": "",
        "blockTradeId": "",
        "markPrice": fmt(fill.price, places),
        "execPrice": fmt(fill.price, places),
        "markIv": "",
        "orderQty": _qty(order.quantity if order is not None else fill.quantity, instrument),
        "orderPrice": fmt(order.price, places) if order is not None and order.price is not None else "0",
        "execValue": plain(fill.quote_qty),
        "execType": "Trade",
        "execQty": _qty(fill.quantity, instrument),
        "closedSize": _qty(fill.quantity if fill.realized_pnl else ZERO, instrument),
        "extraFees": "",
        "seq": seq,
        "createType": (order.extra.get("createType") or "CreateByUser")
        if order is not None
        else "CreateByUser",
    }
