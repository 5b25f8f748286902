"""Simulated Binance USD-M futures (ccxt ``binanceusdm``, and ``binance`` with a futures type).

Answers, on the production, testnet and demo hosts, every request real ccxt makes to load
markets (including the spot and COIN-M exchange info and the ``sapi`` coin list it fetches on
the side), read balances and positions, place, list, fetch and cancel orders (regular orders,
legacy ``STOP_MARKET`` orders on ``/fapi/v1/order``, and ``/fapi/v1/algoOrder`` conditional
orders), and change account settings. State lives in a venue-neutral :class:`Book`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pytest_exchange_chaos.venues import _binance_market as market
from pytest_exchange_chaos.venues import _binance_payloads as payloads
from pytest_exchange_chaos.venues._binance_ids import BinanceIds
from pytest_exchange_chaos.venues._binance_requests import (
    BinanceReject,
    batch_entries,
    flag,
    missing,
    order_request,
    order_ticket,
    placement_intent,
    reject_for,
)
from pytest_exchange_chaos.venues._book import Book, BookVenue, Listing
from pytest_exchange_chaos.venues._errors import BookError, InvalidLeverage, OrderNotFound
from pytest_exchange_chaos.venues._instruments import INSTRUMENTS, Instrument, binance_spot_pairs
from pytest_exchange_chaos.venues._records import Order
from pytest_exchange_chaos.venues._spot_views import instrument_views
from pytest_exchange_chaos.venues.base import (
    Call,
    ExchangeRequest,
    InstrumentView,
    Intent,
    VenueContext,
    VenueReply,
)

__all__ = ["BinanceUsdmVenue"]

FAPI_HOSTS = frozenset({"fapi.binance.com", "testnet.binancefuture.com", "demo-fapi.binance.com"})
DAPI_HOSTS = frozenset({"dapi.binance.com", "testnet.binancefuture.com", "demo-dapi.binance.com"})
SPOT_HOSTS = frozenset({"api.binance.com", "testnet.binance.vision", "demo-api.binance.com"})
SAPI_HOSTS = frozenset({"api.binance.com"})

_NOT_FOUND_BODY = b"<html><body><h2>404 Not found</h2></body></html>"
_SUCCESS = {"code": 200, "msg": "success"}
_ALL_CANCELLED = {"code": 200, "msg": "The operation of cancel all open order is done."}

Auth = Literal["none", "key", "signed"]
Params = Mapping[str, str]
Handler = Callable[["BinanceUsdmVenue", Params], Any]
_T = TypeVar("_T")


@dataclass(frozen=True)
class _Route:
    handler: Handler
    intent: Intent | None
    """None for order placements: their intent depends on the order and the position."""
    auth: Auth
    hosts: frozenset[str]


class BinanceRest:
    """What Binance's REST gateways share, futures and spot: error bodies and their statuses,
    the request's form read once for classify() and execute(), the server's clock, answering a
    routed request, the instrument a request names, and the market data every gateway serves
    alike."""

    context: VenueContext
    listing: Listing
    """The book whose instruments and marks this gateway answers about."""
    _form_request: ExchangeRequest | None = None
    _form_cache: dict[str, str] | None = None

    def _refusal(self, error: BookError) -> BinanceReject:
        """This gateway's code and message for a book refusal."""
        raise NotImplementedError

    def _answer(
        self, request: ExchangeRequest, auth: Auth, handler: Callable[[Any, Params], Any]
    ) -> VenueReply:
        """Authenticate a routed request and answer it; every refusal in Binance's error body."""
        try:
            params = self._form(request)
            self._authenticate(request, params, auth)
            result = handler(self, params)
        except BinanceReject as reject:
            return self._error(reject)
        except BookError as error:
            return self._error(self._refusal(error))
        except ValueError:
            return self._error(BinanceReject(-1100, "Illegal characters found in a parameter."))
        if isinstance(result, VenueReply):
            return result
        return VenueReply.json(result)

    def _readable(self, request: ExchangeRequest) -> Params | None:
        """The request's parameters, or None when they cannot be read (classify() calls it other)."""
        try:
            return self._form(request)
        except ValueError:
            return None

    def _authenticate(self, request: ExchangeRequest, params: Params, auth: Auth) -> None:
        authenticate(request, params, auth, self._server_ms())

    def error_reply(self, code: int, message: str) -> VenueReply:
        status = {-1003: 429, -1001: 500, -1006: 503, -1007: 408, -2014: 401, -2015: 401}.get(code, 400)
        return VenueReply.json({"code": code, "msg": message}, status, accepted=False, error_code=code)

    def _form(self, request: ExchangeRequest) -> dict[str, str]:
        # Handlers take the form as a read-only Mapping, so classify() and execute() can share it.
        if request is not self._form_request:
            try:
                form: dict[str, str] | None = request.form
            except ValueError:
                form = None
            self._form_request, self._form_cache = request, form
        if self._form_cache is None:
            raise ValueError("the request's parameters cannot be read")
        return self._form_cache

    def _server_ms(self) -> int:
        return int(self.context.wall_time() * 1000)

    def _error(self, reject: BinanceReject) -> VenueReply:
        return VenueReply.json(
            {"code": reject.code, "msg": reject.message},
            reject.status,
            accepted=False,
            error_code=reject.code,
        )

    # ------------------------------------------------------------- the instrument asked about

    def _instrument(self, params: Params, *, required: bool = True) -> Instrument | None:
        symbol = params.get("symbol")
        if not symbol:
            if required:
                raise missing("symbol")
            return None
        instrument = self.listing.instruments.get(symbol)
        if instrument is None:
            raise BinanceReject(-1121, "Invalid symbol.")
        return instrument

    def _required_instrument(self, params: Params) -> Instrument:
        instrument = self._instrument(params)
        assert instrument is not None
        return instrument

    def _instruments(self, params: Params) -> list[Instrument]:
        instrument = self._instrument(params, required=False)
        return [instrument] if instrument is not None else list(self.listing.instruments.values())

    def _one_or_all(self, params: Params, render: Callable[[Instrument], Any]) -> Any:
        instrument = self._instrument(params, required=False)
        if instrument is not None:
            return render(instrument)
        return [render(i) for i in self.listing.instruments.values()]

    # -------------------------------------------------------------------------- market data

    def _ping(self, params: Params) -> Any:
        return {}

    def _time(self, params: Params) -> Any:
        return {"serverTime": self._server_ms()}

    def _coins(self, params: Params) -> Any:
        return market.coins(self.listing.instruments.values())

    def _margin_pairs(self, params: Params) -> Any:
        return market.margin_pairs(self.listing.instruments.values(), isolated=False)

    def _isolated_pairs(self, params: Params) -> Any:
        return market.margin_pairs(self.listing.instruments.values(), isolated=True)

    def _system_status(self, params: Params) -> Any:
        return {"status": 0, "msg": "normal"}

    def _ticker_24hr(self, params: Params) -> Any:
        server = self._server_ms()
        return self._one_or_all(params, lambda i: market.ticker_24hr(self.listing, i, server))

    def _ticker_price(self, params: Params) -> Any:
        server = self._server_ms()
        return self._one_or_all(params, lambda i: market.ticker_price(self.listing, i, server))

    def _book_ticker(self, params: Params) -> Any:
        server = self._server_ms()
        return self._one_or_all(params, lambda i: market.book_ticker(self.listing, i, server))


class BinanceUsdmVenue(BinanceRest, BookVenue):
    id = "binanceusdm"
    hosts = FAPI_HOSTS | DAPI_HOSTS
    """The spot hosts belong to the ``binance`` venue; this one still answers the spot exchange
    info and ``sapi`` lists a futures bot loads its markets with when it runs alone."""

    def __init__(
        self,
        context: VenueContext,
        *,
        instruments: tuple[Instrument, ...] = INSTRUMENTS,
        wallet_balance: Decimal | str = "10000",
        legacy_conditional_orders: bool = True,
    ) -> None:
        super().__init__(context)
        self.ids = BinanceIds(context.seed)
        self.book = Book(
            instruments,
            ids=self.ids,
            wall_ms=self._server_ms,
            now=context.now,
            wallet_balance=Decimal(wallet_balance),
        )
        self.listing = self.book
        # Binance moved conditional orders to /fapi/v1/algoOrder in December 2025; older ccxt
        # still sends STOP_MARKET to /fapi/v1/order. False answers those like Binance now does.
        self.legacy_conditional_orders = legacy_conditional_orders
        self._current_listen_key: str | None = None
        self._account_alias = self.ids.client_order_id()[:12]
        # The engine asks classify() and then execute() about the same request: its form is
        # read once (None when it cannot be read), keyed by the request object itself.

    # ------------------------------------------------------------------------- Venue API

    def serves(self, request: ExchangeRequest) -> bool:
        host = request.host
        return host in self.hosts or host in SPOT_HOSTS

    def not_simulated(self, request: ExchangeRequest) -> str | None:
        route = _ROUTES.get((request.method.upper(), request.path))
        if route is not None and request.host in route.hosts:
            return None
        path = request.path
        area = "usdm" if path.startswith("/fapi/") else "coinm" if path.startswith("/dapi/") else "spot"
        return f"binanceusdm {area} {request.method.upper()} {path} on {request.host} is not simulated"

    def classify(self, request: ExchangeRequest) -> Call:
        route = _ROUTES.get((request.method.upper(), request.path))
        endpoint = request.endpoint
        params = self._readable(request)
        if params is None:
            return Call(self.id, "other", endpoint)
        symbol = self._unified(params.get("symbol"), request.path)
        if route is None or request.host not in route.hosts:
            return Call(self.id, "other", endpoint, symbol)
        if route.intent is not None:
            return Call(self.id, route.intent, endpoint, symbol)
        algo = request.path == "/fapi/v1/algoOrder"
        if request.path == "/fapi/v1/batchOrders":
            try:
                params = batch_entries(params)[0]
            except BinanceReject:
                return Call(self.id, "other", endpoint, symbol)
            symbol = self._unified(params.get("symbol"), request.path)
        ticket = order_ticket(params, algo=algo)
        position_qty = self.book.position_qty(params.get("symbol") or "")
        return Call(self.id, placement_intent(ticket, position_qty), endpoint, symbol, ticket)

    def execute(self, request: ExchangeRequest, call: Call) -> VenueReply:
        route = _ROUTES.get((request.method.upper(), request.path))
        if route is None or request.host not in route.hosts:
            return VenueReply(
                status=404, body=_NOT_FOUND_BODY, headers={"Content-Type": "text/html"}, accepted=False
            )
        return self._answer(request, route.auth, route.handler)

    def instruments(self) -> list[InstrumentView]:
        return instrument_views(self.book.instruments.values(), self.book.marks)

    # --------------------------------------------------------------------------- plumbing

    def _unified(self, exchange_id: str | None, path: str) -> str | None:
        if not exchange_id or not path.startswith("/fapi/"):
            return None
        instrument = self.book.instruments.get(exchange_id)
        return instrument.symbol if instrument is not None else None

    def _refusal(self, error: BookError) -> BinanceReject:
        return reject_for(error)

    def _order(self, order: Order, *, with_time: bool = True) -> dict[str, Any]:
        return payloads.order_payload(order, self.book.instruments[order.symbol], with_time=with_time)

    def _algo(self, order: Order) -> dict[str, Any]:
        return payloads.algo_payload(order, self.book.instruments[order.symbol], self.book)

    def _lookup(self, params: Params, *, channel: str, cancelling: bool = False) -> Order:
        id_key, client_key = (
            ("algoId", "clientAlgoId") if channel == "algo" else ("orderId", "origClientOrderId")
        )
        order_id = params.get(id_key) or None
        client_id = params.get(client_key) or None
        if order_id is None and client_id is None:
            raise BinanceReject(
                -1102, f"Param '{client_key}' or '{id_key}' must be sent, but both were empty/null!"
            )
        instrument = self._instrument(params, required=channel == "regular")
        symbol = instrument.id if instrument is not None else None
        try:
            if cancelling:
                return self.book.cancel(symbol, channel, order_id=order_id, client_order_id=client_id)
            return self.book.find(symbol, channel, order_id=order_id, client_order_id=client_id)
        except OrderNotFound as error:
            raise reject_for(error, cancelling=cancelling) from None

    # ------------------------------------------------------------------ market data, spot

    def _exchange_info(self, params: Params) -> Any:
        return market.exchange_info(self.book.instruments.values(), self._server_ms())

    def _spot_exchange_info(self, params: Params) -> Any:
        return market.spot_exchange_info(
            binance_spot_pairs(self.book.instruments.values()), self._server_ms()
        )

    def _dapi_exchange_info(self, params: Params) -> Any:
        return market.dapi_exchange_info(self._server_ms())

    def _depth(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        limit = _integer(params, "limit") if params.get("limit") else 500
        if not 1 <= limit <= 1000:
            raise BinanceReject(-4021, "Invalid depth limit.")
        return market.depth(self.book, instrument, limit, self._server_ms())

    def _premium_index(self, params: Params) -> Any:
        server = self._server_ms()
        return self._one_or_all(params, lambda i: market.premium_index(self.book, i, server))

    def _funding_rate(self, params: Params) -> Any:
        limit = min(_integer(params, "limit"), 1000) if params.get("limit") else 100
        rows: list[dict[str, Any]] = []
        for instrument in self._instruments(params):
            rows += market.funding_rates(self.book, instrument, self._server_ms(), limit)
        return rows

    def _klines(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        interval = params.get("interval", "")
        if not interval:
            raise missing("interval")
        limit = min(_integer(params, "limit"), 1500) if params.get("limit") else 500
        end = _integer(params, "endTime") if params.get("endTime") else None
        rows = market.klines(self.book, instrument, interval, limit, self._server_ms(), end)
        if rows is None:
            raise BinanceReject(-1120, "Invalid interval.")
        return rows

    def _public_trades(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        mark = self.book.marks[instrument.id]
        return [
            {
                "id": 1,
                "price": payloads.fmt(mark, instrument.price_precision),
                "qty": payloads.plain(instrument.min_qty),
                "quoteQty": payloads.plain(instrument.min_qty * mark),
                "time": self._server_ms(),
                "isBuyerMaker": False,
            }
        ]

    def _open_interest(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        return {"symbol": instrument.id, "openInterest": "0", "time": self._server_ms()}

    # ------------------------------------------------------------------- order placement

    def _place_one(self, params: Params, *, algo: bool) -> tuple[Order, Instrument]:
        request = order_request(params, algo=algo, hedge_mode=self.book.hedge_mode)
        if not algo and request.kind not in ("market", "limit") and not self.legacy_conditional_orders:
            raise BinanceReject(
                -4120,
                "Order type not supported for this endpoint. "
                "Please use the Algo Order API endpoints instead.",
            )
        instrument = self._required_instrument(params)
        try:
            order = self.book.place(request)
        except BookError as error:
            raise reject_for(error, algo=algo) from None
        return order, instrument

    def _new_order(self, params: Params) -> Any:
        order, instrument = self._place_one(params, algo=False)
        ack = params.get("newOrderRespType", "ACK") != "RESULT"
        # What ``VenueReply.json(payloads.order_payload(...), order_id=order.id)`` answers.
        return VenueReply(
            status=200,
            body=payloads.order_reply_body(order, instrument, ack=ack),
            headers={"Content-Type": "application/json"},
            order_id=order.id,
        )

    def _new_algo_order(self, params: Params) -> Any:
        order, _ = self._place_one(params, algo=True)
        return VenueReply.json(self._algo(order), order_id=order.id)

    def _batch_orders(self, params: Params) -> Any:
        results: list[dict[str, Any]] = []
        first_id: str | None = None
        for entry in batch_entries(params):
            try:
                order, instrument = self._place_one(entry, algo=False)
            except BinanceReject as reject:
                results.append({"code": reject.code, "msg": reject.message})
                continue
            first_id = first_id or order.id
            ack = entry.get("newOrderRespType", "ACK") != "RESULT"
            results.append(payloads.order_payload(order, instrument, with_time=False, ack=ack))
        return VenueReply.json(results, accepted=first_id is not None, order_id=first_id)

    def _amend_order(self, params: Params) -> Any:
        quantity = params.get("quantity") or ""
        price = params.get("price") or ""
        if not quantity:
            raise missing("quantity")
        if not price:
            raise missing("price")
        order = self._lookup(params, channel="regular")
        try:
            self.book.amend(order.symbol, order, quantity=quantity, price=price)
        except OrderNotFound:
            raise BinanceReject(-2013, "Order does not exist.") from None
        return self._order(order, with_time=False)

    # ----------------------------------------------------------------- order queries, cancel

    def _get_order(self, params: Params) -> Any:
        return self._order(self._lookup(params, channel="regular"))

    def _get_open_order(self, params: Params) -> Any:
        order = self._lookup(params, channel="regular")
        if not order.is_open:
            raise BinanceReject(-2013, "Order does not exist.")
        return self._order(order)

    def _open_orders(self, params: Params) -> Any:
        instrument = self._instrument(params, required=False)
        symbol = instrument.id if instrument is not None else None
        return [self._order(o) for o in self.book.open_orders(symbol, "regular")]

    def _all_orders(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        orders = self.book.all_orders(instrument.id, "regular")
        if params.get("orderId"):
            orders = [o for o in orders if int(o.id) >= _integer(params, "orderId")]
        orders = _time_window(orders, params, lambda o: o.created_ms)
        limit = min(_integer(params, "limit"), 1000) if params.get("limit") else 500
        return [self._order(o) for o in orders[-limit:]]

    def _cancel_order(self, params: Params) -> Any:
        return self._order(self._lookup(params, channel="regular", cancelling=True), with_time=False)

    def _cancel_all(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        self.book.cancel_all(instrument.id, "regular")
        return _ALL_CANCELLED

    def _cancel_batch(self, params: Params) -> Any:
        self._required_instrument(params)
        # ccxt sends these names in lower case; Binance reads parameter names case-insensitively.
        lowered = {key.lower(): value for key, value in params.items()}
        ids = _json_list(lowered, "orderidlist")
        client_ids = _json_list(lowered, "origclientorderidlist")
        if not ids and not client_ids:
            raise BinanceReject(
                -1102,
                "Param 'origClientOrderIdList' or 'orderIdList' must be sent, but both were empty/null!",
            )
        results: list[dict[str, Any]] = []
        for key, values in (("orderId", ids), ("origClientOrderId", client_ids)):
            for value in values:
                try:
                    order = self._lookup({**params, key: value}, channel="regular", cancelling=True)
                except BinanceReject as reject:
                    results.append({"code": reject.code, "msg": reject.message})
                else:
                    results.append(self._order(order, with_time=False))
        return results

    def _get_algo_order(self, params: Params) -> Any:
        return self._algo(self._lookup(params, channel="algo"))

    def _open_algo_orders(self, params: Params) -> Any:
        instrument = self._instrument(params, required=False)
        symbol = instrument.id if instrument is not None else None
        return [self._algo(o) for o in self.book.open_orders(symbol, "algo")]

    def _all_algo_orders(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        orders = _time_window(self.book.all_orders(instrument.id, "algo"), params, lambda o: o.created_ms)
        limit = min(_integer(params, "limit"), 1000) if params.get("limit") else 500
        return [self._algo(o) for o in orders[-limit:]]

    def _cancel_algo_order(self, params: Params) -> Any:
        order = self._lookup(params, channel="algo", cancelling=True)
        return {
            "algoId": int(order.id),
            "clientAlgoId": order.client_order_id,
            "code": "200",
            "msg": "success",
        }

    def _cancel_all_algo(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        self.book.cancel_all(instrument.id, "algo")
        return _ALL_CANCELLED

    def _user_trades(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        fills = self.book.fills_for(instrument.id)
        if params.get("orderId"):
            fills = [f for f in fills if f.order_id == params["orderId"]]
        if params.get("fromId"):
            fills = [f for f in fills if int(f.id) >= _integer(params, "fromId")]
        fills = _time_window(fills, params, lambda f: f.time_ms)
        limit = min(_integer(params, "limit"), 1000) if params.get("limit") else 500
        return [payloads.user_trade(fill, instrument) for fill in fills[-limit:]]

    def _income(self, params: Params) -> Any:
        instrument = self._instrument(params, required=False)
        rows = payloads.income(
            self.book, instrument.id if instrument else None, params.get("incomeType") or None
        )
        return _time_window(rows, params, lambda row: int(row["time"]))

    # ------------------------------------------------------------------ account, settings

    def _account_v3(self, params: Params) -> Any:
        return payloads.account_v3(self.book)

    def _account_v2(self, params: Params) -> Any:
        return payloads.account_v2(self.book)

    def _balance(self, params: Params) -> Any:
        return payloads.balances(self.book, self._account_alias)

    def _position_risk_v3(self, params: Params) -> Any:
        instrument = self._instrument(params, required=False)
        return payloads.position_risk_v3(self.book, instrument.id if instrument else None)

    def _position_risk_v2(self, params: Params) -> Any:
        instrument = self._instrument(params, required=False)
        return payloads.position_risk_v2(self.book, instrument.id if instrument else None)

    def _leverage_bracket(self, params: Params) -> Any:
        instrument = self._instrument(params, required=False)
        if instrument is not None:
            return payloads.leverage_brackets(instrument)
        return [payloads.leverage_brackets(i) for i in self.book.instruments.values()]

    def _set_leverage(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        if not params.get("leverage"):
            raise missing("leverage")
        leverage = _integer(params, "leverage")
        try:
            self.book.set_leverage(instrument.id, leverage)
        except InvalidLeverage as error:
            raise reject_for(error) from None
        except BookError:
            raise BinanceReject(
                -2028, "Leverage is smaller than permitted: insufficient margin balance"
            ) from None
        return {
            "leverage": leverage,
            "maxNotionalValue": payloads.plain(self.book.max_notional(instrument.id, leverage)),
            "symbol": instrument.id,
        }

    def _set_margin_type(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        value = params.get("marginType", "")
        if not value:
            raise missing("marginType")
        if value not in ("ISOLATED", "CROSSED"):
            raise BinanceReject(-1130, "Data sent for parameter 'marginType' is not valid.")
        self.book.set_margin_mode(instrument.id, "isolated" if value == "ISOLATED" else "cross")
        return _SUCCESS

    def _get_position_mode(self, params: Params) -> Any:
        return {"dualSidePosition": self.book.hedge_mode}

    def _set_position_mode(self, params: Params) -> Any:
        if not params.get("dualSidePosition"):
            raise missing("dualSidePosition")
        self.book.set_hedge_mode(flag(params, "dualSidePosition"))
        return _SUCCESS

    def _get_multi_assets(self, params: Params) -> Any:
        return {"multiAssetsMargin": self.book.multi_assets}

    def _set_multi_assets(self, params: Params) -> Any:
        if not params.get("multiAssetsMargin"):
            raise missing("multiAssetsMargin")
        self.book.set_multi_assets(flag(params, "multiAssetsMargin"))
        return _SUCCESS

    def _symbol_config(self, params: Params) -> Any:
        return [
            {
                "symbol": i.id,
                "marginType": "ISOLATED" if self.book.margin_mode(i.id) == "isolated" else "CROSSED",
                "isAutoAddMargin": "false",
                "leverage": self.book.leverage(i.id),
                "maxNotionalValue": payloads.plain(self.book.max_notional(i.id)),
            }
            for i in self._instruments(params)
        ]

    def _account_config(self, params: Params) -> Any:
        return {
            "feeTier": 0,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "dualSidePosition": self.book.hedge_mode,
            "updateTime": 0,
            "multiAssetsMargin": self.book.multi_assets,
            "tradeGroupId": -1,
        }

    def _commission_rate(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        return {
            "symbol": instrument.id,
            "makerCommissionRate": payloads.plain(self.book.maker_fee),
            "takerCommissionRate": payloads.plain(self.book.taker_fee),
        }

    def _listen_key(self, params: Params) -> Any:
        if self._current_listen_key is None:
            self._current_listen_key = self.ids.listen_key()
        return {"listenKey": self._current_listen_key}

    def _keep_alive_listen_key(self, params: Params) -> Any:
        # An expired or closed key is not revived by a keepalive: the bot must POST for a new one.
        if self._current_listen_key is None:
            raise BinanceReject(-1125, "This listenKey does not exist.")
        return {"listenKey": self._current_listen_key}

    def _close_listen_key(self, params: Params) -> Any:
        self._current_listen_key = None
        return {}


def authenticate(request: ExchangeRequest, params: Params, auth: Auth, server: int) -> None:
    """Binance's key and signature checks, against the exchange's clock ``server`` (ms)."""
    if auth == "none":
        return
    if not request.header("X-MBX-APIKEY"):
        raise BinanceReject(-2014, "API-key format invalid.", 401)
    if auth == "key":
        return
    if not params.get("timestamp"):
        raise missing("timestamp")
    if not params.get("signature"):
        raise missing("signature")
    timestamp = _integer(params, "timestamp")
    recv_window = _integer(params, "recvWindow") if params.get("recvWindow") else 5000
    # The chaos clock and ccxt's signing clock agree; the request's own recvWindow is the
    # tolerance both ways (Binance itself allows only 1 s ahead).
    if timestamp - server > max(recv_window, 1000):
        raise BinanceReject(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if server - timestamp > recv_window:
        raise BinanceReject(-1021, "Timestamp for this request is outside of the recvWindow.")


def _integer(params: Params, name: str) -> int:
    try:
        return int(params[name])
    except (KeyError, ValueError):
        raise BinanceReject(
            -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
        ) from None


def _json_list(params: Params, name: str) -> list[str]:
    raw = params.get(name, "")
    if not raw:
        return []
    try:
        values = json.loads(raw)
    except ValueError:
        raise BinanceReject(-1130, f"Data sent for parameter '{name}' is not valid.") from None
    if not isinstance(values, list):
        raise BinanceReject(-1130, f"Data sent for parameter '{name}' is not valid.")
    return [str(value) for value in values]


def _time_window(rows: list[_T], params: Params, time_of: Callable[[_T], int]) -> list[_T]:
    if params.get("startTime"):
        start = _integer(params, "startTime")
        rows = [row for row in rows if time_of(row) >= start]
    if params.get("endTime"):
        end = _integer(params, "endTime")
        rows = [row for row in rows if time_of(row) <= end]
    return rows


_V = BinanceUsdmVenue
_F = FAPI_HOSTS
_ROUTES: dict[tuple[str, str], _Route] = {
    # load_markets, fetch_time and the rest of the public market data
    ("GET", "/fapi/v1/ping"): _Route(_V._ping, "market_data", "none", _F),
    ("GET", "/fapi/v1/time"): _Route(_V._time, "market_data", "none", _F),
    ("GET", "/fapi/v1/exchangeInfo"): _Route(_V._exchange_info, "market_data", "none", _F),
    ("GET", "/fapi/v1/depth"): _Route(_V._depth, "market_data", "none", _F),
    ("GET", "/fapi/v1/ticker/24hr"): _Route(_V._ticker_24hr, "market_data", "none", _F),
    ("GET", "/fapi/v1/ticker/price"): _Route(_V._ticker_price, "market_data", "none", _F),
    ("GET", "/fapi/v2/ticker/price"): _Route(_V._ticker_price, "market_data", "none", _F),
    ("GET", "/fapi/v1/ticker/bookTicker"): _Route(_V._book_ticker, "market_data", "none", _F),
    ("GET", "/fapi/v1/premiumIndex"): _Route(_V._premium_index, "market_data", "none", _F),
    ("GET", "/fapi/v1/fundingRate"): _Route(_V._funding_rate, "market_data", "none", _F),
    ("GET", "/fapi/v1/klines"): _Route(_V._klines, "market_data", "none", _F),
    ("GET", "/fapi/v1/markPriceKlines"): _Route(_V._klines, "market_data", "none", _F),
    ("GET", "/fapi/v1/indexPriceKlines"): _Route(_V._klines, "market_data", "none", _F),
    ("GET", "/fapi/v1/premiumIndexKlines"): _Route(_V._klines, "market_data", "none", _F),
    ("GET", "/fapi/v1/trades"): _Route(_V._public_trades, "market_data", "none", _F),
    ("GET", "/fapi/v1/openInterest"): _Route(_V._open_interest, "market_data", "none", _F),
    ("GET", "/api/v3/ping"): _Route(_V._ping, "market_data", "none", SPOT_HOSTS),
    ("GET", "/api/v3/time"): _Route(_V._time, "market_data", "none", SPOT_HOSTS),
    ("GET", "/api/v3/exchangeInfo"): _Route(_V._spot_exchange_info, "market_data", "none", SPOT_HOSTS),
    ("GET", "/dapi/v1/ping"): _Route(_V._ping, "market_data", "none", DAPI_HOSTS),
    ("GET", "/dapi/v1/time"): _Route(_V._time, "market_data", "none", DAPI_HOSTS),
    ("GET", "/dapi/v1/exchangeInfo"): _Route(_V._dapi_exchange_info, "market_data", "none", DAPI_HOSTS),
    ("GET", "/sapi/v1/system/status"): _Route(_V._system_status, "market_data", "none", SAPI_HOSTS),
    ("GET", "/sapi/v1/capital/config/getall"): _Route(_V._coins, "market_data", "signed", SAPI_HOSTS),
    ("GET", "/sapi/v1/margin/allPairs"): _Route(_V._margin_pairs, "market_data", "signed", SAPI_HOSTS),
    ("GET", "/sapi/v1/margin/isolated/allPairs"): _Route(
        _V._isolated_pairs, "market_data", "signed", SAPI_HOSTS
    ),
    # orders
    ("POST", "/fapi/v1/order"): _Route(_V._new_order, None, "signed", _F),
    ("POST", "/fapi/v1/algoOrder"): _Route(_V._new_algo_order, None, "signed", _F),
    ("POST", "/fapi/v1/batchOrders"): _Route(_V._batch_orders, None, "signed", _F),
    ("PUT", "/fapi/v1/order"): _Route(_V._amend_order, "other", "signed", _F),
    ("GET", "/fapi/v1/order"): _Route(_V._get_order, "account", "signed", _F),
    ("GET", "/fapi/v1/openOrder"): _Route(_V._get_open_order, "account", "signed", _F),
    ("GET", "/fapi/v1/openOrders"): _Route(_V._open_orders, "account", "signed", _F),
    ("GET", "/fapi/v1/allOrders"): _Route(_V._all_orders, "account", "signed", _F),
    ("GET", "/fapi/v1/algoOrder"): _Route(_V._get_algo_order, "account", "signed", _F),
    ("GET", "/fapi/v1/openAlgoOrders"): _Route(_V._open_algo_orders, "account", "signed", _F),
    ("GET", "/fapi/v1/allAlgoOrders"): _Route(_V._all_algo_orders, "account", "signed", _F),
    ("DELETE", "/fapi/v1/order"): _Route(_V._cancel_order, "cancel", "signed", _F),
    ("DELETE", "/fapi/v1/allOpenOrders"): _Route(_V._cancel_all, "cancel", "signed", _F),
    ("DELETE", "/fapi/v1/batchOrders"): _Route(_V._cancel_batch, "cancel", "signed", _F),
    ("DELETE", "/fapi/v1/algoOrder"): _Route(_V._cancel_algo_order, "cancel", "signed", _F),
    ("DELETE", "/fapi/v1/algoOpenOrders"): _Route(_V._cancel_all_algo, "cancel", "signed", _F),
    ("GET", "/fapi/v1/userTrades"): _Route(_V._user_trades, "account", "signed", _F),
    ("GET", "/fapi/v1/income"): _Route(_V._income, "account", "signed", _F),
    # account and settings
    ("GET", "/fapi/v3/account"): _Route(_V._account_v3, "account", "signed", _F),
    ("GET", "/fapi/v2/account"): _Route(_V._account_v2, "account", "signed", _F),
    ("GET", "/fapi/v2/balance"): _Route(_V._balance, "account", "signed", _F),
    ("GET", "/fapi/v3/balance"): _Route(_V._balance, "account", "signed", _F),
    ("GET", "/fapi/v3/positionRisk"): _Route(_V._position_risk_v3, "account", "signed", _F),
    ("GET", "/fapi/v2/positionRisk"): _Route(_V._position_risk_v2, "account", "signed", _F),
    ("GET", "/fapi/v1/leverageBracket"): _Route(_V._leverage_bracket, "account", "signed", _F),
    ("POST", "/fapi/v1/leverage"): _Route(_V._set_leverage, "account", "signed", _F),
    ("POST", "/fapi/v1/marginType"): _Route(_V._set_margin_type, "account", "signed", _F),
    ("GET", "/fapi/v1/positionSide/dual"): _Route(_V._get_position_mode, "account", "signed", _F),
    ("POST", "/fapi/v1/positionSide/dual"): _Route(_V._set_position_mode, "account", "signed", _F),
    ("GET", "/fapi/v1/multiAssetsMargin"): _Route(_V._get_multi_assets, "account", "signed", _F),
    ("POST", "/fapi/v1/multiAssetsMargin"): _Route(_V._set_multi_assets, "account", "signed", _F),
    ("GET", "/fapi/v1/symbolConfig"): _Route(_V._symbol_config, "account", "signed", _F),
    ("GET", "/fapi/v1/accountConfig"): _Route(_V._account_config, "account", "signed", _F),
    ("GET", "/fapi/v1/commissionRate"): _Route(_V._commission_rate, "account", "signed", _F),
    ("POST", "/fapi/v1/listenKey"): _Route(_V._listen_key, "other", "key", _F),
    ("PUT", "/fapi/v1/listenKey"): _Route(_V._keep_alive_listen_key, "other", "key", _F),
    ("DELETE", "/fapi/v1/listenKey"): _Route(_V._close_listen_key, "other", "key", _F),
}
