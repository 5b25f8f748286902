"""Simulated Bybit v5 (ccxt ``bybit``), linear USDT perpetuals on a unified trading account.

Answers, on the production, testnet and demo hosts, every request real ccxt makes to load
markets (the spot, linear, inverse and option instrument lists, each with its ``PreLaunch``
twin, and the coin list it loads with keys), check the account type, read balances and
positions, place, list, fetch and cancel orders (market and limit orders, conditional orders
with ``triggerPrice``/``triggerDirection``, a take-profit and stop-loss attached to an entry or
set on the position), and change account settings. State lives in a venue-neutral
:class:`Book`; errors are Bybit's own ``retCode`` at HTTP 200.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pytest_exchange_chaos.naked_time import UnprotectedInterval
from pytest_exchange_chaos.venues import _bybit_market as market
from pytest_exchange_chaos.venues import _bybit_payloads as payloads
from pytest_exchange_chaos.venues._book import Book, BookVenue, Listing, parse_decimal
from pytest_exchange_chaos.venues._bybit_ids import BybitIds
from pytest_exchange_chaos.venues._bybit_requests import (
    BybitReject,
    Params,
    order_request,
    order_ticket,
    placement_intent,
    reject_for,
    text,
    trigger_direction,
)
from pytest_exchange_chaos.venues._bybit_spot import (
    BYBIT_SPOT_PAIRS,
    UnifiedWallet,
    spot_order_payload,
    spot_order_request,
    spot_reject_for,
    spot_ticket,
)
from pytest_exchange_chaos.venues._errors import (
    BookError,
    InsufficientMargin,
    InvalidLeverage,
    InvalidOrderParameters,
    NoChangeNeeded,
    WouldTriggerImmediately,
)
from pytest_exchange_chaos.venues._instruments import INSTRUMENTS, Instrument
from pytest_exchange_chaos.venues._records import Order, OrderKind, OrderRequest, Side
from pytest_exchange_chaos.venues._spot import SpotBook, spot_intent
from pytest_exchange_chaos.venues._spot_views import instrument_views
from pytest_exchange_chaos.venues.base import (
    Call,
    ExchangeRequest,
    InstrumentView,
    Intent,
    OrderTicket,
    OrderView,
    PositionView,
    VenueContext,
    VenueReply,
)

__all__ = ["BYBIT_HOSTS", "BybitVenue"]

BYBIT_HOSTS = frozenset(
    {
        "api.bybit.com",
        "api.bytick.com",
        "api-testnet.bybit.com",
        "api-testnet.bytick.com",
        "api-demo.bybit.com",
        "api-demo.bytick.com",
    }
)
_NOT_FOUND_BODY = b"404 page not found"
_MAX_LEVERAGE = 100
_MIN_NOTIONAL = Decimal(5)

Handler = Callable[["BybitVenue", Params], Any]
Protection = Literal["StopLoss", "TakeProfit"]
_PROTECTIONS: tuple[tuple[str, Protection], ...] = (("stopLoss", "StopLoss"), ("takeProfit", "TakeProfit"))


@dataclass(frozen=True)
class _Route:
    handler: Handler
    intent: Intent | None
    """None for order placements and position TP/SL: their intent depends on the request."""
    private: bool


def bybit_listing(instruments: tuple[Instrument, ...]) -> tuple[Instrument, ...]:
    """The shared contracts with Bybit's own limits: 5 USDT minimum value, at most 100x."""
    return tuple(
        dataclasses.replace(
            instrument,
            min_notional=_MIN_NOTIONAL,
            max_leverage=min(instrument.max_leverage, _MAX_LEVERAGE),
        )
        for instrument in instruments
    )


class BybitVenue(BookVenue):
    id = "bybit"
    hosts = BYBIT_HOSTS

    def __init__(
        self,
        context: VenueContext,
        *,
        instruments: tuple[Instrument, ...] = INSTRUMENTS,
        wallet_balance: Decimal | str = "10000",
        spot_balances: Mapping[str, Decimal | str] | None = None,
    ) -> None:
        super().__init__(context)
        self.ids = BybitIds(context.seed)
        self.book = Book(
            bybit_listing(instruments),
            ids=self.ids,
            wall_ms=self._server_ms,
            now=context.now,
            wallet_balance=Decimal(wallet_balance),
            default_leverage=10,
            taker_fee=Decimal("0.00055"),
            maker_fee=Decimal("0.0002"),
        )
        # Spot on the same unified account: its USDT is the wallet above, its coins its own.
        self.spot = SpotBook(
            BYBIT_SPOT_PAIRS,
            ids=self.ids,
            wall_ms=self._server_ms,
            now=context.now,
            balances={asset: Decimal(amount) for asset, amount in (spot_balances or {}).items()},
            quote_wallet=UnifiedWallet(self.book),
        )
        self.listing = self.book
        self.margin_mode = "REGULAR_MARGIN"
        self._params_request: ExchangeRequest | None = None
        self._params_cache: Params = {}
        self._user_id = self.ids.user_id()
        # Linear orderLinkIds are unique for good, not only among open orders.
        self._link_ids: set[str] = set()
        # Resting entries whose attached take-profit/stop-loss waits for the first fill.
        self._pending_protection: dict[str, Order] = {}

    # ------------------------------------------------------------------------- Venue API

    def not_simulated(self, request: ExchangeRequest) -> str | None:
        key = (request.method.upper(), request.path)
        route = _ROUTES.get(key)
        category = text(self._params(request), "category")
        market = category or "v5"
        if route is None:
            return f"bybit {market} {key[0]} {key[1]} is not simulated"
        if category == "spot" and key not in _SPOT_ROUTES:
            return f"bybit spot {key[0]} {key[1]} is not simulated"
        if key == ("GET", "/v5/position/list") and category == "inverse":
            return None  # an empty list (see _positions): ccxt.pro's watch_positions asks for it
        if category in ("inverse", "option") and key[1].startswith(_TRADING_PATHS):
            return f"bybit {category} {key[0]} {key[1]} is not simulated"
        return None

    def classify(self, request: ExchangeRequest) -> Call:
        route = _ROUTES.get((request.method.upper(), request.path))
        endpoint = request.endpoint
        params = self._params(request)
        if text(params, "category") == "spot":
            return self._classify_spot(route, endpoint, params)
        instrument = self._linear_instrument(params)
        symbol = instrument.symbol if instrument is not None else None
        if route is None:
            return Call(self.id, "other", endpoint, symbol)
        if route.intent is not None:
            return Call(self.id, route.intent, endpoint, symbol)
        if request.path == "/v5/position/trading-stop":
            intent, ticket = self._trading_stop_ticket(params, instrument)
            return Call(self.id, intent, endpoint, symbol, ticket)
        if request.path == "/v5/order/create-batch":
            entries = params.get("request")
            if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
                return Call(self.id, "other", endpoint, symbol)
            params = {"category": params.get("category"), **entries[0]}
            instrument = self._linear_instrument(params)
            symbol = instrument.symbol if instrument is not None else None
        mark = self.book.marks[instrument.id] if instrument is not None else Decimal(0)
        ticket = order_ticket(params, mark)
        position = self._position_qty(instrument)
        return Call(self.id, placement_intent(params, ticket, mark, position), endpoint, symbol, ticket)

    def execute(self, request: ExchangeRequest, call: Call) -> VenueReply:
        route = _ROUTES.get((request.method.upper(), request.path))
        if route is None or request.host not in self.hosts:
            return VenueReply(
                status=404, body=_NOT_FOUND_BODY, headers={"Content-Type": "text/plain"}, accepted=False
            )
        try:
            params = self._params(request)
            if route.private:
                self._authenticate(request)
            result = route.handler(self, params)
        except BybitReject as reject:
            return self.error_reply(reject.code, reject.message)
        except BookError as error:
            refusal = reject_for(error)
            return self.error_reply(refusal.code, refusal.message)
        if isinstance(result, VenueReply):
            return result
        return self._ok(result)

    def instruments(self) -> list[InstrumentView]:
        linear = instrument_views(self.book.instruments.values(), self.book.marks)
        return linear + instrument_views(self.spot.instruments.values(), self.spot.marks)

    def error_reply(self, code: int, message: str) -> VenueReply:
        body = {"retCode": code, "retMsg": message, "result": {}, "retExtInfo": {}, "time": self._server_ms()}
        return VenueReply.json(body, accepted=False, error_code=code)

    def set_price(self, symbol: str, price: float) -> None:
        if self.spot.lists(symbol):
            self.spot.set_mark(symbol, price)
            return
        super().set_price(symbol, price)
        self._activate_pending_protection()

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        linear = [] if self.spot.lists(symbol) else super().open_orders(symbol)
        spot = self.spot.order_views(symbol) if symbol is None or self.spot.lists(symbol) else []
        return linear + spot

    def positions(self) -> list[PositionView]:
        return super().positions() + self.spot.position_views()

    def unprotected_intervals(self) -> list[UnprotectedInterval]:
        linear = super().unprotected_intervals()
        return linear + self.spot.naked_intervals(self.id, self.context.now())

    def positions_opened(self) -> int:
        return super().positions_opened() + self.spot.positions_opened

    # --------------------------------------------------------------------------- plumbing

    def _params(self, request: ExchangeRequest) -> Params:
        # The engine asks not_simulated(), classify() and execute() about the same request: its
        # parameters are read once, keyed by the request object itself.
        if request is not self._params_request:
            self._params_request, self._params_cache = request, request.params
        return self._params_cache

    def _server_ms(self) -> int:
        return int(self.context.wall_time() * 1000)

    def _ok(self, result: Any, *, order_id: str | None = None, ext: Any = None) -> VenueReply:
        body = {
            "retCode": 0,
            "retMsg": "OK",
            "result": result,
            "retExtInfo": ext if ext is not None else {},
            "time": self._server_ms(),
        }
        return VenueReply.json(body, order_id=order_id)

    def _authenticate(self, request: ExchangeRequest) -> None:
        if not request.header("X-BAPI-API-KEY"):
            raise BybitReject(10003, "API key is invalid.")
        if not request.header("X-BAPI-SIGN"):
            raise BybitReject(10004, "Error sign, please check your signature generation algorithm.")
        raw_timestamp = request.header("X-BAPI-TIMESTAMP") or ""
        raw_window = request.header("X-BAPI-RECV-WINDOW") or "5000"
        try:
            timestamp = int(raw_timestamp)
            recv_window = int(raw_window)
        except ValueError:
            raise BybitReject(10002, "The request time exceeds the time window range.") from None
        server = self._server_ms()
        # Bybit's rule: server - recv_window <= timestamp < server + 1000.
        if not server - recv_window <= timestamp < server + 1000:
            raise BybitReject(
                10002,
                "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{timestamp}],server_timestamp[{server}],recv_window[{recv_window}]",
            )

    def _linear_instrument(self, params: Params) -> Instrument | None:
        if text(params, "category") not in ("", "linear"):
            return None
        return self.book.instruments.get(text(params, "symbol"))

    def _instrument(self, params: Params, *, required: bool = True) -> Instrument | None:
        self._linear_category(params)
        return _named_instrument(self.book, params, required=required)

    def _required_instrument(self, params: Params) -> Instrument:
        instrument = self._instrument(params)
        assert instrument is not None
        return instrument

    @staticmethod
    def _linear_category(params: Params) -> None:
        category = text(params, "category")
        if not category:
            raise BybitReject(10001, "params error: category invalid")
        if category != "linear":
            raise BybitReject(10001, f"params error: category {category} is not traded on this venue")

    def _position_qty(self, instrument: Instrument | None) -> Decimal:
        return self.book.position_qty(instrument.id) if instrument is not None else Decimal(0)

    def _reply_order(self, order: Order, instrument: Instrument) -> dict[str, Any]:
        return payloads.order_payload(order, instrument, self.book)

    def _order_from(self, params: Params, *, open_only: bool) -> Order:
        instrument = self._required_instrument(params)
        order_id = text(params, "orderId") or None
        link_id = text(params, "orderLinkId") or None
        if order_id is None and link_id is None:
            raise BybitReject(10001, "params error: orderId or orderLinkId is required")
        for order in reversed(self.book.all_orders(instrument.id)):
            if (order_id is not None and order.id == order_id) or (
                link_id is not None and order.extra.get("orderLinkId") == link_id
            ):
                if open_only and not order.is_open:
                    break
                return order
        raise BybitReject(110001, "order not exists or too late to cancel")

    # ---------------------------------------------------------------------------- spot

    def _classify_spot(self, route: _Route | None, endpoint: str, params: Params) -> Call:
        pair = self.spot.instruments.get(text(params, "symbol"))
        symbol = pair.symbol if pair is not None else None
        if route is None:
            return Call(self.id, "other", endpoint, symbol)
        if route.intent is not None:
            return Call(self.id, route.intent, endpoint, symbol)
        mark = self.spot.marks[pair.id] if pair is not None else Decimal(0)
        ticket, kind = spot_ticket(params, mark)
        intent: Intent = spot_intent(kind, ticket.side) if kind is not None else "other"
        return Call(self.id, intent, endpoint, symbol, ticket)

    def _spot_pair(self, params: Params, *, required: bool = True) -> Instrument | None:
        return _named_instrument(self.spot, params, required=required)

    def _spot_order_from(self, params: Params, *, open_only: bool) -> Order:
        pair = self._spot_pair(params, required=False)
        order_id = text(params, "orderId") or None
        link_id = text(params, "orderLinkId") or None
        if order_id is None and link_id is None:
            raise BybitReject(10001, "params error: orderId or orderLinkId is required")
        for order in reversed(self.spot.all_orders(pair.id if pair is not None else None)):
            if (order_id is not None and order.id == order_id) or (
                link_id is not None and order.extra.get("orderLinkId") == link_id
            ):
                if open_only and not order.is_open:
                    break
                return order
        raise BybitReject(170213, "Order does not exist.")

    def _spot_create(self, params: Params) -> Any:
        pair = self._spot_pair(params)
        assert pair is not None
        link_id = text(params, "orderLinkId")
        if link_id and link_id in self._link_ids:
            raise BybitReject(170141, "Duplicate clientOrderId.")
        request, quote_quantity = spot_order_request(params, self.spot.marks[pair.id])
        try:
            order = self.spot.place(request, quote_quantity=quote_quantity)
        except BookError as error:
            raise spot_reject_for(error) from None
        if link_id:
            self._link_ids.add(link_id)
        return self._ok({"orderId": order.id, "orderLinkId": link_id}, order_id=order.id)

    def _spot_cancel(self, params: Params) -> Any:
        order = self._spot_order_from(params, open_only=True)
        self.spot.cancel(order.symbol, order_id=order.id)
        return {"orderId": order.id, "orderLinkId": order.extra.get("orderLinkId", "")}

    def _spot_cancel_all(self, params: Params) -> Any:
        pair = self._spot_pair(params, required=False)
        kinds = text(params, "orderFilter")
        cancelled = []
        for order in self.spot.open_orders(pair.id if pair is not None else None):
            if kinds and _spot_filter(order) != kinds:
                continue
            self.spot.cancel(order.symbol, order_id=order.id)
            cancelled.append({"orderId": order.id, "orderLinkId": order.extra.get("orderLinkId", "")})
        return {"list": cancelled, "success": "1"}

    def _spot_orders(self, params: Params, *, history: bool) -> Any:
        pair = self._spot_pair(params, required=False)
        by_id = text(params, "orderId") or None
        by_link = text(params, "orderLinkId") or None
        orders = self.spot.all_orders(pair.id if pair is not None else None)
        if by_id is not None or by_link is not None:
            orders = [
                o
                for o in orders
                if (by_id is None or o.id == by_id)
                and (by_link is None or o.extra.get("orderLinkId") == by_link)
            ]
        elif history:
            orders = [o for o in orders if not o.is_open]
        else:
            orders = [o for o in orders if o.is_open]
        kinds = text(params, "orderFilter")
        status = text(params, "orderStatus")
        rows = []
        for order in sorted(orders, key=lambda o: o.created_ms, reverse=True):
            if kinds and _spot_filter(order) != kinds:
                continue
            row = spot_order_payload(order, self.spot.instruments[order.symbol], self.spot)
            if status and row["orderStatus"] != status:
                continue
            rows.append(row)
        count = min(_integer(params, "limit", 20 if history else 50), 50)
        return {"category": "spot", "list": rows[:count], "nextPageCursor": ""}

    def _spot_tickers(self, params: Params) -> Any:
        pair = self._spot_pair(params, required=False)
        chosen = [pair] if pair is not None else list(self.spot.instruments.values())
        rows = [market.spot_ticker(self.spot, i) for i in chosen]
        return {"category": "spot", "list": rows}

    # ------------------------------------------------------------------ market data

    def _time(self, params: Params) -> Any:
        nanos = int(self.context.wall_time() * 1_000_000_000)
        return {"timeSecond": str(nanos // 1_000_000_000), "timeNano": str(nanos)}

    def _instruments_info(self, params: Params) -> Any:
        category = text(params, "category")
        if not category:
            raise BybitReject(10001, "params error: category invalid")
        return market.instruments_info(
            self.book, category, symbol=text(params, "symbol") or None, status=text(params, "status") or None
        )

    def _tickers(self, params: Params) -> Any:
        category = text(params, "category")
        if not category:
            raise BybitReject(10001, "params error: category invalid")
        if category == "spot":
            return self._spot_tickers(params)
        rows: list[dict[str, Any]] = []
        if category == "linear":
            instrument = self._instrument(params, required=False)
            chosen = [instrument] if instrument is not None else list(self.book.instruments.values())
            rows = [market.ticker(self.book, i, self._server_ms()) for i in chosen]
        return {"category": category, "list": rows}

    def _orderbook(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        limit = _integer(params, "limit", 25)
        if not 1 <= limit <= 500:
            raise BybitReject(10001, "params error: limit invalid")
        return market.orderbook(self.book, instrument, limit, self._server_ms())

    def _kline(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        interval = text(params, "interval")
        interval_ms = market.INTERVAL_MS.get(interval)
        if interval_ms is None:
            raise BybitReject(10001, "params error: interval invalid")
        limit = min(_integer(params, "limit", 200), 1000)
        end = _integer(params, "end", self._server_ms())
        if params.get("start") is not None and not params.get("end"):
            end = min(_integer(params, "start", 0) + interval_ms * (limit - 1), self._server_ms())
        rows = market.kline(self.book, instrument, interval_ms, limit, end)
        return {"category": "linear", "symbol": instrument.id, "list": rows}

    def _risk_limit(self, params: Params) -> Any:
        instrument = self._instrument(params, required=False)
        chosen = [instrument] if instrument is not None else list(self.book.instruments.values())
        rows = [row for i in chosen for row in market.risk_limits(i)]
        return {"category": "linear", "list": rows, "nextPageCursor": ""}

    def _coins(self, params: Params) -> Any:
        return {"rows": market.coins(self.book)}

    # ------------------------------------------------------------------ account checks

    def _query_api(self, params: Params) -> Any:
        return {
            "id": str(self._user_id % 10_000_000),
            "note": "pytest-exchange-chaos",
            "apiKey": "",
            "readOnly": 0,
            "secret": "",
            "permissions": {
                "ContractTrade": ["Order", "Position"],
                "Spot": ["SpotTrade"],
                "Wallet": ["AccountTransfer", "SubMemberTransfer"],
                "Options": ["OptionsTrade"],
                "Derivatives": ["DerivativesTrade"],
                "CopyTrading": [],
                "BlockTrade": [],
                "Exchange": ["ExchangeHistory"],
                "NFT": [],
                "Affiliate": [],
            },
            "ips": ["*"],
            "type": 1,
            "deadlineDay": 83,
            "expiredAt": "",
            "createdAt": "2024-01-02T03:04:05Z",
            "unified": 0,
            "uta": 1,
            "userID": self._user_id,
            "inviterID": 0,
            "vipLevel": "No VIP",
            "mktMakerLevel": "0",
            "affiliateID": 0,
            "rsaPublicKey": "",
            "isMaster": True,
            "parentUid": "0",
            "kycLevel": "LEVEL_1",
            "kycRegion": "",
        }

    def _account_info(self, params: Params) -> Any:
        return {
            "marginMode": self.margin_mode,
            "updatedTime": str(self.book.balance_updated_ms),
            # 6: unified trading account 2.0 (pro), what new accounts get.
            "unifiedMarginStatus": 6,
            "dcpStatus": "OFF",
            "timeWindow": 10,
            "smpGroup": 0,
            "isMasterTrader": False,
            "spotHedgingStatus": "OFF",
        }

    def _wallet_balance(self, params: Params) -> Any:
        account_type = text(params, "accountType")
        if account_type != "UNIFIED":
            raise BybitReject(10001, "accountType only support UNIFIED.")
        return payloads.wallet_balance(self.book, self.spot)

    def _fee_rate(self, params: Params) -> Any:
        instrument = self._instrument(params, required=False)
        chosen = [instrument] if instrument is not None else list(self.book.instruments.values())
        rows = [
            {
                "symbol": i.id,
                "baseCoin": "",
                "takerFeeRate": payloads.plain(self.book.taker_fee),
                "makerFeeRate": payloads.plain(self.book.maker_fee),
            }
            for i in chosen
        ]
        return {"category": "linear", "list": rows}

    # ---------------------------------------------------------------------------- orders

    def _create_order(self, params: Params) -> Any:
        if text(params, "category") == "spot":
            return self._spot_create(params)
        instrument = self._required_instrument(params)
        order = self._place(instrument, params)
        result = {"orderId": order.id, "orderLinkId": order.extra.get("orderLinkId", "")}
        return self._ok(result, order_id=order.id)

    def _place(self, instrument: Instrument, params: Params) -> Order:
        mark = self.book.marks[instrument.id]
        request = order_request(params, mark=mark, hedge_mode=self.book.hedge_mode)
        link_id = request.extra.get("orderLinkId", "")
        if link_id and link_id in self._link_ids:
            raise BybitReject(110072, "OrderLinkedID is duplicate")
        direction = trigger_direction(params, mark)
        if request.trigger_price is not None and direction is not None:
            _check_direction(direction, parse_decimal(request.trigger_price, "trigger_price"), mark)
        self._check_attached(request, mark)
        request = dataclasses.replace(
            request,
            extra={**request.extra, "lastPriceOnCreated": payloads.fmt(mark, instrument.price_precision)},
        )
        try:
            order = self.book.place(request)
        except WouldTriggerImmediately as error:
            raise reject_for(error, direction=direction) from None
        if link_id:
            self._link_ids.add(link_id)
        if "stopLoss" in order.extra or "takeProfit" in order.extra:
            if order.executed_qty > 0:
                self._attach_protection(order)
            elif order.is_open:
                self._pending_protection[order.id] = order
        return order

    def _check_attached(self, request: OrderRequest, mark: Decimal) -> None:
        """Bybit checks an attached stop-loss and take-profit against the order's own price."""
        reference = parse_decimal(request.price, "price") if request.price else mark
        buying = request.side == "buy"
        position_side = "Buy" if buying else "Sell"
        base = payloads.plain(reference)
        for field, below in (("stopLoss", buying), ("takeProfit", not buying)):
            raw = request.extra.get(field)
            if not raw:
                continue
            value = parse_decimal(raw, field)
            if value == 0:
                continue
            if value < 0 or (value >= reference if below else value <= reference):
                where = "lower" if below else "higher"
                label = "StopLoss" if field == "stopLoss" else "TakeProfit"
                raise BybitReject(
                    10001,
                    f"{label}:{raw} set for {position_side} position should be {where} than "
                    f"base_price:{base}??LastPrice",
                )

    def _attach_protection(self, entry: Order) -> None:
        extra = entry.extra
        full = extra.get("tpslMode", "Full") != "Partial"
        for field, which in _PROTECTIONS:
            trigger = extra.get(field)
            if not trigger or parse_decimal(trigger, field) == 0:
                continue
            limit_key = "slLimitPrice" if which == "StopLoss" else "tpLimitPrice"
            type_key = "slOrderType" if which == "StopLoss" else "tpOrderType"
            limit = extra.get(limit_key) if extra.get(type_key) == "Limit" else None
            try:
                self._set_protection(
                    entry.symbol, which, trigger, size=None if full else entry.executed_qty, limit_price=limit
                )
            except (BookError, BybitReject):
                # The mark ran through the level as the entry filled: Bybit drops the order.
                continue

    def _activate_pending_protection(self) -> None:
        for order_id, order in list(self._pending_protection.items()):
            if order.executed_qty > 0:
                del self._pending_protection[order_id]
                self._attach_protection(order)
            elif not order.is_open:
                del self._pending_protection[order_id]

    def _protection_orders(self, instrument_id: str, which: str) -> list[Order]:
        return [
            order
            for order in self.book.open_orders(instrument_id)
            if order.extra.get("stopOrderType") == which and order.close_position
        ]

    def _set_protection(
        self,
        instrument_id: str,
        which: Protection,
        trigger: str,
        *,
        size: Decimal | None,
        limit_price: str | None = None,
    ) -> Order | None:
        """Put a take-profit or stop-loss on the position: for its whole size (``Full``, replacing
        the one before) or for ``size`` (``Partial``). A zero trigger removes the full one."""
        position = self.book.positions.get(instrument_id)
        if position is None:
            raise BybitReject(10001, "can not set tp/sl/ts for zero position")
        for old in self._protection_orders(instrument_id, which) if size is None else []:
            self.book.cancel_order(old, self._server_ms())
        if parse_decimal(trigger, which) == 0:
            return None
        closing: Side = "sell" if position.quantity > 0 else "buy"
        stop = which == "StopLoss"
        # A long's stop waits for the price to fall and its take-profit for it to rise.
        falling = stop == (closing == "sell")
        kind: OrderKind
        if stop:
            kind = "stop" if limit_price else "stop_market"
        else:
            kind = "take_profit" if limit_price else "take_profit_market"
        if size is None:
            kind = "stop_market" if stop else "take_profit_market"
        partial = "" if size is None else "Partial"
        extra = {
            "orderLinkId": "",
            "positionIdx": "0",
            "stopOrderType": partial + which,
            "tpslMode": "Partial" if size is not None else "Full",
            "createType": f"CreateBy{partial}{which}",
            "triggerDirection": "2" if falling else "1",
            "triggerBy": "LastPrice",
        }
        return self.book.place(
            OrderRequest(
                symbol=instrument_id,
                side=closing,
                kind=kind,
                quantity=payloads.plain(size) if size is not None else None,
                price=limit_price,
                trigger_price=trigger,
                reduce_only=size is not None,
                close_position=size is None,
                extra=extra,
            )
        )

    def _create_batch(self, params: Params) -> Any:
        self._linear_category(params)
        entries = params.get("request")
        if not isinstance(entries, list) or not entries:
            raise BybitReject(10001, "params error: request invalid")
        if len(entries) > 20:
            raise BybitReject(10001, "params error: too many orders in one batch")
        results: list[dict[str, Any]] = []
        codes: list[dict[str, Any]] = []
        first_id: str | None = None
        for entry in entries:
            merged = {"category": "linear", **entry} if isinstance(entry, dict) else {}
            try:
                instrument = self._required_instrument(merged)
                order = self._place(instrument, merged)
            except (BybitReject, BookError) as error:
                reject = error if isinstance(error, BybitReject) else reject_for(error)
                codes.append({"code": reject.code, "msg": reject.message})
                results.append(
                    {
                        "category": "linear",
                        "symbol": text(merged, "symbol"),
                        "orderId": "",
                        "orderLinkId": text(merged, "orderLinkId"),
                        "createAt": "",
                    }
                )
                continue
            first_id = first_id or order.id
            codes.append({"code": 0, "msg": "OK"})
            results.append(
                {
                    "category": "linear",
                    "symbol": instrument.id,
                    "orderId": order.id,
                    "orderLinkId": order.extra.get("orderLinkId", ""),
                    "createAt": str(order.created_ms),
                }
            )
        return self._ok({"list": results}, order_id=first_id, ext={"list": codes})

    def _amend_order(self, params: Params) -> Any:
        order = self._order_from(params, open_only=True)
        instrument = self.book.instruments[order.symbol]
        if order.kind != "limit":
            raise BybitReject(10001, "params error: only open limit orders can be amended here")
        quantity = text(params, "qty") or payloads.plain(order.quantity)
        price = text(params, "price") or payloads.plain(order.price or Decimal(0))
        try:
            self.book.amend(instrument.id, order, quantity=quantity, price=price)
        except InvalidOrderParameters:
            raise BybitReject(10001, "params error: qty invalid") from None
        # An amended price can cross the market and fill the entry at once.
        self._activate_pending_protection()
        return {"orderId": order.id, "orderLinkId": order.extra.get("orderLinkId", "")}

    def _cancel_order(self, params: Params) -> Any:
        if text(params, "category") == "spot":
            return self._spot_cancel(params)
        order = self._order_from(params, open_only=True)
        self.book.cancel(order.symbol, order.channel, order_id=order.id)
        self._pending_protection.pop(order.id, None)
        return {"orderId": order.id, "orderLinkId": order.extra.get("orderLinkId", "")}

    def _cancel_all(self, params: Params) -> Any:
        if text(params, "category") == "spot":
            return self._spot_cancel_all(params)
        instrument = self._instrument(params, required=False)
        if instrument is None and not text(params, "settleCoin") and not text(params, "baseCoin"):
            raise BybitReject(10001, "params error: symbol or settleCoin is required")
        kinds = text(params, "orderFilter")
        cancelled = []
        for order in self.book.open_orders(instrument.id if instrument is not None else None):
            # The position's own take-profit and stop-loss belong to it, not to the order list.
            protective = order.extra.get("stopOrderType", "") in payloads.PROTECTION_TYPES
            if protective or not _matches_filter(order, kinds):
                continue
            self.book.cancel_order(order, self._server_ms())
            self._pending_protection.pop(order.id, None)
            cancelled.append({"orderId": order.id, "orderLinkId": order.extra.get("orderLinkId", "")})
        return {"list": cancelled, "success": "1"}

    def _realtime(self, params: Params) -> Any:
        if text(params, "category") == "spot":
            return self._spot_orders(params, history=False)
        self._linear_category(params)
        instrument = self._instrument(params, required=False)
        by_id = text(params, "orderId") or None
        by_link = text(params, "orderLinkId") or None
        if instrument is None and not (
            text(params, "settleCoin") or text(params, "baseCoin") or by_id or by_link
        ):
            raise BybitReject(10001, "Missing some parameters that must be filled in, symbol or settleCoin")
        symbol = instrument.id if instrument is not None else None
        # Looked up by id, an order shows in any state (Bybit keeps the recent 500); listed, only
        # the open ones.
        if by_id is not None or by_link is not None:
            orders = [
                o
                for o in self.book.all_orders(symbol)
                if (by_id is None or o.id == by_id)
                and (by_link is None or o.extra.get("orderLinkId") == by_link)
            ]
        else:
            orders = self.book.open_orders(symbol)
        return self._order_list(orders, params, limit=50)

    def _history(self, params: Params) -> Any:
        if text(params, "category") == "spot":
            return self._spot_orders(params, history=True)
        self._linear_category(params)
        instrument = self._instrument(params, required=False)
        orders = [o for o in self.book.all_orders(instrument.id if instrument else None) if not o.is_open]
        if text(params, "orderId"):
            orders = [o for o in orders if o.id == text(params, "orderId")]
        if text(params, "orderLinkId"):
            orders = [o for o in orders if o.extra.get("orderLinkId") == text(params, "orderLinkId")]
        start = _integer(params, "startTime", 0)
        end = _integer(params, "endTime", self._server_ms() + 1)
        orders = [o for o in orders if start <= o.created_ms <= end]
        return self._order_list(orders, params, limit=20)

    def _order_list(self, orders: list[Order], params: Params, *, limit: int) -> Any:
        kinds = text(params, "orderFilter")
        status = text(params, "orderStatus")
        rows = []
        # Newest first, as Bybit lists them.
        for order in sorted(orders, key=lambda o: o.created_ms, reverse=True):
            if not _matches_filter(order, kinds):
                continue
            row = self._reply_order(order, self.book.instruments[order.symbol])
            if status and row["orderStatus"] != status:
                continue
            rows.append(row)
        count = min(_integer(params, "limit", limit), 50)
        return {"category": "linear", "list": rows[:count], "nextPageCursor": ""}

    def _executions(self, params: Params) -> Any:
        self._linear_category(params)
        instrument = self._instrument(params, required=False)
        fills = self.book.fills_for(instrument.id if instrument is not None else None)
        exec_type = text(params, "execType")
        if exec_type not in ("", "Trade"):
            fills = []
        orders = {o.id: o for o in self.book.all_orders(instrument.id if instrument else None)}
        if text(params, "orderId"):
            fills = [f for f in fills if f.order_id == text(params, "orderId")]
        if text(params, "orderLinkId"):
            link = text(params, "orderLinkId")
            fills = [
                f
                for f in fills
                if f.order_id in orders and orders[f.order_id].extra.get("orderLinkId") == link
            ]
        start = _integer(params, "startTime", 0)
        end = _integer(params, "endTime", self._server_ms() + 1)
        numbered = [(seq, f) for seq, f in enumerate(fills, 1) if start <= f.time_ms <= end]
        count = min(_integer(params, "limit", 50), 100)
        rows = [
            payloads.execution(
                fill, orders.get(fill.order_id), self.book.instruments[fill.symbol], self.book, seq
            )
            for seq, fill in reversed(numbered)
        ]
        return {"category": "linear", "list": rows[:count], "nextPageCursor": ""}

    # ------------------------------------------------------------------ positions, settings

    def _positions(self, params: Params) -> Any:
        if text(params, "category") == "inverse":
            # The account holds no inverse contracts, and Bybit lists them without a symbol:
            # ccxt.pro's watch_positions loads both lists before its first update.
            return {"category": "inverse", "list": [], "nextPageCursor": ""}
        self._linear_category(params)
        instrument = self._instrument(params, required=False)
        if instrument is None and not (text(params, "settleCoin") or text(params, "baseCoin")):
            raise BybitReject(10001, "Missing some parameters that must be filled in, symbol or settleCoin")
        if instrument is not None:
            chosen = [instrument]
        else:
            chosen = [self.book.instruments[symbol] for symbol in self.book.positions]
        rows = [self._position_row(i) for i in chosen]
        return {"category": "linear", "list": rows, "nextPageCursor": ""}

    def _position_row(self, instrument: Instrument) -> dict[str, Any]:
        levels = {}
        for which in ("StopLoss", "TakeProfit"):
            orders = self._protection_orders(instrument.id, which)
            trigger = orders[-1].trigger_price if orders else None
            levels[which] = payloads.fmt(trigger, instrument.price_precision) if trigger is not None else ""
        return payloads.position_row(
            self.book, instrument, stop_loss=levels["StopLoss"], take_profit=levels["TakeProfit"]
        )

    def _trading_stop_ticket(
        self, params: Params, instrument: Instrument | None
    ) -> tuple[Intent, OrderTicket | None]:
        position = self._position_qty(instrument)
        stop_loss = _nonzero(text(params, "stopLoss"))
        take_profit = _nonzero(text(params, "takeProfit"))
        trailing = _nonzero(text(params, "trailingStop"))
        if stop_loss is None and take_profit is None and trailing is None:
            return "account", None
        intent: Intent = "take_profit" if stop_loss is None and trailing is None else "stop_loss"
        full = (text(params, "tpslMode") or "Full") == "Full"
        size = text(params, "slSize" if intent == "stop_loss" else "tpSize") or None
        side = "sell" if position > 0 else "buy" if position < 0 else ""
        ticket = OrderTicket(
            side=side,
            order_type="TradingStop",
            amount=None if full else size,
            trigger_price=stop_loss or take_profit or trailing,
            reduce_only=not full,
            close_position=full,
        )
        return intent, ticket

    def _trading_stop(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        position = self.book.positions.get(instrument.id)
        if position is None:
            raise BybitReject(10001, "can not set tp/sl/ts for zero position")
        if _nonzero(text(params, "trailingStop")) is not None:
            raise BybitReject(10001, "params error: trailingStop is not simulated")
        mode = text(params, "tpslMode") or "Full"
        if mode not in ("Full", "Partial"):
            raise BybitReject(10001, "params error: tpslMode invalid")
        mark = self.book.marks[instrument.id]
        long = position.quantity > 0
        placed: Order | None = None
        changed = False
        for field, which in _PROTECTIONS:
            raw = text(params, field)
            if not raw:
                continue
            value = parse_decimal(raw, field)
            if value != 0:
                below = (which == "StopLoss") == long
                if value >= mark if below else value <= mark:
                    where = "lower" if below else "higher"
                    raise BybitReject(
                        10001,
                        f"{which}:{raw} set for {'Buy' if long else 'Sell'} position should be {where} "
                        f"than base_price:{payloads.plain(mark)}??LastPrice",
                    )
            current = self._protection_orders(instrument.id, which)
            if mode == "Full" and (
                (value == 0 and not current) or (current and current[-1].trigger_price == value)
            ):
                continue
            size_key = "slSize" if which == "StopLoss" else "tpSize"
            size = None
            if mode == "Partial":
                size = parse_decimal(
                    text(params, size_key) or payloads.plain(abs(position.quantity)), size_key
                )
            order_type = text(params, "slOrderType" if which == "StopLoss" else "tpOrderType")
            limit = text(params, "slLimitPrice" if which == "StopLoss" else "tpLimitPrice") or None
            order = self._set_protection(
                instrument.id, which, raw, size=size, limit_price=limit if order_type == "Limit" else None
            )
            changed = True
            placed = placed or order
        if not changed:
            raise BybitReject(34040, "not modified")
        return self._ok({}, order_id=placed.id if placed is not None else None)

    def _set_leverage(self, params: Params) -> Any:
        instrument = self._required_instrument(params)
        buy = text(params, "buyLeverage")
        sell = text(params, "sellLeverage")
        if not buy or not sell:
            raise BybitReject(10001, "params error: buyLeverage and sellLeverage are required")
        if not self.book.hedge_mode and buy != sell:
            raise BybitReject(
                10001, "params error: buy leverage must be equal to sell leverage in one-way mode"
            )
        value = parse_decimal(buy, "leverage")
        if value != value.to_integral_value() or value < 1:
            raise BybitReject(10001, f"params error: leverage {buy} invalid")
        leverage = int(value)
        if leverage == self.book.leverage(instrument.id):
            raise BybitReject(110043, "Set leverage not modified")
        try:
            self.book.set_leverage(instrument.id, leverage)
        except InvalidLeverage as error:
            # Bybit quotes leverages in hundredths here.
            asked, allowed = leverage * 100, error.maximum * 100
            raise BybitReject(
                110013, f"cannot set leverage [{asked}] gt maxLeverage [{allowed}] by risk limit"
            ) from None
        except InsufficientMargin:
            raise BybitReject(110044, "Available margin is insufficient") from None
        return {}

    def _switch_mode(self, params: Params) -> Any:
        self._linear_category(params)
        mode = text(params, "mode")
        if mode not in ("0", "3"):
            raise BybitReject(10001, "params error: mode invalid")
        if not text(params, "symbol") and not text(params, "coin"):
            raise BybitReject(10001, "params error: symbol or coin is required")
        self.book.set_hedge_mode(mode == "3")
        return {}

    def _set_margin_mode(self, params: Params) -> Any:
        wanted = text(params, "setMarginMode")
        modes: dict[str, Literal["cross", "isolated"]] = {
            "REGULAR_MARGIN": "cross",
            "ISOLATED_MARGIN": "isolated",
            "PORTFOLIO_MARGIN": "cross",
        }
        if wanted not in modes:
            raise BybitReject(10001, "params error: setMarginMode invalid")
        for instrument_id in self.book.instruments:
            try:
                self.book.set_margin_mode(instrument_id, modes[wanted])
            except NoChangeNeeded:
                continue
        self.margin_mode = wanted
        return {"reasons": []}


def _integer(params: Params, name: str, default: int) -> int:
    raw = text(params, name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise BybitReject(10001, f"params error: {name} invalid") from None


def _nonzero(raw: str) -> str | None:
    if not raw:
        return None
    try:
        return raw if parse_decimal(raw, "price") != 0 else None
    except BookError:
        return raw


def _check_direction(direction: Literal[1, 2], trigger: Decimal, mark: Decimal) -> None:
    if direction == 1 and trigger <= mark:
        raise BybitReject(
            110092, f"expect Rising, but trigger_price[{trigger}] <= current[{mark}]??LastPrice"
        )
    if direction == 2 and trigger >= mark:
        raise BybitReject(
            110093, f"expect Falling, but trigger_price[{trigger}] >= current[{mark}]??LastPrice"
        )


def _named_instrument(listing: Listing, params: Params, *, required: bool) -> Instrument | None:
    """The instrument a request's ``symbol`` names in ``listing``; None when it names none and
    none is ``required``."""
    symbol = text(params, "symbol")
    if not symbol:
        if required:
            raise BybitReject(10001, "params error: symbol invalid")
        return None
    instrument = listing.instruments.get(symbol)
    if instrument is None:
        raise BybitReject(10001, "Not supported symbols")
    return instrument


def _spot_filter(order: Order) -> str:
    return order.extra.get("orderFilter", "Order") or "Order"


def _matches_filter(order: Order, kinds: str) -> bool:
    if kinds == "StopOrder":
        return order.conditional
    if kinds == "Order":
        return not order.conditional
    if kinds == "tpslOrder":
        return order.extra.get("stopOrderType", "") in payloads.PROTECTION_TYPES
    return kinds == ""


_V = BybitVenue
# What a spot account can do here (``category=spot``); anything else for spot is refused.
_SPOT_ROUTES = frozenset(
    {
        ("GET", "/v5/market/instruments-info"),
        ("GET", "/v5/market/tickers"),
        ("POST", "/v5/order/create"),
        ("POST", "/v5/order/cancel"),
        ("POST", "/v5/order/cancel-all"),
        ("GET", "/v5/order/realtime"),
        ("GET", "/v5/order/history"),
        ("GET", "/v5/account/wallet-balance"),
    }
)
# Categories the venue lists (so ccxt loads them) but does not trade.
_TRADING_PATHS = ("/v5/order/", "/v5/position/", "/v5/execution/")
_ROUTES: Mapping[tuple[str, str], _Route] = {
    # market data, and the coin list ccxt loads with the markets
    ("GET", "/v5/market/time"): _Route(_V._time, "market_data", False),
    ("GET", "/v5/market/instruments-info"): _Route(_V._instruments_info, "market_data", False),
    ("GET", "/v5/market/tickers"): _Route(_V._tickers, "market_data", False),
    ("GET", "/v5/market/orderbook"): _Route(_V._orderbook, "market_data", False),
    ("GET", "/v5/market/kline"): _Route(_V._kline, "market_data", False),
    ("GET", "/v5/market/mark-price-kline"): _Route(_V._kline, "market_data", False),
    ("GET", "/v5/market/index-price-kline"): _Route(_V._kline, "market_data", False),
    ("GET", "/v5/market/risk-limit"): _Route(_V._risk_limit, "market_data", False),
    ("GET", "/v5/asset/coin/query-info"): _Route(_V._coins, "market_data", True),
    # account type checks and balances
    ("GET", "/v5/user/query-api"): _Route(_V._query_api, "account", True),
    ("GET", "/v5/account/info"): _Route(_V._account_info, "account", True),
    ("GET", "/v5/account/wallet-balance"): _Route(_V._wallet_balance, "account", True),
    ("GET", "/v5/account/fee-rate"): _Route(_V._fee_rate, "account", True),
    # orders
    ("POST", "/v5/order/create"): _Route(_V._create_order, None, True),
    ("POST", "/v5/order/create-batch"): _Route(_V._create_batch, None, True),
    ("POST", "/v5/order/amend"): _Route(_V._amend_order, "other", True),
    ("POST", "/v5/order/cancel"): _Route(_V._cancel_order, "cancel", True),
    ("POST", "/v5/order/cancel-all"): _Route(_V._cancel_all, "cancel", True),
    ("GET", "/v5/order/realtime"): _Route(_V._realtime, "account", True),
    ("GET", "/v5/order/history"): _Route(_V._history, "account", True),
    ("GET", "/v5/execution/list"): _Route(_V._executions, "account", True),
    # positions and settings
    ("GET", "/v5/position/list"): _Route(_V._positions, "account", True),
    ("POST", "/v5/position/trading-stop"): _Route(_V._trading_stop, None, True),
    ("POST", "/v5/position/set-leverage"): _Route(_V._set_leverage, "account", True),
    ("POST", "/v5/position/switch-mode"): _Route(_V._switch_mode, "account", True),
    ("POST", "/v5/account/set-margin-mode"): _Route(_V._set_margin_mode, "account", True),
}
