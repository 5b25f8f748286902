"""The simulated Binance USD-M venue against real, unmodified ccxt (only the socket is replaced)."""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import ccxt
import ccxt.async_support as ccxt_async
import pytest
import pytest_asyncio
from venue_harness import Recorder, attach, context

from pytest_exchange_chaos.venues import _binance_payloads as payloads
from pytest_exchange_chaos.venues._book import Book
from pytest_exchange_chaos.venues._errors import ReduceOnlyRejected
from pytest_exchange_chaos.venues._instruments import INSTRUMENTS
from pytest_exchange_chaos.venues._records import OrderRequest
from pytest_exchange_chaos.venues.base import ExchangeRequest
from pytest_exchange_chaos.venues.binance import BinanceUsdmVenue

BTC = "BTC/USDT:USDT"
KEYS = {"apiKey": "test-key-0123456789", "secret": "test-secret-abcdef"}
# ccxt sends stops to /fapi/v1/algoOrder since Binance's December 2025 change; the oldest ccxt
# the project supports (4.5.0) still sends them to /fapi/v1/order. The venue serves both.
ALGO_STOPS = "fapiPrivatePostAlgoOrder" in inspect.getsource(ccxt.binance.create_order)
STOP_ENDPOINT = "POST /fapi/v1/algoOrder" if ALGO_STOPS else "POST /fapi/v1/order"
TRIGGER: dict[str, Any] = {"trigger": True} if ALGO_STOPS else {}


@dataclass
class Env:
    exchange: Any
    venue: BinanceUsdmVenue
    recorder: Recorder


async def _open(config: dict[str, Any] | None = None, *, cls: Any = None, venue: Any = None) -> Env:
    venue = venue or BinanceUsdmVenue(context())
    exchange = (cls or ccxt_async.binanceusdm)({**KEYS, "enableRateLimit": False, **(config or {})})
    return Env(exchange, venue, attach(exchange, venue))


@pytest_asyncio.fixture
async def env() -> AsyncIterator[Env]:
    opened = await _open()
    try:
        await opened.exchange.load_markets()
        opened.recorder.clear()
        yield opened
    finally:
        await opened.exchange.close()


async def _long(env: Env, amount: float = 0.01) -> dict[str, Any]:
    return await env.exchange.create_order(BTC, "market", "buy", amount)  # type: ignore[no-any-return]


def _form_body(request: ExchangeRequest) -> dict[str, str]:
    return dict(item.split("=") for item in request.body.decode().split("&"))


# --------------------------------------------------------------------------- loading markets


@pytest.mark.asyncio
async def test_load_markets_with_keys_fetches_coins_margin_pairs_and_exchange_info() -> None:
    env = await _open()
    try:
        markets = await env.exchange.load_markets()
    finally:
        await env.exchange.close()
    assert env.recorder.endpoints == [
        "GET /sapi/v1/capital/config/getall",
        "GET /sapi/v1/margin/allPairs",
        "GET /fapi/v1/exchangeInfo",
    ]
    assert env.recorder.urls[0].startswith("https://api.binance.com/sapi/v1/capital/config/getall?")
    assert all(item.call.intent == "market_data" for item in env.recorder.exchanges)
    assert {i.symbol for i in INSTRUMENTS} <= set(markets)
    btc = markets[BTC]
    assert btc["swap"]
    assert btc["linear"]
    assert btc["active"]
    assert btc["id"] == "BTCUSDT"
    assert {k: btc["precision"][k] for k in ("amount", "price")} == {"amount": 0.001, "price": 0.1}
    assert btc["limits"]["amount"] == {"min": 0.001, "max": 1000.0}
    assert btc["limits"]["market"] == {"min": 0.001, "max": 120.0}
    assert btc["limits"]["cost"]["min"] == 100.0
    doge = markets["DOGE/USDT:USDT"]
    assert doge["precision"]["price"] == 0.00001
    assert int(doge["info"]["pricePrecision"]) == 6
    assert markets["TOSHI/USDT:USDT"]["precision"]["price"] == 1e-07
    assert markets["PROM/USDT:USDT"]["precision"]["amount"] == 0.01
    assert env.exchange.currencies["USDT"]["id"] == "USDT"
    assert env.exchange.amount_to_precision("XRP/USDT:USDT", 12.3456) == "12.3"


@pytest.mark.asyncio
async def test_fetch_time_and_balance(env: Env) -> None:
    server = await env.exchange.fetch_time()
    assert abs(server - time.time() * 1000) < 5_000
    balance = await env.exchange.fetch_balance()
    assert env.recorder.endpoints[-1] == "GET /fapi/v3/account"
    assert env.recorder.exchanges[-1].call.intent == "account"
    assert balance["USDT"] == {"free": 10000.0, "used": 0.0, "total": 10000.0}


# --------------------------------------------------------------------------- orders


@pytest.mark.asyncio
async def test_market_entry_fills_at_the_mark(env: Env) -> None:
    order = await _long(env)
    exchange = env.recorder.last("POST /fapi/v1/order")
    assert "newOrderRespType=RESULT" in exchange.request.body.decode()
    assert exchange.call.intent == "entry"
    assert exchange.call.order is not None
    assert exchange.call.order.amount == "0.01"
    assert exchange.reply.order_id == order["id"]
    assert order["status"] == "closed"
    assert order["filled"] == 0.01
    assert order["average"] == 60000.0
    assert order["cost"] == 600.0
    assert order["clientOrderId"].startswith("x-cvBPrNm9")
    [position] = env.venue.positions()
    assert (position.symbol, position.side, position.contracts, position.entry_price) == (
        BTC,
        "long",
        0.01,
        60000,
    )
    balance = await env.exchange.fetch_balance()
    # 600 notional at the default 20x: 30 USDT of margin; 0.30 USDT taker fee.
    assert balance["USDT"]["total"] == pytest.approx(9999.7)
    assert balance["USDT"]["used"] == pytest.approx(30.0)


@pytest.mark.asyncio
async def test_limit_entry_rests_then_fills_when_the_price_comes_down(env: Env) -> None:
    order = await env.exchange.create_order(BTC, "limit", "buy", 0.01, 59000)
    assert order["status"] == "open"
    assert order["price"] == 59000.0
    [listed] = await env.exchange.fetch_open_orders(BTC)
    assert listed["id"] == order["id"]
    assert listed["type"] == "limit"
    assert [view.intent for view in env.venue.open_orders(BTC)] == ["entry"]
    env.venue.set_price(BTC, 58500)
    fetched = await env.exchange.fetch_order(order["id"], BTC)
    assert fetched["status"] == "closed"
    assert fetched["average"] == 59000.0
    [position] = await env.exchange.fetch_positions([BTC])
    assert position["entryPrice"] == 59000.0
    assert position["contracts"] == 0.01
    assert await env.exchange.fetch_open_orders(BTC) == []


@pytest.mark.asyncio
async def test_reduce_only_exit_realises_pnl(env: Env) -> None:
    await _long(env)
    env.venue.set_price(BTC, 61000)
    await env.exchange.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})
    assert env.recorder.last("POST /fapi/v1/order").call.intent == "exit"
    assert env.venue.positions() == []
    balance = await env.exchange.fetch_balance()
    assert balance["USDT"]["total"] == pytest.approx(10000 + 10 - 0.30 - 0.305)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("order_type", "params"),
    [
        ("market", {"stopLossPrice": 55000}),
        ("STOP_MARKET", {"triggerPrice": 55000}),
        ("market", {"triggerPrice": 55000}),
    ],
)
async def test_stop_loss_goes_to_the_algo_endpoint(env: Env, order_type: str, params: dict[str, Any]) -> None:
    await _long(env)
    stop = await env.exchange.create_order(
        BTC, order_type, "sell", 0.01, None, {**params, "reduceOnly": True}
    )
    exchange = env.recorder.last(STOP_ENDPOINT)
    body = _form_body(exchange.request)
    assert body["type"] == "STOP_MARKET"
    assert body["reduceOnly"] == "true"
    if ALGO_STOPS:
        assert body["algoType"] == "CONDITIONAL"
        assert body["triggerPrice"] == "55000"
        client_id = body["clientAlgoId"]
        # ccxt 4.5 lists algo orders only when asked for trigger orders.
        assert await env.exchange.fetch_open_orders(BTC) == []
    else:
        assert body["stopPrice"] == "55000"
        client_id = body["newClientOrderId"]
    assert exchange.call.intent == "stop_loss"
    assert exchange.call.order is not None
    assert exchange.call.order.trigger_price == "55000"
    assert exchange.call.order.client_order_id == client_id
    assert exchange.reply.order_id == stop["id"]
    assert stop["status"] == "open"
    assert stop["triggerPrice"] == 55000.0
    assert stop["reduceOnly"] is True
    [listed] = await env.exchange.fetch_open_orders(BTC, None, None, TRIGGER)
    if ALGO_STOPS:
        assert env.recorder.endpoints[-1] == "GET /fapi/v1/openAlgoOrders"
    assert listed["id"] == stop["id"]
    assert listed["clientOrderId"] == client_id
    [view] = env.venue.open_orders()
    assert (view.intent, view.type, view.trigger_price, view.reduce_only) == (
        "stop_loss",
        "stop_market",
        55000,
        True,
    )


@pytest.mark.asyncio
async def test_take_profit_and_close_position_stops(env: Env) -> None:
    await _long(env)
    take_profit = await env.exchange.create_order(
        BTC, "market", "sell", 0.01, None, {"takeProfitPrice": 65000, "reduceOnly": True}
    )
    assert env.recorder.last(STOP_ENDPOINT).call.intent == "take_profit"
    assert take_profit["triggerPrice"] == 65000.0
    stop = await env.exchange.create_order(
        BTC, "market", "sell", None, None, {"stopLossPrice": 54000, "closePosition": True}
    )
    ticket = env.recorder.last(STOP_ENDPOINT).call.order
    assert ticket is not None
    assert ticket.close_position
    assert ticket.amount is None
    intents = {view.id: view.intent for view in env.venue.open_orders(BTC)}
    assert intents == {take_profit["id"]: "take_profit", stop["id"]: "stop_loss"}
    # The take-profit closes the position; Binance then expires the protective stop.
    env.venue.set_price(BTC, 65500)
    assert env.venue.positions() == []
    assert env.venue.open_orders() == []
    done = await env.exchange.fetch_order(take_profit["id"], BTC, TRIGGER)
    assert done["status"] == "closed"
    if ALGO_STOPS:
        assert env.recorder.endpoints[-1] == "GET /fapi/v1/algoOrder"
        assert done["info"]["algoStatus"] == "FINISHED"
    expired = await env.exchange.fetch_order(stop["id"], BTC, TRIGGER)
    assert expired["status"] == "expired"


@pytest.mark.asyncio
async def test_legacy_stop_market_on_the_order_endpoint(env: Env) -> None:
    await _long(env)
    raw = await env.exchange.fapiPrivatePostOrder(
        {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "type": "STOP_MARKET",
            "stopPrice": "55000",
            "closePosition": "true",
        }
    )
    exchange = env.recorder.last("POST /fapi/v1/order")
    assert exchange.call.intent == "stop_loss"
    assert exchange.call.order is not None
    assert exchange.call.order.order_type == "STOP_MARKET"
    assert exchange.call.order.close_position
    assert raw["type"] == "STOP_MARKET"
    assert raw["stopPrice"] == "55000.00"
    assert raw["status"] == "NEW"
    [listed] = await env.exchange.fetch_open_orders(BTC)
    assert listed["id"] == str(raw["orderId"])
    assert listed["triggerPrice"] == 55000.0
    assert listed["type"] in ("market", "stop_market")  # ccxt 4.5.90 unifies the type
    env.venue.set_price(BTC, 54900)
    assert env.venue.positions() == []
    fetched = await env.exchange.fetch_order(str(raw["orderId"]), BTC)
    assert fetched["status"] == "closed"
    assert fetched["filled"] == 0.01
    assert fetched["average"] == 54900.0


@pytest.mark.asyncio
async def test_legacy_stops_can_be_refused_like_binance_does_now() -> None:
    venue = BinanceUsdmVenue(context(), legacy_conditional_orders=False)
    env = await _open(venue=venue)
    try:
        await env.exchange.load_markets()
        await _long(env)
        # ccxt 4.5.90 maps -4120 to InvalidOrder; older ccxt knows no such code.
        with pytest.raises(ccxt.ExchangeError, match="-4120"):
            await env.exchange.fapiPrivatePostOrder(
                {
                    "symbol": "BTCUSDT",
                    "side": "SELL",
                    "type": "STOP_MARKET",
                    "stopPrice": "55000",
                    "quantity": "0.01",
                }
            )
    finally:
        await env.exchange.close()


@pytest.mark.asyncio
async def test_fetch_order_by_id_and_by_client_order_id(env: Env) -> None:
    order = await env.exchange.create_order(BTC, "limit", "buy", 0.01, 59000, {"clientOrderId": "my-entry-1"})
    by_id = await env.exchange.fetch_order(order["id"], BTC)
    by_client = await env.exchange.fetch_order(None, BTC, {"clientOrderId": "my-entry-1"})
    assert "origClientOrderId=my-entry-1" in env.recorder.last("GET /fapi/v1/order").request.url
    assert by_id["id"] == by_client["id"] == order["id"]
    assert by_client["clientOrderId"] == "my-entry-1"
    assert by_client["status"] == "open"
    assert env.recorder.last("GET /fapi/v1/order").call.intent == "account"


@pytest.mark.asyncio
async def test_cancel_regular_and_algo_orders(env: Env) -> None:
    await _long(env)
    limit = await env.exchange.create_order(BTC, "limit", "buy", 0.01, 59000)
    stop = await env.exchange.create_order(
        BTC, "market", "sell", 0.01, None, {"stopLossPrice": 55000, "reduceOnly": True}
    )
    cancelled = await env.exchange.cancel_order(limit["id"], BTC)
    assert env.recorder.last("DELETE /fapi/v1/order").call.intent == "cancel"
    assert cancelled["status"] == "canceled"
    cancelled_stop = await env.exchange.cancel_order(stop["id"], BTC, TRIGGER)
    assert env.recorder.exchanges[-1].call.intent == "cancel"
    assert env.recorder.exchanges[-1].request.path == (
        "/fapi/v1/algoOrder" if ALGO_STOPS else "/fapi/v1/order"
    )
    assert cancelled_stop["id"] == stop["id"]
    assert env.venue.open_orders() == []
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        await env.exchange.cancel_order(limit["id"], BTC)
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        await env.exchange.cancel_order(stop["id"], BTC, TRIGGER)


@pytest.mark.asyncio
async def test_batch_orders_and_cancel_all(env: Env) -> None:
    orders = await env.exchange.create_orders(
        [
            {"symbol": BTC, "type": "limit", "side": "buy", "amount": 0.01, "price": 58000},
            {"symbol": BTC, "type": "limit", "side": "buy", "amount": 0.01, "price": 57000},
        ]
    )
    assert env.recorder.last("POST /fapi/v1/batchOrders").call.intent == "entry"
    assert [o["status"] for o in orders] == ["open", "open"]
    cancelled = await env.exchange.cancel_orders([orders[0]["id"]], BTC)
    assert env.recorder.last("DELETE /fapi/v1/batchOrders").call.intent == "cancel"
    assert cancelled[0]["status"] == "canceled"
    await env.exchange.cancel_all_orders(BTC)
    assert env.venue.open_orders() == []


@pytest.mark.asyncio
async def test_fetch_positions_loads_brackets_first(env: Env) -> None:
    await env.exchange.create_order(BTC, "market", "sell", 0.02)
    positions = await env.exchange.fetch_positions()
    assert env.recorder.endpoints[-2:] == ["GET /fapi/v1/leverageBracket", "GET /fapi/v3/positionRisk"]
    [position] = positions
    assert position["symbol"] == BTC
    assert position["side"] == "short"
    assert position["contracts"] == 0.02
    assert position["entryPrice"] == 60000.0
    assert position["notional"] == 1200.0
    assert position["maintenanceMarginPercentage"] == 0.004
    assert position["liquidationPrice"] is not None
    assert position["liquidationPrice"] > 60000
    await env.exchange.fetch_positions()
    assert env.recorder.endpoints.count("GET /fapi/v1/leverageBracket") == 1


@pytest.mark.asyncio
async def test_set_leverage_changes_the_margin(env: Env) -> None:
    response = await env.exchange.set_leverage(10, BTC)
    assert env.recorder.last("POST /fapi/v1/leverage").call.intent == "account"
    assert int(response["leverage"]) == 10
    assert response["symbol"] == "BTCUSDT"
    await _long(env)
    [position] = await env.exchange.fetch_positions([BTC])
    assert position["initialMargin"] == pytest.approx(60.0)
    with pytest.raises(ccxt.BadRequest, match="-4028"):
        await env.exchange.set_leverage(50, "TAC/USDT:USDT")


@pytest.mark.asyncio
async def test_price_move_triggers_the_stop_and_balances_agree(env: Env) -> None:
    await _long(env, 0.1)
    stop = await env.exchange.create_order(
        BTC, "market", "sell", 0.1, None, {"stopLossPrice": 57000, "reduceOnly": True}
    )
    env.venue.set_price(BTC, 58000)
    assert len(env.venue.positions()) == 1
    env.venue.set_price(BTC, 56900)
    assert env.venue.positions() == []
    assert await env.exchange.fetch_positions() == []
    triggered = await env.exchange.fetch_order(stop["id"], BTC, TRIGGER)
    assert triggered["status"] == "closed"
    # An algo order places a new order when it triggers; a legacy stop fills itself.
    child_id = triggered["info"]["actualOrderId"] if ALGO_STOPS else stop["id"]
    trades = await env.exchange.fetch_my_trades(BTC)
    assert [t["side"] for t in trades] == ["buy", "sell"]
    assert trades[1]["order"] == child_id
    assert trades[1]["price"] == 56900.0
    realized = (56900 - 60000) * 0.1
    fees = sum(t["fee"]["cost"] for t in trades)
    assert fees == pytest.approx(6000 * 0.0005 + 5690 * 0.0005)
    balance = await env.exchange.fetch_balance()
    assert balance["USDT"]["total"] == pytest.approx(10000 + realized - fees)
    assert balance["USDT"]["free"] == pytest.approx(balance["USDT"]["total"])
    incomes = await env.exchange.fapiPrivateGetIncome({"symbol": "BTCUSDT"})
    assert sum(float(row["income"]) for row in incomes) == pytest.approx(realized - fees)


# --------------------------------------------------------------------------- errors


@pytest.mark.asyncio
async def test_errors_map_to_ccxt_exception_classes(env: Env) -> None:
    with pytest.raises(ccxt.InsufficientFunds, match="-2019"):
        await env.exchange.create_order(BTC, "market", "buy", 100)
    with pytest.raises(ccxt.InvalidOrder, match="-2022"):
        await env.exchange.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})
    with pytest.raises(ccxt.InvalidOrder, match="-4164"):
        await env.exchange.create_order(BTC, "market", "buy", 0.001)
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        await env.exchange.fetch_order("123456", BTC)
    with pytest.raises(ccxt.BadRequest, match="-1111"):
        await env.exchange.fapiPrivatePostOrder(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.0105"}
        )
    with pytest.raises(ccxt.BadRequest, match="-4014"):
        await env.exchange.fapiPrivatePostOrder(
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "quantity": "0.01",
                "price": "59000.05",
                "timeInForce": "GTC",
            }
        )
    with pytest.raises(ccxt.BadSymbol, match="-1121"):
        await env.exchange.fapiPrivatePostOrder(
            {"symbol": "NOPEUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}
        )
    await _long(env)
    with pytest.raises(ccxt.OrderImmediatelyFillable, match="-2021"):
        await env.exchange.create_order(
            BTC, "market", "sell", 0.01, None, {"stopLossPrice": 61000, "reduceOnly": True}
        )
    for code in (ccxt.InvalidOrder,):
        assert issubclass(code, ccxt.ExchangeError)


@pytest.mark.asyncio
async def test_duplicate_client_order_id_only_among_open_orders(env: Env) -> None:
    await env.exchange.create_order(BTC, "limit", "buy", 0.01, 59000, {"clientOrderId": "entry-7"})
    with pytest.raises(ccxt.InvalidOrder, match="-4116") as raised:
        await env.exchange.create_order(BTC, "limit", "buy", 0.01, 59000, {"clientOrderId": "entry-7"})
    assert type(raised.value) is ccxt.InvalidOrder
    # A filled order's client id is free again, as Binance documents.
    await env.exchange.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "filled-1"})
    await env.exchange.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "filled-1"})
    await env.exchange.create_order(
        BTC,
        "market",
        "sell",
        0.02,
        None,
        {"stopLossPrice": 50000, "clientOrderId": "sl-1", "reduceOnly": True},
    )
    with pytest.raises(ccxt.InvalidOrder, match="-4116"):
        await env.exchange.create_order(
            BTC,
            "market",
            "sell",
            0.02,
            None,
            {"stopLossPrice": 50000, "clientOrderId": "sl-1", "reduceOnly": True},
        )


@pytest.mark.asyncio
async def test_timestamp_outside_recv_window_is_invalid_nonce(env: Env) -> None:
    env.exchange.options["timeDifference"] = 60_000
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        await env.exchange.fetch_balance()


def _signed(method: str, path: str, params: dict[str, str], *, key: bool = True) -> ExchangeRequest:
    headers = {"X-MBX-APIKEY": "k"} if key else {}
    url = f"https://fapi.binance.com{path}"
    query = urlencode(params)
    if method in ("GET", "DELETE"):
        return ExchangeRequest(method, f"{url}?{query}", headers)
    return ExchangeRequest(
        method, url, {**headers, "Content-Type": "application/x-www-form-urlencoded"}, query.encode()
    )


def _stamp(**params: str) -> dict[str, str]:
    return {**params, "timestamp": str(int(time.time() * 1000)), "recvWindow": "5000", "signature": "ab" * 32}


def test_authentication_is_required_but_signatures_are_not_verified() -> None:
    venue = BinanceUsdmVenue(context())
    for request, code, status in [
        (_signed("GET", "/fapi/v3/account", _stamp(), key=False), -2014, 401),
        (_signed("GET", "/fapi/v3/account", {"timestamp": str(int(time.time() * 1000))}), -1102, 400),
        (_signed("GET", "/fapi/v3/account", {"signature": "ab"}), -1102, 400),
    ]:
        reply = venue.execute(request, venue.classify(request))
        assert (reply.status, reply.accepted, reply.error_code) == (status, False, code)
        assert json.loads(reply.body)["code"] == code
    ok = _signed("GET", "/fapi/v3/account", _stamp())
    assert venue.execute(ok, venue.classify(ok)).status == 200


def test_unknown_paths_answer_404_like_binance() -> None:
    venue = BinanceUsdmVenue(context())
    for request in [
        ExchangeRequest("GET", "https://fapi.binance.com/fapi/v1/doesNotExist"),
        ExchangeRequest("GET", "https://api.binance.com/fapi/v1/exchangeInfo"),
        ExchangeRequest("POST", "https://fapi.binance.com/fapi/v1/time"),
    ]:
        call = venue.classify(request)
        reply = venue.execute(request, call)
        assert call.intent == "other"
        assert (reply.status, reply.accepted, reply.headers["Content-Type"]) == (404, False, "text/html")


@pytest.mark.asyncio
async def test_unknown_endpoint_through_ccxt(env: Env) -> None:
    with pytest.raises(ccxt.ExchangeNotAvailable, match="404"):
        await env.exchange.fetch("https://fapi.binance.com/fapi/v1/doesNotExist")


def test_error_reply_for_injected_faults() -> None:
    venue = BinanceUsdmVenue(context())
    reply = venue.error_reply(-1007, "Timeout waiting for response from backend server.")
    assert (reply.status, reply.accepted, reply.error_code) == (408, False, -1007)
    assert json.loads(reply.body) == {
        "code": -1007,
        "msg": "Timeout waiting for response from backend server.",
    }
    assert venue.error_reply(-2019, "Margin is insufficient.").status == 400


# --------------------------------------------------------------------------- hosts and flavours


@pytest.mark.asyncio
async def test_testnet_hosts() -> None:
    env = await _open({"options": {"disableFuturesSandboxWarning": True}})
    env.exchange.set_sandbox_mode(True)
    try:
        await env.exchange.load_markets()
        await _long(env)
        await env.exchange.fetch_balance()
    finally:
        await env.exchange.close()
    assert {item.request.host for item in env.recorder.exchanges} == {"testnet.binancefuture.com"}
    assert "GET /sapi/v1/capital/config/getall" not in env.recorder.endpoints
    assert len(env.venue.positions()) == 1


@pytest.mark.asyncio
@pytest.mark.skipif(not hasattr(ccxt.binance, "enable_demo_trading"), reason="ccxt without demo trading")
async def test_demo_hosts() -> None:
    env = await _open()
    env.exchange.enable_demo_trading(True)
    try:
        await env.exchange.load_markets()
        order = await _long(env)
        positions = await env.exchange.fetch_positions()
    finally:
        await env.exchange.close()
    assert {item.request.host for item in env.recorder.exchanges} == {"demo-fapi.binance.com"}
    assert order["status"] == "closed"
    assert len(positions) == 1


@pytest.mark.asyncio
async def test_binance_with_default_type_future_loads_every_market_type() -> None:
    env = await _open({"options": {"defaultType": "future"}}, cls=ccxt_async.binance)
    try:
        markets = await env.exchange.load_markets()
        order = await env.exchange.create_order(BTC, "market", "buy", 0.01)
        stop = await env.exchange.create_order(
            BTC, "market", "sell", 0.01, None, {"stopLossPrice": 55000, "reduceOnly": True}
        )
        balance = await env.exchange.fetch_balance()
    finally:
        await env.exchange.close()
    # fetch_currencies and fetch_markets each ask for the cross-margin pairs.
    assert env.recorder.endpoints[:7] == [
        "GET /sapi/v1/capital/config/getall",
        "GET /sapi/v1/margin/allPairs",
        "GET /api/v3/exchangeInfo",
        "GET /sapi/v1/margin/allPairs",
        "GET /sapi/v1/margin/isolated/allPairs",
        "GET /fapi/v1/exchangeInfo",
        "GET /dapi/v1/exchangeInfo",
    ]
    assert markets["BTC/USDT"]["spot"]
    assert markets["BTC/USD:BTC"]["inverse"]
    assert markets["BTC/USDT"]["margin"] is True
    assert order["status"] == "closed"
    assert stop["status"] == "open"
    assert env.recorder.last(STOP_ENDPOINT).call.intent == "stop_loss"
    assert balance["USDT"]["total"] == pytest.approx(9999.7)


def test_sync_binanceusdm_flow() -> None:
    venue = BinanceUsdmVenue(context())
    exchange = ccxt.binanceusdm({**KEYS, "enableRateLimit": False})
    recorder = attach(exchange, venue)
    exchange.load_markets()
    entry = exchange.create_order(BTC, "market", "buy", 0.01)
    stop = exchange.create_order(
        BTC, "market", "sell", 0.01, None, {"stopLossPrice": 55000, "reduceOnly": True}
    )
    assert entry["status"] == "closed"
    assert stop["status"] == "open"
    assert [o["id"] for o in exchange.fetch_open_orders(BTC, params=TRIGGER)] == [stop["id"]]
    [position] = exchange.fetch_positions()
    assert position["contracts"] == 0.01
    with pytest.raises(ccxt.InvalidOrder, match="-4116"):
        exchange.create_order(
            BTC,
            "market",
            "sell",
            0.01,
            None,
            {"stopLossPrice": 55000, "reduceOnly": True, "clientOrderId": stop["clientOrderId"]},
        )
    with pytest.raises(ccxt.OrderNotFound):
        exchange.fetch_order("1", BTC)
    exchange.cancel_order(stop["id"], BTC, TRIGGER)
    assert venue.open_orders() == []
    assert recorder.exchanges[-1].call.intent == "cancel"


# --------------------------------------------------------------------------- market data, settings


@pytest.mark.asyncio
async def test_market_data_endpoints(env: Env) -> None:
    book = await env.exchange.fetch_order_book(BTC, 5)
    assert book["bids"][0][0] < 60000 <= book["asks"][0][0]
    assert len(book["bids"]) == 5
    ticker = await env.exchange.fetch_ticker(BTC)
    assert ticker["last"] == 60000.0
    tickers = await env.exchange.fetch_tickers([BTC, "ETH/USDT:USDT"])
    assert set(tickers) == {BTC, "ETH/USDT:USDT"}
    bids_asks = await env.exchange.fetch_bids_asks([BTC])
    assert bids_asks[BTC]["bid"] == 59999.9
    env.venue.set_price(BTC, 61000)
    mark = await env.exchange.fetch_mark_price(BTC)
    assert mark["markPrice"] == 61000.0
    candles = await env.exchange.fetch_ohlcv(BTC, "1m", limit=3)
    assert [c[4] for c in candles] == [61000.0] * 3
    funding = await env.exchange.fetch_funding_rate(BTC)
    assert funding["fundingRate"] == 0.0001
    prices = await env.exchange.fetch_last_prices([BTC])
    assert prices[BTC]["price"] == 61000.0
    assert {item.call.intent for item in env.recorder.exchanges} == {"market_data"}


@pytest.mark.asyncio
async def test_account_settings(env: Env) -> None:
    mode = await env.exchange.fetch_position_mode(BTC)
    assert mode["hedged"] is False
    await env.exchange.set_position_mode(True)
    assert (await env.exchange.fetch_position_mode(BTC))["hedged"] is True
    with pytest.raises(ccxt.OperationRejected, match="-4059"):
        await env.exchange.set_position_mode(True)
    await env.exchange.set_position_mode(False)
    await env.exchange.set_margin_mode("isolated", BTC)
    with pytest.raises(ccxt.MarginModeAlreadySet):
        await env.exchange.fapiPrivatePostMarginType({"symbol": "BTCUSDT", "marginType": "ISOLATED"})
    assert await env.exchange.fapiPrivateGetMultiAssetsMargin() == {"multiAssetsMargin": False}
    await env.exchange.fapiPrivatePostMultiAssetsMargin({"multiAssetsMargin": "true"})
    assert await env.exchange.fapiPrivateGetMultiAssetsMargin() == {"multiAssetsMargin": True}
    leverages = await env.exchange.fetch_leverages([BTC])
    assert leverages[BTC]["longLeverage"] == 20
    assert leverages[BTC]["marginMode"] == "isolated"
    fee = await env.exchange.fetch_trading_fee(BTC)
    assert fee["taker"] == 0.0005
    intents = {item.request.endpoint: item.call.intent for item in env.recorder.exchanges}
    assert intents["POST /fapi/v1/positionSide/dual"] == "account"
    assert intents["POST /fapi/v1/marginType"] == "account"
    assert intents["POST /fapi/v1/multiAssetsMargin"] == "account"
    await _long(env)
    with pytest.raises(ccxt.OperationRejected, match="-4048"):
        await env.exchange.set_margin_mode("cross", BTC)


# --------------------------------------------------------------------------- classification


def _order_request(path: str, **params: str) -> ExchangeRequest:
    return _signed("POST", path, _stamp(**params))


@pytest.fixture
def classified() -> Iterator[tuple[BinanceUsdmVenue, BinanceUsdmVenue]]:
    """A venue with a long BTC position, and a twin that will never be classified against."""
    venues = (BinanceUsdmVenue(context(3)), BinanceUsdmVenue(context(3)))
    for venue in venues:
        venue.book.place(OrderRequest("BTCUSDT", "buy", "market", quantity="0.01"))
    return venues


def test_classify_assigns_every_intent_and_changes_nothing(
    classified: tuple[BinanceUsdmVenue, BinanceUsdmVenue],
) -> None:
    venue, twin = classified
    order, algo = "/fapi/v1/order", "/fapi/v1/algoOrder"
    cases: list[tuple[ExchangeRequest, str]] = [
        (_order_request(order, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01"), "entry"),
        (
            _order_request(order, symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01", price="1"),
            "entry",
        ),
        (
            _order_request(
                order, symbol="BTCUSDT", side="SELL", type="MARKET", quantity="1", reduceOnly="true"
            ),
            "exit",
        ),
        (
            _order_request(
                order, symbol="BTCUSDT", side="SELL", type="LIMIT", quantity="1", reduceOnly="true"
            ),
            "exit",
        ),
        (
            _order_request(
                order, symbol="BTCUSDT", side="SELL", type="STOP_MARKET", stopPrice="5", reduceOnly="true"
            ),
            "stop_loss",
        ),
        (
            _order_request(order, symbol="BTCUSDT", side="SELL", type="STOP_MARKET", stopPrice="5"),
            "stop_loss",
        ),
        (_order_request(order, symbol="BTCUSDT", side="BUY", type="STOP_MARKET", stopPrice="7"), "entry"),
        (_order_request(order, symbol="ETHUSDT", side="SELL", type="STOP_MARKET", stopPrice="5"), "entry"),
        (
            _order_request(
                order, symbol="BTCUSDT", side="SELL", type="STOP", stopPrice="5", closePosition="true"
            ),
            "stop_loss",
        ),
        (
            _order_request(
                order, symbol="BTCUSDT", side="SELL", type="TRAILING_STOP_MARKET", callbackRate="1"
            ),
            "stop_loss",
        ),
        (
            _order_request(order, symbol="BTCUSDT", side="SELL", type="TAKE_PROFIT_MARKET", stopPrice="9"),
            "take_profit",
        ),
        (
            _order_request(order, symbol="ETHUSDT", side="SELL", type="TAKE_PROFIT_MARKET", stopPrice="9"),
            "entry",
        ),
        (
            _order_request(
                algo,
                symbol="BTCUSDT",
                side="SELL",
                type="STOP_MARKET",
                triggerPrice="5",
                algoType="CONDITIONAL",
            ),
            "stop_loss",
        ),
        (
            _order_request(
                algo, symbol="ETHUSDT", side="BUY", type="STOP_MARKET", triggerPrice="5", closePosition="true"
            ),
            "stop_loss",
        ),
        (
            _order_request(
                algo, symbol="ETHUSDT", side="BUY", type="TAKE_PROFIT", triggerPrice="5", reduceOnly="true"
            ),
            "take_profit",
        ),
        (
            _order_request(algo, symbol="ETHUSDT", side="BUY", type="TAKE_PROFIT_MARKET", triggerPrice="5"),
            "entry",
        ),
        (
            _order_request(
                "/fapi/v1/batchOrders",
                batchOrders=json.dumps(
                    [
                        {
                            "symbol": "BTCUSDT",
                            "side": "SELL",
                            "type": "MARKET",
                            "quantity": "1",
                            "reduceOnly": "true",
                        }
                    ]
                ),
            ),
            "exit",
        ),
        (_order_request("/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="BOGUS"), "other"),
        (_signed("DELETE", "/fapi/v1/order", _stamp(symbol="BTCUSDT", orderId="1")), "cancel"),
        (_signed("DELETE", "/fapi/v1/algoOrder", _stamp(algoId="1")), "cancel"),
        (_signed("DELETE", "/fapi/v1/allOpenOrders", _stamp(symbol="BTCUSDT")), "cancel"),
        (_signed("DELETE", "/fapi/v1/batchOrders", _stamp(symbol="BTCUSDT", orderIdList="[1]")), "cancel"),
        (ExchangeRequest("GET", "https://fapi.binance.com/fapi/v1/exchangeInfo"), "market_data"),
        (ExchangeRequest("GET", "https://fapi.binance.com/fapi/v1/time"), "market_data"),
        (ExchangeRequest("GET", "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT"), "market_data"),
        (ExchangeRequest("GET", "https://fapi.binance.com/fapi/v1/ticker/24hr"), "market_data"),
        (
            ExchangeRequest("GET", "https://fapi.binance.com/fapi/v1/klines?symbol=BTCUSDT&interval=1m"),
            "market_data",
        ),
        (ExchangeRequest("GET", "https://fapi.binance.com/fapi/v1/premiumIndex"), "market_data"),
        (_signed("GET", "/fapi/v3/account", _stamp()), "account"),
        (_signed("GET", "/fapi/v3/positionRisk", _stamp()), "account"),
        (_signed("GET", "/fapi/v1/leverageBracket", _stamp()), "account"),
        (_signed("POST", "/fapi/v1/leverage", _stamp(symbol="BTCUSDT", leverage="5")), "account"),
        (_signed("GET", "/fapi/v1/openOrders", _stamp()), "account"),
        (_signed("GET", "/fapi/v1/openAlgoOrders", _stamp()), "account"),
        (_signed("GET", "/fapi/v1/order", _stamp(symbol="BTCUSDT", orderId="1")), "account"),
        (_signed("GET", "/fapi/v1/userTrades", _stamp(symbol="BTCUSDT")), "account"),
        (_signed("POST", "/fapi/v1/listenKey", {}), "other"),
        (ExchangeRequest("GET", "https://fapi.binance.com/fapi/v9/nothing"), "other"),
    ]
    spot = ExchangeRequest(
        "GET", "https://api.binance.com/sapi/v1/capital/config/getall?timestamp=1&signature=a"
    )
    cases.append((spot, "market_data"))
    before = (dict(venue.book.orders), dict(venue.book.positions), venue.book.wallet_balance)
    for request, expected in cases:
        call = venue.classify(request)
        assert call.intent == expected, request.url + request.body.decode()
        assert call.venue == "binanceusdm"
        assert call.endpoint == request.endpoint
    assert before == (dict(venue.book.orders), dict(venue.book.positions), venue.book.wallet_balance)
    first = venue.classify(cases[0][0])
    assert first.symbol == BTC
    assert first.order is not None
    assert (first.order.side, first.order.order_type, first.order.amount) == ("buy", "MARKET", "0.01")
    algo_call = venue.classify(cases[12][0])
    assert algo_call.order is not None
    assert algo_call.order.trigger_price == "5"
    # No seeded value was drawn: both venues hand out the same next id.
    request = OrderRequest("ETHUSDT", "buy", "limit", quantity="0.01", price="2000")
    assert venue.book.place(request).id == twin.book.place(request).id


# --------------------------------------------------------------------------- the book itself


def _book() -> Book:
    venue = BinanceUsdmVenue(context())
    return venue.book


def test_book_averages_flips_and_clamps_reduce_only() -> None:
    book = _book()
    book.place(OrderRequest("ETHUSDT", "buy", "market", quantity="1"))
    book.set_mark("ETHUSDT", "3100")
    book.place(OrderRequest("ETHUSDT", "buy", "market", quantity="1"))
    assert book.positions["ETHUSDT"].entry_price == Decimal(3050)
    flip = book.place(OrderRequest("ETHUSDT", "sell", "market", quantity="3"))
    position = book.positions["ETHUSDT"]
    assert position.quantity == Decimal(-1)
    assert position.entry_price == Decimal(3100)
    assert book.fills[-1].realized_pnl == Decimal(100)
    assert flip.status == "filled"
    exit_order = book.place(OrderRequest("ETHUSDT", "buy", "market", quantity="5", reduce_only=True))
    assert exit_order.executed_qty == Decimal(1)
    assert "ETHUSDT" not in book.positions
    with pytest.raises(ReduceOnlyRejected):
        book.place(OrderRequest("ETHUSDT", "buy", "market", quantity="1", reduce_only=True))


def test_book_trailing_stop_follows_the_high() -> None:
    book = _book()
    book.place(OrderRequest("ETHUSDT", "buy", "market", quantity="1"))
    trail = book.place(
        OrderRequest(
            "ETHUSDT", "sell", "trailing_stop_market", quantity="1", reduce_only=True, callback_rate="1"
        )
    )
    book.set_mark("ETHUSDT", "3200")
    book.set_mark("ETHUSDT", "3180")
    assert trail.is_open
    assert book.order_views()[0].trigger_price == pytest.approx(3168)
    book.set_mark("ETHUSDT", "3160")
    assert trail.status == "filled"
    assert "ETHUSDT" not in book.positions


def test_book_stop_limit_rests_after_trigger_and_limits_respect_time_in_force() -> None:
    book = _book()
    book.place(OrderRequest("ETHUSDT", "buy", "market", quantity="1"))
    stop = book.place(
        OrderRequest(
            "ETHUSDT", "sell", "stop", quantity="1", price="2890", trigger_price="2900", reduce_only=True
        )
    )
    book.set_mark("ETHUSDT", "2880")
    assert stop.triggered
    assert stop.is_open
    book.set_mark("ETHUSDT", "2891")
    assert stop.status == "filled"
    assert book.fills[-1].maker
    ioc = book.place(OrderRequest("ETHUSDT", "buy", "limit", quantity="1", price="2000", time_in_force="IOC"))
    assert ioc.status == "expired"


# --------------------------------------------------------------------------- the rest of the API


@pytest.mark.asyncio
async def test_edit_list_and_history_endpoints(env: Env) -> None:
    order = await env.exchange.create_order(BTC, "limit", "buy", 0.01, 59000)
    edited = await env.exchange.edit_order(order["id"], BTC, "limit", "buy", 0.02, 58000)
    assert env.recorder.exchanges[-1].request.endpoint == "PUT /fapi/v1/order"
    assert edited["id"] == order["id"]
    assert (edited["amount"], edited["price"]) == (0.02, 58000.0)
    open_order = await env.exchange.fetch_open_order(order["id"], BTC)
    assert env.recorder.endpoints[-1] == "GET /fapi/v1/openOrder"
    assert open_order["status"] == "open"
    await env.exchange.cancel_order(order["id"], BTC)
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        await env.exchange.fetch_open_order(order["id"], BTC)
    filled = await _long(env)
    history = await env.exchange.fetch_orders(BTC)
    assert env.recorder.endpoints[-1] == "GET /fapi/v1/allOrders"
    assert [o["status"] for o in history] == ["canceled", "closed"]
    trades = await env.exchange.fetch_my_trades(BTC, None, None, {"orderId": filled["id"]})
    assert [t["order"] for t in trades] == [filled["id"]]


@pytest.mark.asyncio
@pytest.mark.skipif(not ALGO_STOPS, reason="ccxt without algo orders")
async def test_algo_history_and_cancel_all(env: Env) -> None:
    await _long(env)
    await env.exchange.create_order(
        BTC, "market", "sell", 0.01, None, {"stopLossPrice": 55000, "reduceOnly": True}
    )
    await env.exchange.create_order(
        BTC, "market", "sell", 0.01, None, {"takeProfitPrice": 65000, "reduceOnly": True}
    )
    await env.exchange.cancel_all_orders(BTC, {"trigger": True})
    assert env.recorder.endpoints[-1] == "DELETE /fapi/v1/algoOpenOrders"
    assert env.venue.open_orders() == []
    history = await env.exchange.fetch_orders(BTC, None, None, {"trigger": True})
    assert env.recorder.endpoints[-1] == "GET /fapi/v1/allAlgoOrders"
    assert [o["status"] for o in history] == ["canceled", "canceled"]


@pytest.mark.asyncio
async def test_v2_account_endpoints_and_ack_responses(env: Env) -> None:
    await _long(env)
    balance = await env.exchange.fetch_balance({"useV2": True})
    assert env.recorder.endpoints[-1] == "GET /fapi/v2/account"
    assert balance["USDT"]["total"] == pytest.approx(9999.7)
    positions = await env.exchange.fetch_positions(None, {"useV2": True})
    assert env.recorder.endpoints[-1] == "GET /fapi/v2/positionRisk"
    [position] = positions
    assert position["leverage"] == 20.0
    assert position["contracts"] == 0.01
    balances = await env.exchange.fapiPrivateV2GetBalance()
    assert balances[0]["asset"] == "USDT"
    # Without newOrderRespType Binance answers ACK: the order as accepted, before it filled.
    ack = await env.exchange.fapiPrivatePostOrder(
        {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}
    )
    assert ack["status"] == "NEW"
    assert ack["executedQty"] == "0.000"
    fetched = await env.exchange.fetch_order(str(ack["orderId"]), "ETH/USDT:USDT")
    assert fetched["status"] == "closed"
    listen = await env.exchange.fapiPrivatePostListenKey()
    assert len(listen["listenKey"]) == 64
    assert env.recorder.exchanges[-1].call.intent == "other"


@pytest.mark.asyncio
async def test_hedge_mode_orders_need_a_position_side(env: Env) -> None:
    await env.exchange.set_position_mode(True)
    with pytest.raises(ccxt.OperationRejected, match="-4061"):
        await _long(env)
    await env.exchange.create_order(BTC, "market", "buy", 0.01, None, {"positionSide": "LONG"})
    await env.exchange.create_order(BTC, "market", "sell", 0.01, None, {"positionSide": "LONG"})
    assert env.venue.positions() == []
    with pytest.raises(ccxt.OperationRejected, match="-4059"):
        await env.exchange.set_position_mode(True)


_LIMIT = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "quantity": "0.01",
    "price": "59000",
    "timeInForce": "GTC",
}
_STOP = {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "stopPrice": "55000"}
_ALGO = {
    "symbol": "BTCUSDT",
    "side": "SELL",
    "type": "STOP_MARKET",
    "triggerPrice": "55000",
    "algoType": "CONDITIONAL",
}


@pytest.mark.parametrize(
    ("method", "path", "params", "code"),
    [
        ("POST", "/fapi/v1/order", {**_LIMIT, "symbol": ""}, -1102),
        ("POST", "/fapi/v1/order", {**_LIMIT, "side": "HOLD"}, -1117),
        ("POST", "/fapi/v1/order", {**_LIMIT, "side": ""}, -1102),
        ("POST", "/fapi/v1/order", {**_LIMIT, "type": ""}, -1102),
        ("POST", "/fapi/v1/order", {**_LIMIT, "type": "BOGUS"}, -1116),
        ("POST", "/fapi/v1/order", {**_LIMIT, "positionSide": "LONG"}, -4061),
        ("POST", "/fapi/v1/order", {**_LIMIT, "timeInForce": ""}, -1102),
        ("POST", "/fapi/v1/order", {**_LIMIT, "timeInForce": "XYZ"}, -1115),
        ("POST", "/fapi/v1/order", {**_LIMIT, "newClientOrderId": "bad id!"}, -4015),
        ("POST", "/fapi/v1/order", {**_LIMIT, "reduceOnly": "maybe"}, -1130),
        ("POST", "/fapi/v1/order", {**_LIMIT, "quantity": "abc"}, -1100),
        ("POST", "/fapi/v1/order", {**_LIMIT, "quantity": "0"}, -4003),
        ("POST", "/fapi/v1/order", {**_LIMIT, "quantity": "0.0005"}, -1111),
        ("POST", "/fapi/v1/order", {**_LIMIT, "quantity": "2000"}, -4005),
        ("POST", "/fapi/v1/order", {**_LIMIT, "type": "MARKET", "quantity": "200"}, -4005),
        ("POST", "/fapi/v1/order", {**_LIMIT, "price": "-1"}, -1130),
        ("POST", "/fapi/v1/order", {**_LIMIT, "price": "59000.123"}, -1111),
        ("POST", "/fapi/v1/order", {**_LIMIT, "price": ""}, -1102),
        ("POST", "/fapi/v1/order", {**_LIMIT, "price": "61000", "timeInForce": "GTX"}, -5022),
        ("POST", "/fapi/v1/order", {**_LIMIT, "timeInForce": "FOK"}, -5021),
        ("POST", "/fapi/v1/order", {**_LIMIT, "quantity": "10", "price": "60000"}, -2019),
        ("POST", "/fapi/v1/order", {**_STOP, "type": "MARKET", "closePosition": "true"}, -4136),
        ("POST", "/fapi/v1/order", {**_STOP, "closePosition": "true", "quantity": "0.01"}, -4137),
        ("POST", "/fapi/v1/order", {**_STOP, "closePosition": "true", "reduceOnly": "true"}, -1106),
        ("POST", "/fapi/v1/order", {**_STOP, "quantity": "0.01", "stopPrice": ""}, -1102),
        ("POST", "/fapi/v1/order", {**_STOP, "quantity": "0.01", "stopPrice": "65000"}, -2021),
        ("POST", "/fapi/v1/order", {**_STOP, "type": "TRAILING_STOP_MARKET", "quantity": "0.01"}, -1102),
        (
            "POST",
            "/fapi/v1/order",
            {**_STOP, "type": "TRAILING_STOP_MARKET", "quantity": "0.01", "callbackRate": "20"},
            -1130,
        ),
        ("POST", "/fapi/v1/algoOrder", {**_ALGO, "algoType": ""}, -1102),
        ("POST", "/fapi/v1/algoOrder", {**_ALGO, "algoType": "VP"}, -1130),
        ("POST", "/fapi/v1/algoOrder", {**_ALGO, "type": "MARKET", "quantity": "0.01"}, -1116),
        ("POST", "/fapi/v1/algoOrder", {**_ALGO, "quantity": "0.01", "reduceOnly": "true"}, -2022),
        ("POST", "/fapi/v1/algoOrder", {**_ALGO, "quantity": "0.01", "triggerPrice": "55000.01"}, -4014),
        ("GET", "/fapi/v1/order", {"symbol": "BTCUSDT"}, -1102),
        ("GET", "/fapi/v1/algoOrder", {"algoId": "1"}, -2013),
        ("GET", "/fapi/v1/allOrders", {}, -1102),
        ("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT"}, -1102),
        ("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": "abc"}, -1100),
        ("POST", "/fapi/v1/marginType", {"symbol": "BTCUSDT"}, -1102),
        ("POST", "/fapi/v1/marginType", {"symbol": "BTCUSDT", "marginType": "FOO"}, -1130),
        ("POST", "/fapi/v1/marginType", {"symbol": "BTCUSDT", "marginType": "CROSSED"}, -4046),
        ("POST", "/fapi/v1/positionSide/dual", {}, -1102),
        ("POST", "/fapi/v1/multiAssetsMargin", {}, -1102),
        ("POST", "/fapi/v1/multiAssetsMargin", {"multiAssetsMargin": "false"}, -4171),
        ("POST", "/fapi/v1/batchOrders", {}, -1102),
        ("POST", "/fapi/v1/batchOrders", {"batchOrders": "not json"}, -1130),
        ("POST", "/fapi/v1/batchOrders", {"batchOrders": json.dumps([_LIMIT] * 6)}, -4082),
        ("DELETE", "/fapi/v1/batchOrders", {"symbol": "BTCUSDT"}, -1102),
        ("DELETE", "/fapi/v1/batchOrders", {"symbol": "BTCUSDT", "orderIdList": "{}"}, -1130),
        ("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "nope"}, -2011),
        ("GET", "/fapi/v1/userTrades", {"symbol": "NOPE"}, -1121),
        ("PUT", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": "1", "side": "BUY"}, -1102),
    ],
)
def test_binance_rejections(method: str, path: str, params: dict[str, str], code: int) -> None:
    venue = BinanceUsdmVenue(context())
    request = _signed(method, path, _stamp(**params))
    reply = venue.execute(request, venue.classify(request))
    assert (reply.error_code, reply.accepted) == (code, False), reply.body
    assert json.loads(reply.body)["code"] == code


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=5000", -4021),
        ("https://fapi.binance.com/fapi/v1/depth", -1102),
        ("https://fapi.binance.com/fapi/v1/depth?symbol=NOPEUSDT", -1121),
        ("https://fapi.binance.com/fapi/v1/klines?symbol=BTCUSDT&interval=7m", -1120),
        ("https://fapi.binance.com/fapi/v1/klines?symbol=BTCUSDT", -1102),
    ],
)
def test_public_rejections(url: str, code: int) -> None:
    venue = BinanceUsdmVenue(context())
    request = ExchangeRequest("GET", url)
    assert venue.execute(request, venue.classify(request)).error_code == code


def test_timestamps_ahead_and_malformed_recv_window() -> None:
    venue = BinanceUsdmVenue(context())
    ahead = _signed(
        "GET", "/fapi/v3/account", {**_stamp(), "timestamp": str(int(time.time() * 1000) + 60_000)}
    )
    reply = venue.execute(ahead, venue.classify(ahead))
    assert reply.error_code == -1021
    assert b"ahead" in reply.body
    malformed = _signed("GET", "/fapi/v3/account", {**_stamp(), "recvWindow": "abc"})
    assert venue.execute(malformed, venue.classify(malformed)).error_code == -1100


def test_public_market_data_without_symbol_and_spot_hosts() -> None:
    venue = BinanceUsdmVenue(context())
    for url, expected in [
        ("https://fapi.binance.com/fapi/v1/fundingRate?symbol=BTCUSDT&limit=3", 3),
        ("https://fapi.binance.com/fapi/v1/trades?symbol=BTCUSDT", 1),
        ("https://fapi.binance.com/fapi/v1/ticker/bookTicker", len(INSTRUMENTS)),
        ("https://fapi.binance.com/fapi/v1/premiumIndex", len(INSTRUMENTS)),
        ("https://testnet.binance.vision/api/v3/exchangeInfo", None),
        ("https://dapi.binance.com/dapi/v1/time", None),
        ("https://fapi.binance.com/fapi/v1/openInterest?symbol=BTCUSDT", None),
        ("https://api.binance.com/sapi/v1/system/status", None),
    ]:
        request = ExchangeRequest("GET", url)
        reply = venue.execute(request, venue.classify(request))
        assert reply.status == 200, url
        if expected is not None:
            assert len(json.loads(reply.body)) == expected


@pytest.mark.parametrize("seed", [0, 1, 7, 2**40 + 3])
def test_generated_client_ids_are_fakers_own_draws_for_the_seed(seed: int) -> None:
    # The venue draws its ids in batches; a seeded test must still see exactly the ids Faker
    # itself would give it (22 characters of letters and digits), order ids interleaved.
    from faker import Faker

    from pytest_exchange_chaos.venues._binance_ids import BinanceIds

    ids = BinanceIds(seed)
    fake = Faker()
    fake.seed_instance(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    fake.random_int(1_000_000_000, 4_000_000_000)  # BinanceIds draws its first algo id first
    for _ in range(40):
        assert ids.client_order_id() == fake.lexify("?" * 22, letters=alphabet)
        assert ids.order_id("BTCUSDT", "algo") is not None
        fake.random_int(1, 400)
    assert ids.listen_key() == fake.lexify("?" * 64, letters=alphabet)


def test_the_new_order_reply_is_the_order_payload_as_compact_json() -> None:
    # order_reply_body() renders order_payload() straight to text for every order placed:
    # the two must answer the same bytes, whatever the order's kind, state and extra fields.
    book = _book()
    book.place(OrderRequest("ETHUSDT", "buy", "market", quantity="1"))
    orders = [
        book.place(OrderRequest("ETHUSDT", "buy", "market", quantity="0.5")),
        book.place(OrderRequest("ETHUSDT", "sell", "limit", quantity="0.25", price="3500.5")),
        book.place(
            OrderRequest(
                "ETHUSDT",
                "sell",
                "stop_market",
                quantity="1",
                trigger_price="2500",
                reduce_only=True,
                extra={"workingType": "MARK_PRICE", "priceProtect": "TRUE", "positionSide": 'B"OTH\u00e9'},
            )
        ),
        book.place(
            OrderRequest(
                "ETHUSDT", "sell", "trailing_stop_market", quantity="1", reduce_only=True, callback_rate="1.5"
            )
        ),
        book.place(
            OrderRequest("BTCUSDT", "buy", "limit", quantity="0.2", price="1000", client_order_id="x-1")
        ),
    ]
    book.cancel("BTCUSDT", order_id=orders[-1].id)
    instruments = book.instruments
    for order in orders:
        for ack in (True, False):
            payload = payloads.order_payload(order, instruments[order.symbol], with_time=False, ack=ack)
            expected = json.dumps(payload, separators=(",", ":")).encode()
            assert payloads.order_reply_body(order, instruments[order.symbol], ack=ack) == expected
