"""The simulated Bybit v5 venue against real, unmodified ccxt: through the harness (only the socket
is replaced) for the unit-level flows, and through the plugin's own transports for the rest."""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import pytest
import pytest_asyncio
from venue_harness import Recorder, attach, context

from pytest_exchange_chaos import Burst, faults
from pytest_exchange_chaos.venues import builtin_venues
from pytest_exchange_chaos.venues._instruments import INSTRUMENTS
from pytest_exchange_chaos.venues.base import ExchangeRequest
from pytest_exchange_chaos.venues.bybit import BybitVenue

BTC = "BTC/USDT:USDT"
KEYS = {"apiKey": "test-key-0123456789", "secret": "test-secret-abcdef"}
CREATE = "POST /v5/order/create"
ACK = {"acknowledged": True}
# ccxt 4.5.0 sends a lone stopLossPrice or takeProfitPrice to the position's own TP/SL
# (POST /v5/position/trading-stop); later ccxt places a conditional order on /v5/order/create.
CONDITIONAL_STOPS = "switchToOco" in inspect.getsource(ccxt.bybit.create_order_request)
# A conditional reduce-only stop below a long, the same request on every ccxt version.
STOP_BELOW = {"triggerDirection": "descending", "reduceOnly": True}


@dataclass
class Env:
    exchange: Any
    venue: BybitVenue
    recorder: Recorder


async def _open(config: dict[str, Any] | None = None, *, venue: BybitVenue | None = None) -> Env:
    venue = venue or BybitVenue(context())
    exchange = ccxt_async.bybit({**KEYS, "enableRateLimit": False, **(config or {})})
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


async def _long(env: Env, amount: float = 0.01, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return await env.exchange.create_order(BTC, "market", "buy", amount, None, params or {})  # type: ignore[no-any-return]


def _body(env: Env, endpoint: str = CREATE) -> dict[str, Any]:
    return json.loads(env.recorder.last(endpoint).request.body)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- loading markets


@pytest.mark.asyncio
async def test_load_markets_with_keys_loads_every_category_and_the_coin_list() -> None:
    env = await _open()
    try:
        markets = await env.exchange.load_markets()
    finally:
        await env.exchange.close()
    assert env.recorder.endpoints[0] == "GET /v5/asset/coin/query-info"
    assert env.recorder.urls[0].startswith("https://api.bybit.com/v5/asset/coin/query-info")
    categories = [item.request.query.get("category") for item in env.recorder.exchanges[1:]]
    assert set(categories) == {"spot", "linear", "inverse", "option"}
    assert categories.count("linear") == 2
    assert any(
        item.request.query.get("status") == "PreLaunch" and item.request.query["category"] == "linear"
        for item in env.recorder.exchanges
    )
    assert all(item.call.intent == "market_data" for item in env.recorder.exchanges)
    assert {i.symbol for i in INSTRUMENTS} <= set(markets)
    btc = markets[BTC]
    assert (btc["swap"], btc["linear"], btc["active"], btc["id"]) == (True, True, True, "BTCUSDT")
    assert {k: btc["precision"][k] for k in ("amount", "price")} == {"amount": 0.001, "price": 0.1}
    assert btc["limits"]["amount"] == {"min": 0.001, "max": 1000.0}
    # ccxt 4.5.0 does not read minNotionalValue.
    assert btc["limits"]["cost"]["min"] == (5.0 if CONDITIONAL_STOPS else None)
    assert btc["limits"]["leverage"]["max"] == 100.0
    assert markets["TOSHI/USDT:USDT"]["precision"]["price"] == 1e-07
    assert markets["BTC/USDT"]["spot"]
    assert markets["BTC/USD:BTC"]["inverse"]
    assert env.exchange.currencies["USDT"]["id"] == "USDT"
    assert env.exchange.amount_to_precision("XRP/USDT:USDT", 12.3456) == "12.3"


@pytest.mark.asyncio
async def test_fetch_time_and_the_unified_account_checks_before_the_balance(env: Env) -> None:
    server = await env.exchange.fetch_time()
    assert abs(server - time.time() * 1000) < 5_000
    balance = await env.exchange.fetch_balance()
    assert env.recorder.endpoints == [
        "GET /v5/market/time",
        "GET /v5/user/query-api",
        "GET /v5/account/info",
        "GET /v5/account/wallet-balance",
    ]
    assert "accountType=UNIFIED" in env.recorder.urls[-1]
    assert {item.call.intent for item in env.recorder.exchanges[1:]} == {"account"}
    assert env.exchange.options["enableUnifiedAccount"] is True
    assert balance["USDT"]["free"] == 10000.0
    assert balance["USDT"]["total"] == 10000.0


# --------------------------------------------------------------------------- orders


@pytest.mark.asyncio
async def test_market_entry_fills_at_the_mark(env: Env) -> None:
    order = await _long(env, params={"clientOrderId": "entry-1"})
    exchange = env.recorder.last(CREATE)
    body = json.loads(exchange.request.body)
    assert body == {
        "symbol": "BTCUSDT",
        "side": "Buy",
        "orderType": "Market",
        "orderLinkId": "entry-1",
        "category": "linear",
        "qty": "0.01",
    }
    for header in ("X-BAPI-API-KEY", "X-BAPI-TIMESTAMP", "X-BAPI-RECV-WINDOW", "X-BAPI-SIGN"):
        assert exchange.request.header(header)
    assert exchange.call.intent == "entry"
    assert exchange.call.symbol == BTC
    assert exchange.call.order is not None
    assert (exchange.call.order.amount, exchange.call.order.client_order_id) == ("0.01", "entry-1")
    assert exchange.reply.order_id == order["id"]
    assert len(order["id"]) == 36 and order["id"].count("-") == 4  # a UUID, like Bybit's
    assert order["clientOrderId"] == "entry-1"
    fetched = await env.exchange.fetch_order(order["id"], BTC, ACK)
    assert (fetched["status"], fetched["filled"], fetched["average"], fetched["cost"]) == (
        "closed",
        0.01,
        60000.0,
        600.0,
    )
    assert fetched["fee"] == {"cost": 0.33, "currency": "USDT"}
    assert fetched["timeInForce"] == "IOC"
    [position] = env.venue.positions()
    assert (position.symbol, position.side, position.contracts, position.entry_price) == (
        BTC,
        "long",
        0.01,
        60000,
    )
    balance = await env.exchange.fetch_balance()
    # 600 notional at Bybit's default 10x: 60 USDT of margin; 0.33 USDT taker fee.
    assert balance["USDT"]["total"] == pytest.approx(9999.67)
    assert balance["USDT"]["used"] == pytest.approx(60.0)


@pytest.mark.asyncio
async def test_limit_entry_rests_then_fills_when_the_price_comes_down(env: Env) -> None:
    order = await env.exchange.create_order(BTC, "limit", "buy", 0.01, 59000)
    assert _body(env)["price"] == "59000"
    [listed] = await env.exchange.fetch_open_orders(BTC)
    assert (listed["id"], listed["type"], listed["status"], listed["price"]) == (
        order["id"],
        "limit",
        "open",
        59000.0,
    )
    assert [view.intent for view in env.venue.open_orders(BTC)] == ["entry"]
    single = await env.exchange.fetch_open_order(order["id"], BTC)
    assert single["id"] == order["id"]
    env.venue.set_price(BTC, 58500)
    fetched = await env.exchange.fetch_order(order["id"], BTC, ACK)
    assert (fetched["status"], fetched["average"]) == ("closed", 59000.0)
    [position] = await env.exchange.fetch_positions([BTC])
    assert (position["entryPrice"], position["contracts"], position["side"]) == (59000.0, 0.01, "long")
    assert await env.exchange.fetch_open_orders(BTC) == []
    [closed] = await env.exchange.fetch_closed_orders(BTC)
    assert env.recorder.endpoints[-1] == "GET /v5/order/history"
    assert closed["id"] == order["id"]


@pytest.mark.asyncio
async def test_reduce_only_exit_realises_pnl(env: Env) -> None:
    await _long(env)
    env.venue.set_price(BTC, 61000)
    await env.exchange.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})
    assert _body(env)["reduceOnly"] is True
    assert env.recorder.last(CREATE).call.intent == "exit"
    assert env.venue.positions() == []
    balance = await env.exchange.fetch_balance()
    assert balance["USDT"]["total"] == pytest.approx(10000 + 10 - 0.33 - 0.3355)
    assert await env.exchange.fetch_positions() == []


@pytest.mark.asyncio
async def test_entry_with_attached_stop_loss_and_take_profit_protects_the_position(env: Env) -> None:
    order = await _long(
        env, params={"stopLoss": {"triggerPrice": 55000}, "takeProfit": {"triggerPrice": 65000}}
    )
    body = _body(env)
    assert (body["stopLoss"], body["takeProfit"]) == ("55000", "65000")
    call = env.recorder.last(CREATE).call
    assert call.intent == "entry"
    assert call.order is not None
    assert call.order.trigger_price is None
    fetched = await env.exchange.fetch_order(order["id"], BTC, ACK)
    assert (fetched["stopLossPrice"], fetched["takeProfitPrice"]) == (55000.0, 65000.0)
    # Bybit lists the position's own stop-loss and take-profit as open conditional orders.
    listed = {o["info"]["stopOrderType"]: o for o in await env.exchange.fetch_open_orders(BTC)}
    assert set(listed) == {"StopLoss", "TakeProfit"}
    stop = listed["StopLoss"]
    assert (stop["side"], stop["triggerPrice"], stop["stopLossPrice"], stop["reduceOnly"]) == (
        "sell",
        55000.0,
        55000.0,
        True,
    )
    assert stop["info"]["closeOnTrigger"] is True
    assert stop["info"]["orderStatus"] == "Untriggered"
    assert listed["TakeProfit"]["takeProfitPrice"] == 65000.0
    triggers = await env.exchange.fetch_open_orders(BTC, None, None, {"trigger": True})
    assert "orderFilter=StopOrder" in env.recorder.urls[-1]
    assert len(triggers) == 2
    views = {view.intent: view for view in env.venue.open_orders(BTC)}
    assert set(views) == {"stop_loss", "take_profit"}
    assert (views["stop_loss"].close_position, views["stop_loss"].side, views["stop_loss"].trigger_price) == (
        True,
        "sell",
        55000.0,
    )
    [position] = await env.exchange.fetch_positions([BTC])
    assert (position["stopLossPrice"], position["takeProfitPrice"]) == (55000.0, 65000.0)
    # The take-profit closes the position; Bybit then deactivates the stop.
    env.venue.set_price(BTC, 65500)
    assert env.venue.positions() == []
    assert env.venue.open_orders() == []
    done = await env.exchange.fetch_order(listed["TakeProfit"]["id"], BTC, ACK)
    assert (done["status"], done["filled"]) == ("closed", 0.01)
    dropped = await env.exchange.fetch_order(stop["id"], BTC, ACK)
    assert (dropped["status"], dropped["info"]["orderStatus"]) == ("canceled", "Deactivated")


@pytest.mark.asyncio
async def test_a_resting_entrys_stop_loss_waits_for_the_fill(env: Env) -> None:
    order = await env.exchange.create_order(BTC, "limit", "buy", 0.01, 59000, {"stopLoss": 57000})
    assert [view.intent for view in env.venue.open_orders(BTC)] == ["entry"]
    env.venue.set_price(BTC, 58900)
    [stop] = env.venue.open_orders(BTC)
    assert (stop.intent, stop.trigger_price, stop.close_position) == ("stop_loss", 57000.0, True)
    assert (await env.exchange.fetch_order(order["id"], BTC, ACK))["status"] == "closed"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "params",
    [
        {"stopLossPrice": 55000},
        {"triggerPrice": 55000, "triggerDirection": "descending", "reduceOnly": True},
    ],
    ids=["stopLossPrice", "triggerPrice"],
)
async def test_conditional_stop_loss(env: Env, params: dict[str, Any]) -> None:
    await _long(env)
    if "stopLossPrice" in params and not CONDITIONAL_STOPS:
        await env.exchange.create_order(BTC, "market", "sell", 0.01, None, params)
        exchange = env.recorder.last("POST /v5/position/trading-stop")
        assert json.loads(exchange.request.body)["stopLoss"] == "55000"
        assert exchange.call.intent == "stop_loss"
        [view] = env.venue.open_orders()
        assert (view.intent, view.trigger_price, view.close_position) == ("stop_loss", 55000, True)
        return
    stop = await env.exchange.create_order(
        BTC, "market", "sell", 0.01, None, {**params, "clientOrderId": "sl-1"}
    )
    body = _body(env)
    assert (body["triggerPrice"], body["triggerDirection"], body["reduceOnly"]) == ("55000", 2, True)
    exchange = env.recorder.last(CREATE)
    assert exchange.call.intent == "stop_loss"
    assert exchange.call.order is not None
    assert (exchange.call.order.trigger_price, exchange.call.order.client_order_id) == ("55000", "sl-1")
    assert exchange.reply.order_id == stop["id"]
    # On a unified account the open-order list includes conditional orders unless filtered.
    [listed] = await env.exchange.fetch_open_orders(BTC)
    assert (listed["id"], listed["clientOrderId"], listed["triggerPrice"], listed["stopLossPrice"]) == (
        stop["id"],
        "sl-1",
        55000.0,
        55000.0,
    )
    assert (listed["status"], listed["reduceOnly"], listed["info"]["stopOrderType"]) == ("open", True, "Stop")
    [view] = env.venue.open_orders()
    assert (view.intent, view.type, view.trigger_price, view.reduce_only) == (
        "stop_loss",
        "stop_market",
        55000,
        True,
    )
    env.venue.set_price(BTC, 54900)
    assert env.venue.positions() == []
    fetched = await env.exchange.fetch_order(stop["id"], BTC, ACK)
    assert (fetched["status"], fetched["average"]) == ("closed", 54900.0)


@pytest.mark.asyncio
async def test_take_profit_and_position_trading_stop(env: Env) -> None:
    await _long(env)
    take_profit = await env.exchange.create_order(
        BTC,
        "market",
        "sell",
        0.01,
        None,
        {"triggerPrice": 65000, "triggerDirection": "ascending", "reduceOnly": True},
    )
    assert _body(env)["triggerDirection"] == 1
    assert env.recorder.last(CREATE).call.intent == "take_profit"
    assert take_profit["id"]
    # Both levels at once go to the position's own TP/SL.
    await env.exchange.create_order(
        BTC, "market", "sell", None, None, {"stopLossPrice": 54000, "takeProfitPrice": 66000}
    )
    exchange = env.recorder.last("POST /v5/position/trading-stop")
    assert json.loads(exchange.request.body).get("tpslMode", "Full") == "Full"
    assert exchange.call.intent == "stop_loss"
    assert exchange.call.order is not None and exchange.call.order.close_position
    intents = sorted(view.intent for view in env.venue.open_orders(BTC))
    # ccxt 4.5.0 sends only the stop-loss of the pair.
    assert intents == ["stop_loss", "take_profit", "take_profit"][: 3 if CONDITIONAL_STOPS else 2]
    with pytest.raises(ccxt.ExchangeError, match="34040"):
        await env.exchange.create_order(
            BTC, "market", "sell", None, None, {"stopLossPrice": 54000, "takeProfitPrice": 66000}
        )


@pytest.mark.asyncio
async def test_cancel_orders(env: Env) -> None:
    await _long(env)
    limit = await env.exchange.create_order(BTC, "limit", "buy", 0.01, 59000)
    stop = await env.exchange.create_order(
        BTC, "market", "sell", 0.01, None, {"triggerPrice": 55000, **STOP_BELOW}
    )
    cancelled = await env.exchange.cancel_order(limit["id"], BTC)
    assert env.recorder.last("POST /v5/order/cancel").call.intent == "cancel"
    assert cancelled["id"] == limit["id"]
    await env.exchange.cancel_order(stop["id"], BTC)
    assert env.venue.open_orders() == []
    assert (await env.exchange.fetch_order(stop["id"], BTC, ACK))["info"]["orderStatus"] == "Deactivated"
    assert (await env.exchange.fetch_order(limit["id"], BTC, ACK))["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound, match="110001"):
        await env.exchange.cancel_order(limit["id"], BTC)
    # Looked up by id, /v5/order/realtime returns recent orders in any state, so ccxt's
    # fetch_open_order hands back the cancelled order rather than raising OrderNotFound.
    assert (await env.exchange.fetch_open_order(limit["id"], BTC))["status"] == "canceled"
    await env.exchange.create_order(BTC, "limit", "buy", 0.01, 58000)
    await env.exchange.cancel_all_orders(BTC)
    assert env.recorder.last("POST /v5/order/cancel-all").call.intent == "cancel"
    assert env.venue.open_orders() == []


@pytest.mark.asyncio
async def test_fetch_positions(env: Env) -> None:
    [flat] = await env.exchange.fetch_positions([BTC])
    assert (flat["contracts"], flat["side"]) == (0.0, None)
    assert await env.exchange.fetch_positions() == []
    assert "settleCoin=USDT" in env.recorder.urls[-1]
    await env.exchange.create_order(BTC, "market", "sell", 0.02)
    [position] = await env.exchange.fetch_positions()
    assert env.recorder.last("GET /v5/position/list").call.intent == "account"
    assert (position["symbol"], position["side"], position["contracts"]) == (BTC, "short", 0.02)
    assert (position["entryPrice"], position["notional"], position["leverage"]) == (60000.0, 1200.0, 10.0)
    assert position["initialMargin"] == pytest.approx(120.0)
    assert position["liquidationPrice"] is not None and position["liquidationPrice"] > 60000


@pytest.mark.asyncio
async def test_set_leverage_and_bybits_leverage_not_modified(env: Env) -> None:
    response = await env.exchange.set_leverage(5, BTC)
    exchange = env.recorder.last("POST /v5/position/set-leverage")
    assert exchange.call.intent == "account"
    assert json.loads(exchange.request.body) == {
        "symbol": "BTCUSDT",
        "buyLeverage": "5",
        "sellLeverage": "5",
        "category": "linear",
    }
    assert str(response["retCode"]) == "0"
    # ccxt maps 110043 to BadRequest and does not swallow it: a bot must.
    with pytest.raises(ccxt.BadRequest, match="110043"):
        await env.exchange.set_leverage(5, BTC)
    with pytest.raises(ccxt.BadRequest, match="110013"):
        await env.exchange.set_leverage(50, "TAC/USDT:USDT")
    await _long(env)
    [position] = await env.exchange.fetch_positions([BTC])
    assert position["initialMargin"] == pytest.approx(120.0)


@pytest.mark.asyncio
async def test_position_mode_margin_mode_and_market_data(env: Env) -> None:
    with pytest.raises(ccxt.NoChange, match="110025"):
        await env.exchange.set_position_mode(False, BTC)
    await env.exchange.set_position_mode(True, BTC)
    assert env.recorder.last("POST /v5/position/switch-mode").call.intent == "account"
    assert env.venue.book.hedge_mode
    await env.exchange.set_margin_mode("isolated", BTC)
    assert env.recorder.last("POST /v5/account/set-margin-mode").call.intent == "account"
    assert env.venue.book.margin_mode(BTC) == "isolated"
    book = await env.exchange.fetch_order_book(BTC, 5)
    assert book["bids"][0][0] < 60000 < book["asks"][0][0]
    ticker = await env.exchange.fetch_ticker(BTC)
    assert (ticker["last"], ticker["markPrice"]) == (60000.0, 60000.0)
    assert len(await env.exchange.fetch_tickers([BTC, "ETH/USDT:USDT"])) == 2
    candles = await env.exchange.fetch_ohlcv(BTC, "1h", limit=3)
    assert [c[4] for c in candles] == [60000.0] * 3
    assert candles[0][0] < candles[-1][0]
    tiers = await env.exchange.fetch_market_leverage_tiers(BTC)
    assert tiers[0]["maxLeverage"] == 100.0
    fee = await env.exchange.fetch_trading_fee(BTC)
    assert (fee["maker"], fee["taker"]) == (0.0002, 0.00055)
    assert {item.call.intent for item in env.recorder.exchanges if "/market/" in item.request.path} == {
        "market_data"
    }


@pytest.mark.asyncio
async def test_batch_orders(env: Env) -> None:
    orders = await env.exchange.create_orders(
        [
            {"symbol": BTC, "type": "limit", "side": "buy", "amount": 0.01, "price": 58000},
            {"symbol": BTC, "type": "limit", "side": "buy", "amount": 0.01, "price": 57000},
        ]
    )
    exchange = env.recorder.last("POST /v5/order/create-batch")
    assert exchange.call.intent == "entry"
    assert exchange.reply.order_id == orders[0]["id"]
    assert len(env.venue.open_orders(BTC)) == 2


@pytest.mark.asyncio
async def test_price_move_triggers_the_stop_and_balances_agree(env: Env) -> None:
    await _long(env, 0.1)
    stop = await env.exchange.create_order(
        BTC, "market", "sell", 0.1, None, {"triggerPrice": 57000, **STOP_BELOW}
    )
    env.venue.set_price(BTC, 58000)
    assert len(env.venue.positions()) == 1
    env.venue.set_price(BTC, 56900)
    assert env.venue.positions() == []
    assert await env.exchange.fetch_positions() == []
    triggered = await env.exchange.fetch_order(stop["id"], BTC, ACK)
    assert triggered["status"] == "closed"
    trades = await env.exchange.fetch_my_trades(BTC)
    assert env.recorder.last("GET /v5/execution/list").call.intent == "account"
    assert sorted(t["side"] for t in trades) == ["buy", "sell"]
    [sell] = [t for t in trades if t["side"] == "sell"]
    assert (sell["order"], sell["price"], sell["takerOrMaker"]) == (stop["id"], 56900.0, "taker")
    realized = (56900 - 60000) * 0.1
    fees = sum(t["fee"]["cost"] for t in trades)
    assert fees == pytest.approx(6000 * 0.00055 + 5690 * 0.00055)
    balance = await env.exchange.fetch_balance()
    assert balance["USDT"]["total"] == pytest.approx(10000 + realized - fees)
    assert balance["USDT"]["free"] == pytest.approx(balance["USDT"]["total"])


# --------------------------------------------------------------------------- errors


@pytest.mark.asyncio
async def test_errors_map_to_ccxt_exception_classes(env: Env) -> None:
    with pytest.raises(ccxt.InsufficientFunds, match="110007"):
        await _long(env, 100)
    with pytest.raises(ccxt.InvalidOrder, match="110017"):
        await env.exchange.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})
    with pytest.raises(ccxt.InvalidOrder, match="110094"):
        await env.exchange.create_order(BTC, "limit", "buy", 0.001, 3000)
    with pytest.raises(ccxt.OrderNotFound, match="110001"):
        await env.exchange.cancel_order("9d1b5c1e-0000-4000-8000-000000000000", BTC)
    with pytest.raises(ccxt.BadRequest, match="10001"):
        await env.exchange.privatePostV5OrderCreate(
            {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": "0.0105"}
        )
    with pytest.raises(ccxt.BadSymbol, match="Not supported symbols"):
        await env.exchange.privatePostV5OrderCreate(
            {"category": "linear", "symbol": "NOPEUSDT", "side": "Buy", "orderType": "Market", "qty": "1"}
        )
    await _long(env)
    with pytest.raises(ccxt.InvalidOrder, match="110093"):
        await env.exchange.create_order(
            BTC, "market", "sell", 0.01, None, {"triggerPrice": 61000, **STOP_BELOW}
        )
    with pytest.raises(ccxt.InvalidOrder, match="110092"):
        await env.exchange.create_order(
            BTC,
            "market",
            "sell",
            0.01,
            None,
            {"triggerPrice": 59000, "triggerDirection": "ascending", "reduceOnly": True},
        )
    with pytest.raises(ccxt.BadRequest, match="StopLoss:61000 set for Buy position should be lower"):
        await _long(env, params={"stopLoss": 61000})


@pytest.mark.asyncio
async def test_order_link_ids_are_unique_for_good(env: Env) -> None:
    # Unlike Binance, a filled order's orderLinkId stays taken: a blind retry is refused.
    await _long(env, params={"clientOrderId": "entry-7"})
    with pytest.raises(ccxt.InvalidOrder, match="110072") as raised:
        await _long(env, params={"clientOrderId": "entry-7"})
    assert type(raised.value) is ccxt.InvalidOrder
    assert env.venue.positions()[0].contracts == 0.01


@pytest.mark.asyncio
async def test_timestamp_outside_recv_window_is_invalid_nonce(env: Env) -> None:
    env.exchange.options["timeDifference"] = 60_000
    with pytest.raises(ccxt.InvalidNonce, match="10002"):
        await env.exchange.fetch_balance()


def _private(headers: dict[str, str]) -> ExchangeRequest:
    return ExchangeRequest(
        "GET", "https://api.bybit.com/v5/account/wallet-balance?accountType=UNIFIED", headers=headers
    )


def test_authentication_is_required_but_signatures_are_not_verified() -> None:
    venue = BybitVenue(context())
    now = str(int(time.time() * 1000))
    full = {
        "X-BAPI-API-KEY": "k",
        "X-BAPI-TIMESTAMP": now,
        "X-BAPI-RECV-WINDOW": "5000",
        "X-BAPI-SIGN": "ab" * 32,
    }
    cases = [
        ({k: v for k, v in full.items() if k != "X-BAPI-API-KEY"}, 10003),
        ({k: v for k, v in full.items() if k != "X-BAPI-SIGN"}, 10004),
        ({k: v for k, v in full.items() if k != "X-BAPI-TIMESTAMP"}, 10002),
        ({**full, "X-BAPI-TIMESTAMP": str(int(now) - 6_000)}, 10002),
        ({**full, "X-BAPI-TIMESTAMP": str(int(now) + 2_000)}, 10002),
    ]
    for headers, code in cases:
        reply = venue.execute(_private(headers), venue.classify(_private(headers)))
        assert (reply.status, reply.accepted, reply.error_code) == (200, False, code)
        assert json.loads(reply.body)["retCode"] == code
    ok = venue.execute(_private(full), venue.classify(_private(full)))
    assert (ok.status, ok.accepted, json.loads(ok.body)["retCode"]) == (200, True, 0)


def test_unknown_paths_answer_404() -> None:
    venue = BybitVenue(context())
    for request in [
        ExchangeRequest("GET", "https://api.bybit.com/v5/does/not/exist"),
        ExchangeRequest("POST", "https://api.bybit.com/v5/market/time"),
    ]:
        call = venue.classify(request)
        reply = venue.execute(request, call)
        assert call.intent == "other"
        assert (reply.status, reply.accepted) == (404, False)


def test_error_reply_for_injected_faults() -> None:
    venue = BybitVenue(context())
    reply = venue.error_reply(10006, "Too many visits. Exceeded the API Rate Limit.")
    assert (reply.status, reply.accepted, reply.error_code) == (200, False, 10006)
    body = json.loads(reply.body)
    assert {k: body[k] for k in ("retCode", "retMsg", "result", "retExtInfo")} == {
        "retCode": 10006,
        "retMsg": "Too many visits. Exceeded the API Rate Limit.",
        "result": {},
        "retExtInfo": {},
    }
    assert isinstance(body["time"], int)


def test_the_plugin_ships_the_venue() -> None:
    assert [cls.id for cls in builtin_venues()] == ["binanceusdm", "binance", "bybit"]


# --------------------------------------------------------------------------- hosts


@pytest.mark.asyncio
async def test_testnet_hosts() -> None:
    env = await _open()
    env.exchange.set_sandbox_mode(True)
    try:
        await env.exchange.load_markets()
        await _long(env)
        await env.exchange.fetch_balance()
    finally:
        await env.exchange.close()
    assert {item.request.host for item in env.recorder.exchanges} == {"api-testnet.bybit.com"}
    assert len(env.venue.positions()) == 1


@pytest.mark.asyncio
@pytest.mark.skipif(not hasattr(ccxt.bybit, "enable_demo_trading"), reason="ccxt without demo trading")
async def test_demo_hosts() -> None:
    env = await _open()
    env.exchange.enable_demo_trading(True)
    try:
        await env.exchange.load_markets()
        order = await _long(env)
        positions = await env.exchange.fetch_positions()
    finally:
        await env.exchange.close()
    assert {item.request.host for item in env.recorder.exchanges} == {"api-demo.bybit.com"}
    # Demo trading has no account-info or coin endpoints; ccxt assumes a unified account.
    assert not {"GET /v5/user/query-api", "GET /v5/asset/coin/query-info"} & set(env.recorder.endpoints)
    assert order["id"]
    assert len(positions) == 1


# --------------------------------------------------------------------------- through the plugin


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_a_bot_trades_on_bybit_through_the_plugin(exchange_chaos: Any, bybit: Any) -> None:
    await bybit.load_markets()
    assert (await bybit.fetch_balance())["USDT"]["free"] == 10000.0
    entry = await bybit.create_order(BTC, "market", "buy", 0.01, None, {"stopLoss": 57000})
    limit = await bybit.create_order(BTC, "limit", "buy", 0.01, 50000)
    await bybit.cancel_order(limit["id"], BTC)
    assert (await bybit.fetch_order(entry["id"], BTC, ACK))["status"] == "closed"
    trading = [(r.intent, r.symbol) for r in exchange_chaos.journal if r.method == "POST"]
    assert trading == [("entry", BTC), ("entry", BTC), ("cancel", BTC)]
    assert {r.venue for r in exchange_chaos.journal} == {"bybit"}
    assert {r.client for r in exchange_chaos.journal} == {"aiohttp"}
    # The stop-loss attached to the entry counts as the position's protection.
    exchange_chaos.assert_positions_protected()
    exchange_chaos.assert_no_duplicate_orders()
    [view] = exchange_chaos.venue("bybit").open_orders(BTC)
    assert (view.intent, view.close_position) == ("stop_loss", True)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_bybit_error_presets_map_to_ccxt_classes(exchange_chaos: Any, bybit: Any) -> None:
    await bybit.load_markets()
    exchange_chaos.add(Burst(1, faults.bybit.rate_limited(), endpoint=CREATE))
    with pytest.raises(ccxt.RateLimitExceeded, match="10006"):
        await bybit.create_order(BTC, "market", "buy", 0.01)
    exchange_chaos.add(Burst(1, faults.bybit.timestamp_outside_recv_window(), endpoint=CREATE))
    with pytest.raises(ccxt.InvalidNonce, match="10002"):
        await bybit.create_order(BTC, "market", "buy", 0.01)
    # ccxt 4.5.90 maps 10016 to ExchangeError; only a message with "Request timeout" is a
    # RequestTimeout (the preset's "Server Timeout" is not).
    exchange_chaos.add(Burst(1, faults.bybit.server_timeout(), endpoint=CREATE))
    with pytest.raises(ccxt.ExchangeError, match="10016") as raised:
        await bybit.create_order(BTC, "market", "buy", 0.01)
    assert not isinstance(raised.value, ccxt.NetworkError)
    exchange_chaos.add(
        Burst(1, faults.exchange_error(10016, "Request timeout, please try again later"), endpoint=CREATE)
    )
    with pytest.raises(ccxt.RequestTimeout):
        await bybit.create_order(BTC, "market", "buy", 0.01)
    assert exchange_chaos.venue("bybit").positions() == []
    await bybit.create_order(BTC, "market", "buy", 0.01)
    assert len(exchange_chaos.venue("bybit").positions()) == 1


@pytest.mark.exchange_chaos
def test_sync_ccxt_over_requests(exchange_chaos: Any) -> None:
    exchange = ccxt.bybit(dict(KEYS))
    try:
        exchange.load_markets()
        entry = exchange.create_order(BTC, "market", "buy", 0.01)
        stop = exchange.create_order(BTC, "market", "sell", 0.01, None, {"triggerPrice": 55000, **STOP_BELOW})
        assert [o["id"] for o in exchange.fetch_open_orders(BTC)] == [stop["id"]]
        assert exchange.fetch_order(entry["id"], BTC, ACK)["status"] == "closed"
        [position] = exchange.fetch_positions()
        assert position["contracts"] == 0.01
    finally:
        exchange.session.close()
    assert {r.client for r in exchange_chaos.journal} == {"requests"}
    assert [r.intent for r in exchange_chaos.journal if r.method == "POST"] == ["entry", "stop_loss"]
    exchange_chaos.assert_placed("stop_loss", symbol=BTC)
    exchange_chaos.assert_positions_protected()


# --------------------------------------------------------------------------- the rest of the API


def _send(venue: BybitVenue, method: str, path: str, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A signed-looking request straight to the venue: GET as a query, POST as a JSON body."""
    headers = {
        "X-BAPI-API-KEY": "k",
        "X-BAPI-TIMESTAMP": str(int(time.time() * 1000)),
        "X-BAPI-RECV-WINDOW": "5000",
        "X-BAPI-SIGN": "ab" * 32,
    }
    url = f"https://api.bybit.com{path}"
    if method == "GET":
        query = "&".join(f"{k}={v}" for k, v in params.items())
        request = ExchangeRequest(method, f"{url}?{query}", headers)
    else:
        request = ExchangeRequest(method, url, headers, json.dumps(params).encode())
    call = venue.classify(request)
    reply = venue.execute(request, call)
    return call, json.loads(reply.body)


LINEAR = {"category": "linear", "symbol": "BTCUSDT"}
MARKET_BUY = {**LINEAR, "side": "Buy", "orderType": "Market", "qty": "0.01"}


@pytest.mark.parametrize(
    ("method", "path", "params", "code"),
    [
        ("POST", "/v5/order/create", {**MARKET_BUY, "side": "Up"}, 10001),
        ("POST", "/v5/order/create", {**MARKET_BUY, "side": ""}, 10001),
        ("POST", "/v5/order/create", {**MARKET_BUY, "orderType": "Stop"}, 10001),
        ("POST", "/v5/order/create", {**MARKET_BUY, "triggerPrice": "61000", "triggerDirection": 5}, 10001),
        ("POST", "/v5/order/create", {**MARKET_BUY, "orderLinkId": "no spaces allowed"}, 10001),
        ("POST", "/v5/order/create", {**MARKET_BUY, "positionIdx": 1}, 10001),
        ("POST", "/v5/order/create", {**MARKET_BUY, "orderType": "Limit", "timeInForce": "GTD"}, 10001),
        ("POST", "/v5/order/create", {**MARKET_BUY, "orderType": "Limit"}, 10001),
        ("POST", "/v5/order/create", {**MARKET_BUY, "reduceOnly": "maybe"}, 10001),
        ("POST", "/v5/order/create", {**MARKET_BUY, "qty": "0"}, 10001),
        ("POST", "/v5/order/create", {**MARKET_BUY, "qty": "500"}, 10001),
        ("POST", "/v5/order/create", {**MARKET_BUY, "qty": "abc"}, 10001),
        ("POST", "/v5/order/create", {**MARKET_BUY, "category": "inverse"}, 10001),
        ("POST", "/v5/order/create", {**MARKET_BUY, "category": ""}, 10001),
        ("POST", "/v5/order/create", {**MARKET_BUY, "symbol": ""}, 10001),
        (
            "POST",
            "/v5/order/create",
            {**MARKET_BUY, "orderType": "Limit", "price": "70000", "timeInForce": "PostOnly"},
            10001,
        ),
        (
            "POST",
            "/v5/order/create",
            {**MARKET_BUY, "orderType": "Limit", "price": "50000", "timeInForce": "FOK"},
            10001,
        ),
        ("POST", "/v5/order/create", {**MARKET_BUY, "orderType": "Limit", "price": "59000.05"}, 10001),
        ("POST", "/v5/order/create", {**MARKET_BUY, "takeProfit": "59000"}, 10001),
        ("POST", "/v5/order/create-batch", {"category": "linear", "request": []}, 10001),
        ("POST", "/v5/order/create-batch", {"category": "linear", "request": [MARKET_BUY] * 21}, 10001),
        ("POST", "/v5/order/cancel", LINEAR, 10001),
        ("POST", "/v5/order/cancel-all", {"category": "linear"}, 10001),
        ("POST", "/v5/order/amend", {**LINEAR, "orderId": "nope"}, 110001),
        ("GET", "/v5/order/realtime", {"category": "linear"}, 10001),
        ("GET", "/v5/position/list", {"category": "linear"}, 10001),
        ("GET", "/v5/position/list", {"category": "linear", "symbol": "NOPEUSDT"}, 10001),
        ("GET", "/v5/account/wallet-balance", {"accountType": "CONTRACT"}, 10001),
        ("GET", "/v5/market/instruments-info", {}, 10001),
        ("GET", "/v5/market/tickers", {}, 10001),
        ("GET", "/v5/market/orderbook", {**LINEAR, "limit": 1000}, 10001),
        ("GET", "/v5/market/orderbook", {**LINEAR, "limit": "x"}, 10001),
        ("GET", "/v5/market/kline", {**LINEAR, "interval": "7"}, 10001),
        ("POST", "/v5/position/set-leverage", LINEAR, 10001),
        ("POST", "/v5/position/set-leverage", {**LINEAR, "buyLeverage": "5", "sellLeverage": "6"}, 10001),
        ("POST", "/v5/position/set-leverage", {**LINEAR, "buyLeverage": "5.5", "sellLeverage": "5.5"}, 10001),
        ("POST", "/v5/position/switch-mode", {"category": "linear", "mode": 1, "coin": "USDT"}, 10001),
        ("POST", "/v5/position/switch-mode", {"category": "linear", "mode": 3}, 10001),
        ("POST", "/v5/account/set-margin-mode", {"setMarginMode": "LOOSE"}, 10001),
        ("POST", "/v5/position/trading-stop", {**LINEAR, "stopLoss": "50000"}, 10001),
    ],
)
def test_requests_bybit_refuses(method: str, path: str, params: dict[str, Any], code: int) -> None:
    venue = BybitVenue(context())
    _, body = _send(venue, method, path, params)
    assert (body["retCode"], body["result"], body["retExtInfo"]) == (code, {}, {})
    assert body["retMsg"]


def test_position_settings_and_order_upkeep_without_ccxt() -> None:
    venue = BybitVenue(context())

    def code(method: str, path: str, params: dict[str, Any]) -> int:
        return int(_send(venue, method, path, params)[1]["retCode"])

    def rows(method: str, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return _send(venue, method, path, params)[1]["result"]["list"]  # type: ignore[no-any-return]

    _, opened = _send(venue, "POST", "/v5/order/create", MARKET_BUY)
    entry_id = opened["result"]["orderId"]
    # Settings are locked while a position is open; leverage is not.
    assert (
        code("POST", "/v5/position/switch-mode", {"category": "linear", "mode": 3, "coin": "USDT"}) == 110024
    )
    assert code("POST", "/v5/account/set-margin-mode", {"setMarginMode": "ISOLATED_MARGIN"}) == 3400045
    assert code("POST", "/v5/position/set-leverage", {**LINEAR, "buyLeverage": "1", "sellLeverage": "1"}) == 0

    # A partial stop-loss with a limit price, set on the position.
    partial_params = {
        **LINEAR,
        "tpslMode": "Partial",
        "stopLoss": "58000",
        "slSize": "0.005",
        "slOrderType": "Limit",
        "slLimitPrice": "57900",
    }
    call, body = _send(venue, "POST", "/v5/position/trading-stop", partial_params)
    assert body["retCode"] == 0
    assert (call.intent, call.order is not None and call.order.amount) == ("stop_loss", "0.005")
    [partial] = venue.open_orders()
    assert (partial.type, partial.amount, partial.price, partial.reduce_only) == ("stop", 0.005, 57900, True)
    stop = "/v5/position/trading-stop"
    assert code("POST", stop, {**LINEAR, "tpslMode": "Odd", "stopLoss": "1"}) == 10001
    assert code("POST", stop, {**LINEAR, "trailingStop": "100"}) == 10001
    assert code("POST", stop, {**LINEAR, "stopLoss": "61000"}) == 10001
    # A full stop-loss, then removed again with a zero price.
    assert code("POST", stop, {**LINEAR, "stopLoss": "55000"}) == 0
    assert len(venue.open_orders()) == 2
    call, body = _send(venue, "POST", stop, {**LINEAR, "stopLoss": "0"})
    assert (body["retCode"], call.intent) == (0, "account")
    assert len(venue.open_orders()) == 1

    # Looking orders up by orderLinkId, and amending a resting limit.
    limit_params = {**MARKET_BUY, "orderType": "Limit", "price": "50000", "orderLinkId": "l-1"}
    limit_id = _send(venue, "POST", "/v5/order/create", limit_params)[1]["result"]["orderId"]
    link = {**LINEAR, "orderLinkId": "l-1"}
    assert rows("GET", "/v5/order/realtime", link)[0]["orderStatus"] == "New"
    assert code("POST", "/v5/order/amend", {**link, "price": "51000"}) == 0
    [row] = rows("GET", "/v5/order/realtime", {**LINEAR, "orderFilter": "Order"})
    assert (row["price"], row["orderLinkId"]) == ("51000.00", "l-1")
    assert code("POST", "/v5/order/amend", {**LINEAR, "orderId": entry_id}) == 110001
    tpsl = rows("GET", "/v5/order/realtime", {**LINEAR, "orderFilter": "tpslOrder"})
    assert [r["stopOrderType"] for r in tpsl] == ["PartialStopLoss"]

    # Cancelling everything leaves the position's own stop alone.
    assert rows("POST", "/v5/order/cancel-all", {**LINEAR, "orderFilter": "StopOrder"}) == []
    assert len(rows("POST", "/v5/order/cancel-all", {"category": "linear", "settleCoin": "USDT"})) == 1
    history = rows("GET", "/v5/order/history", {**link, "orderId": limit_id})
    assert [r["orderStatus"] for r in history] == ["Cancelled"]

    executions = rows("GET", "/v5/execution/list", {**LINEAR, "orderId": entry_id})
    assert [(e["orderId"], e["execType"]) for e in executions] == [(entry_id, "Trade")]
    assert rows("GET", "/v5/execution/list", {**LINEAR, "orderLinkId": "l-1"}) == []
    assert rows("GET", "/v5/execution/list", {**LINEAR, "execType": "Funding"}) == []
    assert len(rows("GET", "/v5/market/kline", {**LINEAR, "interval": "D", "start": 0, "limit": 2})) == 2
    spot_tickers = rows("GET", "/v5/market/tickers", {"category": "spot"})
    assert [r["symbol"] for r in spot_tickers] == ["BTCUSDT", "ETHUSDT", "XRPUSDT", "DOGEUSDT"]
    spot = rows("GET", "/v5/market/instruments-info", {"category": "spot", "symbol": "ETHUSDT"})
    assert [r["symbol"] for r in spot] == ["ETHUSDT"]


def test_batch_entries_report_each_refusal() -> None:
    venue = BybitVenue(context())
    call, body = _send(
        venue,
        "POST",
        "/v5/order/create-batch",
        {"category": "linear", "request": [{**MARKET_BUY, "qty": "100"}, MARKET_BUY]},
    )
    assert call.intent == "entry"
    assert [c["code"] for c in body["retExtInfo"]["list"]] == [110007, 0]
    assert body["result"]["list"][0]["orderId"] == ""
    bad = ExchangeRequest("POST", "https://api.bybit.com/v5/order/create-batch", body=b'{"request": 3}')
    assert venue.classify(bad).intent == "other"


@pytest.mark.asyncio
async def test_hedge_mode_orders_and_isolated_margin(env: Env) -> None:
    await env.exchange.set_position_mode(True, BTC)
    with pytest.raises(ccxt.BadRequest, match="position idx not match"):
        await _long(env)
    await _long(env, params={"hedged": True})
    assert _body(env)["positionIdx"] == 1
    await env.exchange.create_order(BTC, "market", "sell", 0.01, None, {"hedged": True, "reduceOnly": True})
    assert _body(env)["positionIdx"] == 1
    assert env.recorder.last(CREATE).call.intent == "exit"
    assert env.venue.positions() == []
    await env.exchange.set_margin_mode("isolated", BTC)
    await env.exchange.set_margin_mode("isolated", BTC)
    assert env.venue.margin_mode == "ISOLATED_MARGIN"
