"""Simulated Binance spot (ccxt ``binance``), on ``api.binance.com`` and its testnet and demo hosts.

Answers what real ccxt sends for spot: the exchange info and the ``sapi`` lists it loads with
the markets, tickers and the order book, ``/api/v3/order`` (MARKET, LIMIT, LIMIT_MAKER and the
STOP_LOSS, STOP_LOSS_LIMIT, TAKE_PROFIT, TAKE_PROFIT_LIMIT orders a bot protects a holding
with), the order queries, cancels, the account's balances and its trades. A path it does not
simulate on these hosts (margin, OCO lists, savings...) is refused and fails the test.

The perpetuals ``ccxt.binance`` also loads by default live on the ``binanceusdm`` venue
(``fapi``/``dapi`` hosts); this venue is the spot account only: balances, not positions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pytest_exchange_chaos.venues import _binance_market as market
from pytest_exchange_chaos.venues import _errors as errors
from pytest_exchange_chaos.venues._binance_ids import BinanceIds
from pytest_exchange_chaos.venues._binance_requests import (
    BinanceReject,
    check_decimals,
    illegal,
    missing,
    order_symbol_and_side,
)
from pytest_exchange_chaos.venues._errors import BookError
from pytest_exchange_chaos.venues._instruments import SPOT_PAIRS, Instrument
from pytest_exchange_chaos.venues._records import Order, OrderKind, OrderRequest, TimeInForce
from pytest_exchange_chaos.venues._spot import SpotBook, spot_intent
from pytest_exchange_chaos.venues._spot_views import SpotVenue
from pytest_exchange_chaos.venues.base import (
    Call,
    ExchangeRequest,
    Intent,
    OrderTicket,
    VenueContext,
    VenueReply,
)
from pytest_exchange_chaos.venues.binance import (
    SPOT_HOSTS,
    Auth,
    BinanceRest,
    Params,
    _integer,
    _time_window,
)

__all__ = ["SPOT_HOSTS", "BinanceSpotVenue"]

# Binance spot's order types, and the book's kind for each.
_KINDS: dict[str, OrderKind] = {
    "MARKET": "market",
    "LIMIT": "limit",
    "LIMIT_MAKER": "limit",
    "STOP_LOSS": "stop_market",
    "STOP_LOSS_LIMIT": "stop",
    "TAKE_PROFIT": "take_profit_market",
    "TAKE_PROFIT_LIMIT": "take_profit",
}
_STATUSES = {
    "new": "NEW",
    "partially_filled": "PARTIALLY_FILLED",
    "filled": "FILLED",
    "canceled": "CANCELED",
    "expired": "EXPIRED",
    "triggered": "NEW",
    "rejected": "REJECTED",
}
_TIME_IN_FORCE: dict[str, TimeInForce] = {"GTC": "GTC", "IOC": "IOC", "FOK": "FOK"}
_PLACES = 8

Handler = Callable[["BinanceSpotVenue", Params], Any]


@dataclass(frozen=True)
class _Route:
    handler: Handler
    intent: Intent | None
    """None for order placements: their intent depends on the order."""
    auth: Auth


class BinanceSpotVenue(BinanceRest, SpotVenue):
    id = "binance"
    hosts = SPOT_HOSTS
    market_name = "spot"

    def __init__(
        self,
        context: VenueContext,
        *,
        instruments: tuple[Instrument, ...] = SPOT_PAIRS,
        balances: Mapping[str, Decimal | str] | None = None,
    ) -> None:
        super().__init__(context)
        self.ids = BinanceIds(context.seed)
        self.spot = SpotBook(
            instruments,
            ids=self.ids,
            wall_ms=self._server_ms,
            now=context.now,
            balances={k: Decimal(v) for k, v in (balances or {"USDT": "10000"}).items()},
        )
        self.listing = self.spot
        self._uid = 100_000_000 + context.seed % 800_000_000

    # ------------------------------------------------------------------------- Venue API

    def not_simulated(self, request: ExchangeRequest) -> str | None:
        if (request.method.upper(), request.path) in _ROUTES:
            return None
        area = "margin" if "/margin/" in request.path else "spot"
        return f"binance {area} {request.method.upper()} {request.path} is not simulated"

    def classify(self, request: ExchangeRequest) -> Call:
        route = _ROUTES.get((request.method.upper(), request.path))
        endpoint = request.endpoint
        params = self._readable(request)
        if params is None:
            return Call(self.id, "other", endpoint)
        instrument = self.spot.instruments.get(params.get("symbol") or "")
        symbol = instrument.symbol if instrument is not None else None
        if route is None:
            return Call(self.id, "other", endpoint, symbol)
        if route.intent is not None:
            return Call(self.id, route.intent, endpoint, symbol)
        side = params.get("side", "").lower()
        kind = _KINDS.get(params.get("type", ""))
        ticket = OrderTicket(
            side=side,
            order_type=params.get("type", ""),
            amount=params.get("quantity") or params.get("quoteOrderQty") or None,
            price=params.get("price") or None,
            trigger_price=params.get("stopPrice") or None,
            client_order_id=params.get("newClientOrderId") or None,
        )
        intent: Intent = spot_intent(kind, side) if kind is not None and side in ("buy", "sell") else "other"
        return Call(self.id, intent, endpoint, symbol, ticket)

    def execute(self, request: ExchangeRequest, call: Call) -> VenueReply:
        route = _ROUTES.get((request.method.upper(), request.path))
        if route is None:
            return self._error(BinanceReject(-1000, self.not_simulated(request) or "not simulated", 404))
        return self._answer(request, route.auth, route.handler)

    # --------------------------------------------------------------------------- plumbing

    def _refusal(self, error: BookError) -> BinanceReject:
        return reject_for(error)

    def _order(self, order_id: str) -> dict[str, Any]:
        return order_payload(
            self.spot.orders[order_id], self.spot.instruments[self.spot.orders[order_id].symbol]
        )

    def _lookup(self, params: Params, *, cancelling: bool = False) -> str:
        instrument = self._required_instrument(params)
        order_id = params.get("orderId") or None
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise BinanceReject(
                -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        try:
            if cancelling:
                return self.spot.cancel(instrument.id, order_id=order_id, client_order_id=client_id).id
            return self.spot.find(instrument.id, order_id=order_id, client_order_id=client_id).id
        except errors.OrderNotFound:
            if cancelling:
                raise BinanceReject(-2011, "Unknown order sent.") from None
            raise BinanceReject(-2013, "Order does not exist.") from None

    # ------------------------------------------------------------------------ market data

    def _exchange_info(self, params: Params) -> Any:
        return market.spot_exchange_info(self.spot.instruments.values(), self._server_ms())

    def _depth(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        limit = _integer(params, "limit") if params.get("limit") else 100
        if not 1 <= limit <= 5000:
            raise BinanceReject(-1100, "Illegal characters found in parameter 'limit'.")
        return market.depth(self.spot, instrument, min(limit, 1000), self._server_ms())

    def _avg_price(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        mark = self.spot.marks[instrument.id]
        return {"mins": 5, "price": format(mark, f".{_PLACES}f"), "closeTime": self._server_ms()}

    def _klines(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        if not params.get("interval"):
            raise missing("interval")
        limit = min(_integer(params, "limit"), 1000) if params.get("limit") else 500
        end = _integer(params, "endTime") if params.get("endTime") else None
        rows = market.klines(self.spot, instrument, params["interval"], limit, self._server_ms(), end)
        if rows is None:
            raise BinanceReject(-1120, "Invalid interval.")
        return rows

    # ----------------------------------------------------------------------------- orders

    def _new_order(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        request, quote_quantity = order_request(params)
        try:
            order = self.spot.place(request, quote_quantity=quote_quantity)
        except BookError as error:
            raise reject_for(error) from None
        response_type = params.get("newOrderRespType") or (
            "FULL" if request.kind in ("market", "limit") else "ACK"
        )
        payload: dict[str, Any] = {
            "symbol": instrument.id,
            "orderId": int(order.id),
            "orderListId": -1,
            "clientOrderId": order.client_order_id,
            "transactTime": order.created_ms,
        }
        if response_type in ("RESULT", "FULL"):
            full = order_payload(order, instrument)
            for key in ("time", "updateTime", "isWorking", "stopPrice", "icebergQty", "origQuoteOrderQty"):
                full.pop(key, None)
            payload.update(full)
            payload["workingTime"] = order.created_ms if not order.conditional else -1
            payload["origQuoteOrderQty"] = _fmt(order.cum_quote) if quote_quantity else _fmt(Decimal(0))
        if response_type == "FULL":
            payload["fills"] = [
                {
                    "price": _fmt(fill.price),
                    "qty": _fmt(fill.quantity),
                    "commission": _fmt(fill.commission),
                    "commissionAsset": fill.commission_asset,
                    "tradeId": int(fill.id),
                }
                for fill in self.spot.fills_for(instrument.id)
                if fill.order_id == order.id
            ]
        return VenueReply.json(payload, order_id=order.id)

    def _get_order(self, params: Params) -> Any:
        return self._order(self._lookup(params))

    def _open_orders(self, params: Params) -> Any:
        instrument = self._instrument(params, required=False)
        orders = self.spot.open_orders(instrument.id if instrument is not None else None)
        return [order_payload(o, self.spot.instruments[o.symbol]) for o in orders]

    def _all_orders(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        orders = self.spot.all_orders(instrument.id)
        if params.get("orderId"):
            orders = [o for o in orders if int(o.id) >= _integer(params, "orderId")]
        orders = _time_window(orders, params, lambda o: o.created_ms)
        limit = min(_integer(params, "limit"), 1000) if params.get("limit") else 500
        return [order_payload(o, instrument) for o in orders[-limit:]]

    def _cancel_order(self, params: Params) -> Any:
        order_id = self._lookup(params, cancelling=True)
        payload = self._order(order_id)
        for key in ("time", "updateTime", "isWorking", "workingTime", "icebergQty"):
            payload.pop(key, None)
        payload["origClientOrderId"] = payload["clientOrderId"]
        payload["transactTime"] = self._server_ms()
        return payload

    def _cancel_all(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        cancelled = []
        for order in self.spot.open_orders(instrument.id):
            self.spot.cancel(instrument.id, order_id=order.id)
            payload = order_payload(order, instrument)
            payload["origClientOrderId"] = order.client_order_id
            cancelled.append(payload)
        if not cancelled:
            raise BinanceReject(-2011, "Unknown order sent.")
        return cancelled

    def _my_trades(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        fills = self.spot.fills_for(instrument.id)
        if params.get("orderId"):
            fills = [f for f in fills if f.order_id == params["orderId"]]
        fills = _time_window(fills, params, lambda f: f.time_ms)
        limit = min(_integer(params, "limit"), 1000) if params.get("limit") else 500
        orders = self.spot.orders
        return [
            {
                "symbol": instrument.id,
                "id": int(fill.id),
                "orderId": int(fill.order_id),
                "orderListId": -1,
                "price": _fmt(fill.price),
                "qty": _fmt(fill.quantity),
                "quoteQty": _fmt(fill.quote_qty),
                "commission": _fmt(fill.commission),
                "commissionAsset": fill.commission_asset,
                "time": fill.time_ms,
                "isBuyer": fill.side == "buy",
                "isMaker": fill.maker,
                "isBestMatch": True,
                "clientOrderId": orders[fill.order_id].client_order_id,
            }
            for fill in fills[-limit:]
        ]

    # ---------------------------------------------------------------------------- account

    def _account(self, params: Params) -> Any:
        omit_zero = params.get("omitZeroBalances", "").lower() == "true"
        balances = []
        for asset in self._assets():
            free, locked = self.spot.free(asset), self.spot.locked(asset)
            if omit_zero and not (free or locked):
                continue
            balances.append({"asset": asset, "free": _fmt(free), "locked": _fmt(locked)})
        fee = _fmt(self.spot.taker_fee)
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": fee,
                "taker": fee,
                "buyer": _fmt(Decimal(0)),
                "seller": _fmt(Decimal(0)),
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.spot.updated_ms,
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": self._uid,
        }

    def _assets(self) -> list[str]:
        # Binance lists every asset it trades, held or not; the quote and each base here.
        names = self.spot.assets()
        names += [i.base for i in self.spot.instruments.values() if i.base not in names]
        return names

    def _trade_fee(self, params: Params) -> Any:
        fee = format(self.spot.taker_fee.normalize(), "f")
        return [
            {"symbol": i.id, "makerCommission": fee, "takerCommission": fee}
            for i in self._instruments(params)
        ]


def _fmt(value: Decimal) -> str:
    return format(value, f".{_PLACES}f")


def order_payload(order: Order, instrument: Instrument) -> dict[str, Any]:
    """A ``GET /api/v3/order`` answer."""
    return {
        "symbol": instrument.id,
        "orderId": int(order.id),
        "orderListId": -1,
        "clientOrderId": order.client_order_id,
        "price": _fmt(order.price or Decimal(0)),
        "origQty": _fmt(order.quantity),
        "executedQty": _fmt(order.executed_qty),
        "cummulativeQuoteQty": _fmt(order.cum_quote),
        "status": _STATUSES[order.status],
        "timeInForce": order.time_in_force if order.time_in_force != "GTX" else "GTC",
        "type": order.extra.get("type", "LIMIT"),
        "side": order.side.upper(),
        "stopPrice": _fmt(order.trigger_price or Decimal(0)),
        "icebergQty": _fmt(Decimal(0)),
        "time": order.created_ms,
        "updateTime": order.updated_ms,
        "isWorking": not order.conditional or order.triggered,
        "workingTime": (order.trigger_ms or -1) if order.conditional else order.created_ms,
        "origQuoteOrderQty": _fmt(Decimal(0)),
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def order_request(params: Params) -> tuple[OrderRequest, str | None]:
    """Validate the fields Binance spot checks before its matching engine sees the order; also
    the quote quantity of a market order sized in USDT (``quoteOrderQty``)."""
    symbol, side = order_symbol_and_side(params)
    type_text = params.get("type", "")
    if not type_text:
        raise missing("type")
    kind = _KINDS.get(type_text)
    if kind is None:
        raise BinanceReject(-1116, "Invalid orderType.")
    check_decimals(params, ("quantity", "quoteOrderQty", "price", "stopPrice"))
    time_in_force: TimeInForce = "GTC"
    if type_text == "LIMIT_MAKER":
        time_in_force = "GTX"
    elif kind in ("limit", "stop", "take_profit"):
        text = params.get("timeInForce", "")
        if not text:
            raise missing("timeInForce")
        if text not in _TIME_IN_FORCE:
            raise BinanceReject(-1115, "Invalid timeInForce.")
        time_in_force = _TIME_IN_FORCE[text]
    if kind in ("stop_market", "stop", "take_profit_market", "take_profit") and not params.get("stopPrice"):
        raise missing("stopPrice")
    quote_quantity = params.get("quoteOrderQty") or None
    if quote_quantity is not None and type_text != "MARKET":
        raise BinanceReject(-1106, "Parameter 'quoteOrderQty' sent when not required.")
    if quote_quantity is None and not params.get("quantity"):
        raise missing("quantity")
    client_id = params.get("newClientOrderId") or None
    return (
        OrderRequest(
            symbol=symbol,
            side=side,
            kind=kind,
            quantity=params.get("quantity") or None,
            price=params.get("price") or None,
            trigger_price=params.get("stopPrice") or None,
            client_order_id=client_id,
            time_in_force=time_in_force,
            channel="spot",
            extra={"type": type_text},
        ),
        quote_quantity,
    )


# The book's field names as Binance spot names its parameters.
_FIELDS = {"quantity": "quantity", "price": "price", "trigger_price": "stopPrice"}
_UNKNOWN = (-1000, "An unknown error occured while processing the request.")
# Binance spot's code and message for each book refusal that has one whatever its details.
_REFUSALS: dict[type[BookError], tuple[int, str]] = {
    errors.UnknownSymbol: (-1121, "Invalid symbol."),
    errors.TickSizeError: (-1013, "Filter failure: PRICE_FILTER"),
    errors.QuantityTooSmall: (-1013, "Filter failure: LOT_SIZE"),
    errors.QuantityTooLarge: (-1013, "Filter failure: LOT_SIZE"),
    errors.NotionalTooSmall: (-1013, "Filter failure: NOTIONAL"),
    errors.InsufficientBalance: (-2010, "Account has insufficient balance for requested action."),
    errors.DuplicateClientOrderId: (-2010, "Duplicate order sent."),
    errors.WouldTriggerImmediately: (-2010, "Stop price would trigger immediately."),
    errors.PostOnlyWouldTake: (-2010, "Order would immediately match and take."),
    errors.OrderNotFound: (-2013, "Order does not exist."),
}


def reject_for(error: BookError) -> BinanceReject:
    """Binance spot's code and message for a book refusal."""
    if isinstance(error, errors.PrecisionError):
        return BinanceReject(
            -1111, f"Parameter '{_FIELDS.get(error.field, error.field)}' has too much precision."
        )
    if isinstance(error, errors.InvalidOrderParameters):
        name = _FIELDS.get(error.field or "quantity", error.field or "quantity")
        if error.reason == "missing":
            return missing(name)
        if error.reason == "illegal":
            return illegal(name)
        return BinanceReject(-1100, f"Illegal characters found in parameter '{name}'.")
    code, message = _REFUSALS.get(type(error), _UNKNOWN)
    return BinanceReject(code, message)


_V = BinanceSpotVenue
_ROUTES: dict[tuple[str, str], _Route] = {
    # load_markets and the public market data
    ("GET", "/api/v3/ping"): _Route(_V._ping, "market_data", "none"),
    ("GET", "/api/v3/time"): _Route(_V._time, "market_data", "none"),
    ("GET", "/api/v3/exchangeInfo"): _Route(_V._exchange_info, "market_data", "none"),
    ("GET", "/api/v3/depth"): _Route(_V._depth, "market_data", "none"),
    ("GET", "/api/v3/ticker/24hr"): _Route(_V._ticker_24hr, "market_data", "none"),
    ("GET", "/api/v3/ticker/price"): _Route(_V._ticker_price, "market_data", "none"),
    ("GET", "/api/v3/ticker/bookTicker"): _Route(_V._book_ticker, "market_data", "none"),
    ("GET", "/api/v3/avgPrice"): _Route(_V._avg_price, "market_data", "none"),
    ("GET", "/api/v3/klines"): _Route(_V._klines, "market_data", "none"),
    ("GET", "/sapi/v1/system/status"): _Route(_V._system_status, "market_data", "none"),
    ("GET", "/sapi/v1/capital/config/getall"): _Route(_V._coins, "market_data", "signed"),
    ("GET", "/sapi/v1/margin/allPairs"): _Route(_V._margin_pairs, "market_data", "signed"),
    ("GET", "/sapi/v1/margin/isolated/allPairs"): _Route(_V._isolated_pairs, "market_data", "signed"),
    # orders
    ("POST", "/api/v3/order"): _Route(_V._new_order, None, "signed"),
    ("GET", "/api/v3/order"): _Route(_V._get_order, "account", "signed"),
    ("GET", "/api/v3/openOrders"): _Route(_V._open_orders, "account", "signed"),
    ("GET", "/api/v3/allOrders"): _Route(_V._all_orders, "account", "signed"),
    ("DELETE", "/api/v3/order"): _Route(_V._cancel_order, "cancel", "signed"),
    ("DELETE", "/api/v3/openOrders"): _Route(_V._cancel_all, "cancel", "signed"),
    ("GET", "/api/v3/myTrades"): _Route(_V._my_trades, "account", "signed"),
    # account
    ("GET", "/api/v3/account"): _Route(_V._account, "account", "signed"),
    ("GET", "/sapi/v1/asset/tradeFee"): _Route(_V._trade_fee, "account", "signed"),
}
