"""The simulated Binance spot venue against real, unmodified ccxt (``ccxt.binance``, async and
sync; only the socket is replaced): the refusals a spot bot meets, with Binance's own codes, and
what ccxt makes of them.
"""

from __future__ import annotations

import inspect
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import pytest
import pytest_asyncio
from venue_harness import Recorder, attach, context

from pytest_exchange_chaos.venues._instruments import SPOT_PAIRS, spot_pair
from pytest_exchange_chaos.venues.base import ExchangeRequest, VenueContext
from pytest_exchange_chaos.venues.binance_spot import BinanceSpotVenue

BTC = "BTC/USDT"
KEYS = {"apiKey": "test-key-0123456789", "secret": "test-secret-abcdef"}


@dataclass
class Env:
    exchange: Any
    venue: BinanceSpotVenue
    recorder: Recorder

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a ccxt method the same way on async and sync ccxt."""
        result = getattr(self.exchange, method)(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result

    def code(self) -> int:
        """Binance's error code in the last reply."""
        return self.recorder.exchanges[-1].reply.error_code  # type: ignore[return-value]


def _spot_only(exchange: Any) -> None:
    # ccxt.binance also loads the perpetuals (another venue); this harness serves spot alone.
    # Newer ccxt keeps the market types in a dict, the oldest supported one in a list.
    if isinstance(exchange.options["fetchMarkets"], dict):
        exchange.options["fetchMarkets"]["types"] = ["spot"]
    else:
        exchange.options["fetchMarkets"] = ["spot"]
    exchange.options["warnOnFetchOpenOrdersWithoutSymbol"] = False


async def _open(mode: str, venue: BinanceSpotVenue | None = None) -> Env:
    venue = venue or BinanceSpotVenue(context())
    cls = ccxt_async.binance if mode == "async" else ccxt.binance
    exchange = cls({**KEYS, "enableRateLimit": False})
    _spot_only(exchange)
    env = Env(exchange, venue, attach(exchange, venue))
    await env("load_markets")
    env.recorder.clear()
    return env


@pytest_asyncio.fixture(params=["async", "sync"])
async def env(request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    opened = await _open(request.param)
    try:
        yield opened
    finally:
        if request.param == "async":
            await opened.exchange.close()


# ------------------------------------------------------------------------------ balances


@pytest.mark.asyncio
async def test_a_buy_beyond_the_usdt_held_and_a_sell_of_coins_not_held_are_insufficient_funds(
    env: Env,
) -> None:
    with pytest.raises(ccxt.InsufficientFunds, match="insufficient balance"):
        await env("create_order", BTC, "market", "buy", 1)
    assert env.code() == -2010
    with pytest.raises(ccxt.InsufficientFunds):
        await env("create_order", "ETH/USDT", "market", "sell", 0.1)
    assert env.code() == -2010
    assert env.venue.spot.orders == {}


@pytest.mark.asyncio
async def test_resting_orders_lock_what_they_would_spend(env: Env) -> None:
    await env("create_order", BTC, "limit", "buy", 0.1, 50_000)
    balance = await env("fetch_balance")
    # 5,000 USDT and the 0.1 % fee a taker fill would cost are held for the order.
    assert (balance["USDT"]["free"], balance["USDT"]["used"], balance["USDT"]["total"]) == (
        4995,
        5005,
        10_000,
    )
    # Binance lists every asset it trades, held or not.
    assert balance["ETH"]["total"] == 0
    with pytest.raises(ccxt.InsufficientFunds):
        await env("create_order", BTC, "limit", "buy", 0.1, 50_000)
    account = await env("private_get_account", {"omitZeroBalances": "true"})
    assert [row["asset"] for row in account["balances"]] == ["USDT"]


# ------------------------------------------------------------------------- filters


@pytest.mark.asyncio
async def test_an_order_worth_less_than_the_minimum_notional_fails_the_notional_filter(env: Env) -> None:
    with pytest.raises(ccxt.BadRequest, match="Filter failure: NOTIONAL"):
        await env("create_order", BTC, "limit", "buy", 0.00005, 50_000)
    assert env.code() == -1013
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
        await env("create_market_buy_order_with_cost", BTC, 4)


@pytest.mark.asyncio
async def test_a_quantity_above_the_lot_size_maximum_fails_the_lot_size_filter(env: Env) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        await env("create_order", BTC, "limit", "buy", 10_000_000, 50_000)
    assert env.code() == -1013


@pytest.mark.asyncio
async def test_quantities_and_prices_finer_than_the_pair_allows_are_too_precise(env: Env) -> None:
    # ccxt rounds what it sends through create_order; a bot's own request does not.
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    with pytest.raises(ccxt.BadRequest, match="Parameter 'quantity' has too much precision"):
        await env("private_post_order", {**order, "quantity": "0.000015", "price": "50000"})
    assert env.code() == -1111
    with pytest.raises(ccxt.BadRequest, match="Parameter 'price' has too much precision"):
        await env("private_post_order", {**order, "quantity": "0.001", "price": "50000.001"})
    stop = {**order, "type": "STOP_LOSS_LIMIT", "quantity": "0.001", "price": "50000"}
    with pytest.raises(ccxt.BadRequest, match="Parameter 'stopPrice' has too much precision"):
        await env("private_post_order", {**stop, "stopPrice": "61000.001"})
    # A sign, an exponent or a letter: Binance reads each decimal against one pattern first.
    for field, value in [("quantity", "lots"), ("quantity", "-1"), ("price", "5e4"), ("stopPrice", "-61000")]:
        fields = {**order, "quantity": "0.001", "price": "50000", field: value}
        with pytest.raises(
            ccxt.BadRequest, match=rf"Illegal characters found in parameter '{field}'; legal range"
        ):
            await env("private_post_order", fields)
        assert env.code() == -1100


@pytest.mark.asyncio
async def test_a_price_off_the_tick_fails_the_price_filter() -> None:
    # A pair whose tick is not a power of ten: 50,000.25 has the right decimals, not the tick.
    pair = spot_pair(
        "BTC",
        tick=Decimal("0.5"),
        step=Decimal("0.0001"),
        min_qty=Decimal("0.0001"),
        min_notional=Decimal(5),
        mark=Decimal(60_000),
    )
    env = await _open("async", BinanceSpotVenue(context(), instruments=(pair,)))
    try:
        with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):
            await env(
                "private_post_order",
                {
                    "symbol": "BTCUSDT",
                    "side": "BUY",
                    "type": "LIMIT",
                    "timeInForce": "GTC",
                    "quantity": "0.001",
                    "price": "50000.2",
                },
            )
        assert env.code() == -1013
    finally:
        await env.exchange.close()


@pytest.mark.asyncio
async def test_malformed_order_fields_get_binance_s_parameter_codes(env: Env) -> None:
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001"}
    cases: list[tuple[dict[str, str], int, str]] = [
        ({**base, "side": "LONG", "price": "50000"}, -1117, "Invalid side."),
        ({**base, "type": "OCO", "price": "50000"}, -1116, "Invalid orderType."),
        ({**base, "timeInForce": "GTD", "price": "50000"}, -1115, "Invalid timeInForce."),
        ({**base, "side": ""}, -1102, "Mandatory parameter 'side'"),
        ({**base, "type": ""}, -1102, "Mandatory parameter 'type'"),
        ({**base, "timeInForce": "", "price": "50000"}, -1102, "Mandatory parameter 'timeInForce'"),
        ({**base, "quantity": "", "price": "50000"}, -1102, "Mandatory parameter 'quantity'"),
        ({**base, "type": "STOP_LOSS", "timeInForce": ""}, -1102, "Mandatory parameter 'stopPrice'"),
        ({**base, "price": ""}, -1102, "Mandatory parameter 'price'"),
        ({**base, "quoteOrderQty": "100", "price": "50000"}, -1106, "'quoteOrderQty' sent when not required"),
        ({**base, "symbol": "NOPEUSDT", "price": "50000"}, -1121, "Invalid symbol."),
    ]
    for params, code, message in cases:
        with pytest.raises(ccxt.ExchangeError, match=message):
            await env("private_post_order", params)
        assert env.code() == code, params
    with pytest.raises(ccxt.BadRequest, match="Mandatory parameter 'symbol'"):
        await env("private_post_order", {k: v for k, v in base.items() if k != "symbol"})
    assert env.venue.spot.orders == {}


# ---------------------------------------------------------------------- order lookups


@pytest.mark.asyncio
async def test_an_unknown_order_id_is_order_not_found_on_cancel_and_on_fetch(env: Env) -> None:
    with pytest.raises(ccxt.OrderNotFound, match="Unknown order sent"):
        await env("cancel_order", "123456", BTC)
    assert env.code() == -2011
    with pytest.raises(ccxt.OrderNotFound, match="Order does not exist"):
        await env("fetch_order", "123456", BTC)
    assert env.code() == -2013
    with pytest.raises(ccxt.BadRequest, match="'origClientOrderId' or 'orderId' must be sent"):
        await env("private_get_order", {"symbol": "BTCUSDT"})
    assert env.code() == -1102


@pytest.mark.asyncio
async def test_cancelling_a_filled_order_is_unknown_order_and_the_fill_stays(env: Env) -> None:
    bought = await env("create_order", BTC, "market", "buy", 0.01)
    assert (bought["status"], bought["filled"], bought["average"]) == ("closed", 0.01, 60_000)
    with pytest.raises(ccxt.OrderNotFound, match="Unknown order sent"):
        await env("cancel_order", bought["id"], BTC)
    assert env.code() == -2011
    fetched = await env("fetch_order", bought["id"], BTC)
    assert (fetched["status"], fetched["filled"]) == ("closed", 0.01)


@pytest.mark.asyncio
async def test_orders_are_found_by_client_id_and_a_reused_open_client_id_is_a_duplicate(env: Env) -> None:
    await env("create_order", BTC, "limit", "buy", 0.001, 50_000, {"clientOrderId": "bot-1"})
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        await env("create_order", BTC, "limit", "buy", 0.001, 50_000, {"clientOrderId": "bot-1"})
    assert env.code() == -2010
    found = await env("fetch_order", None, BTC, {"origClientOrderId": "bot-1"})
    assert (found["clientOrderId"], found["status"]) == ("bot-1", "open")
    cancelled = await env("cancel_order", None, BTC, {"origClientOrderId": "bot-1"})
    assert (cancelled["clientOrderId"], cancelled["status"]) == ("bot-1", "canceled")
    # Once the first has left the book, its client id may be used again.
    await env("create_order", BTC, "limit", "buy", 0.001, 50_000, {"clientOrderId": "bot-1"})


@pytest.mark.asyncio
async def test_open_orders_are_listed_per_pair_and_for_the_whole_account(env: Env) -> None:
    btc = await env("create_order", BTC, "limit", "buy", 0.001, 50_000)
    eth = await env("create_order", "ETH/USDT", "limit", "buy", 0.1, 2_000)
    assert [o["id"] for o in await env("fetch_open_orders", BTC)] == [btc["id"]]
    everything = await env("fetch_open_orders")
    assert sorted(o["id"] for o in everything) == sorted([btc["id"], eth["id"]])
    cancelled = await env("cancel_all_orders", BTC)
    assert [o["id"] for o in cancelled] == [btc["id"]]
    assert [o["id"] for o in await env("fetch_open_orders")] == [eth["id"]]
    # Nothing left to cancel on the pair: Binance answers as for an unknown order.
    with pytest.raises(ccxt.OrderNotFound):
        await env("cancel_all_orders", BTC)
    assert env.code() == -2011


@pytest.mark.asyncio
async def test_all_orders_and_trades_list_the_pair_s_history(env: Env) -> None:
    first = await env("create_order", BTC, "market", "buy", 0.01)
    resting = await env("create_order", BTC, "limit", "buy", 0.001, 50_000)
    await env("cancel_order", resting["id"], BTC)
    orders = await env("fetch_orders", BTC)
    assert [(o["id"], o["status"]) for o in orders] == [(first["id"], "closed"), (resting["id"], "canceled")]
    since_resting = await env("fetch_orders", BTC, None, None, {"orderId": resting["id"]})
    assert [o["id"] for o in since_resting] == [resting["id"]]
    assert await env("fetch_orders", BTC, None, 1) == orders[-1:]
    [trade] = await env("fetch_my_trades", BTC)
    assert (trade["order"], trade["side"], trade["price"], trade["amount"]) == (
        first["id"],
        "buy",
        60_000,
        0.01,
    )
    assert (trade["fee"]["cost"], trade["fee"]["currency"], trade["takerOrMaker"]) == (0.6, "USDT", "taker")
    assert await env("fetch_my_trades", BTC, None, None, {"orderId": resting["id"]}) == []
    with pytest.raises(ccxt.BadRequest, match="Mandatory parameter 'symbol'"):
        await env("private_get_mytrades", {})


# ------------------------------------------------------------------- fills and stops


@pytest.mark.asyncio
async def test_a_resting_limit_fills_as_a_maker_when_the_price_reaches_it(env: Env) -> None:
    resting = await env("create_order", BTC, "limit", "buy", 0.01, 59_000)
    assert resting["status"] == "open"
    env.venue.set_price(BTC, 59_500)
    assert (await env("fetch_order", resting["id"], BTC))["status"] == "open"
    env.venue.set_price(BTC, 58_900)
    filled = await env("fetch_order", resting["id"], BTC)
    assert (filled["status"], filled["filled"], filled["average"]) == ("closed", 0.01, 59_000)
    [trade] = await env("fetch_my_trades", BTC)
    assert (trade["price"], trade["takerOrMaker"]) == (59_000, "maker")
    balance = await env("fetch_balance")
    assert (balance["BTC"]["total"], round(balance["USDT"]["total"], 6)) == (0.01, 10_000 - 590 - 0.59)


@pytest.mark.asyncio
async def test_a_limit_that_crosses_fills_at_once_and_an_ioc_that_cannot_expires(env: Env) -> None:
    crossing = await env("create_order", BTC, "limit", "buy", 0.01, 61_000)
    # It takes the market's 60,000, not its own limit.
    assert (crossing["status"], crossing["average"]) == ("closed", 60_000)
    ioc = await env("create_order", BTC, "limit", "buy", 0.01, 50_000, {"timeInForce": "IOC"})
    assert ioc["status"] == "expired"
    assert (await env("fetch_balance"))["USDT"]["used"] == 0


@pytest.mark.asyncio
async def test_a_post_only_order_that_would_take_is_refused(env: Env) -> None:
    with pytest.raises(ccxt.OrderImmediatelyFillable, match="immediately match and take"):
        await env("create_order", BTC, "limit", "buy", 0.01, 61_000, {"postOnly": True})
    assert env.code() == -2010
    maker = await env("create_order", BTC, "limit", "buy", 0.01, 59_000, {"postOnly": True})
    assert (maker["status"], maker["postOnly"]) == ("open", True)


@pytest.mark.asyncio
async def test_stop_loss_and_take_profit_orders_rest_until_their_trigger(env: Env) -> None:
    await env("create_order", BTC, "market", "buy", 0.02)
    stop = await env("create_order", BTC, "market", "sell", 0.01, None, {"stopLossPrice": 55_000})
    take = await env("create_order", BTC, "limit", "sell", 0.01, 66_000, {"takeProfitPrice": 65_000})
    opened = {o["id"]: o for o in await env("fetch_open_orders", BTC)}
    assert opened[stop["id"]]["triggerPrice"] == 55_000
    assert opened[take["id"]]["triggerPrice"] == 65_000
    assert [o.intent for o in env.venue.open_orders(BTC)] == ["stop_loss", "take_profit"]
    with pytest.raises(ccxt.OrderImmediatelyFillable, match="Stop price would trigger immediately"):
        await env("create_order", BTC, "market", "sell", 0.001, None, {"stopLossPrice": 61_000})
    assert env.code() == -2010

    env.venue.set_price(BTC, 66_500)
    taken = await env("fetch_order", take["id"], BTC)
    # Triggered at 66,500, its 66,000 limit crosses and sells at the market.
    assert (taken["status"], taken["average"]) == ("closed", 66_500)
    env.venue.set_price(BTC, 54_000)
    stopped = await env("fetch_order", stop["id"], BTC)
    assert (stopped["status"], stopped["average"]) == ("closed", 54_000)
    assert (await env("fetch_balance"))["BTC"]["total"] == 0


@pytest.mark.asyncio
async def test_a_buy_stop_that_triggers_beyond_what_it_locked_expires(env: Env) -> None:
    # A breakout entry locks USDT at its 61,000 trigger; a gap to 90,000 costs more than it holds.
    spend_all = round(9_990 / 61_000 / 1.001, 5)
    stop = await env("create_order", BTC, "market", "buy", spend_all, None, {"stopLossPrice": 61_000})
    env.venue.set_price(BTC, 90_000)
    expired = await env("fetch_order", stop["id"], BTC)
    assert (expired["status"], expired["filled"]) == ("expired", 0)
    assert (await env("fetch_balance"))["USDT"]["free"] == 10_000


@pytest.mark.asyncio
async def test_a_market_buy_sized_in_usdt_buys_what_the_usdt_pays_for(env: Env) -> None:
    bought = await env("create_market_buy_order_with_cost", BTC, 600)
    assert (bought["filled"], bought["cost"]) == (0.01, 600)
    # 5 USDT buys 0.00008 BTC once rounded down to the lot: 4.80 USDT, under the minimum.
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
        await env("create_market_buy_order_with_cost", BTC, 5)


# ----------------------------------------------------------------------- market data


@pytest.mark.asyncio
async def test_market_data_answers_per_pair_and_for_every_pair(env: Env) -> None:
    assert (await env("fetch_ticker", BTC))["last"] == 60_000
    tickers = await env("fetch_tickers")
    assert set(tickers) == {pair.symbol for pair in SPOT_PAIRS}
    assert (await env("fetch_ticker", BTC, {"method": "publicGetTickerPrice"}))["last"] == 60_000
    assert (await env("fetch_bids_asks", [BTC]))[BTC]["bid"] <= 60_000
    book = await env("fetch_order_book", BTC, 5)
    assert len(book["bids"]) == len(book["asks"]) == 5
    with pytest.raises(ccxt.BadRequest, match="limit"):
        await env("public_get_depth", {"symbol": "BTCUSDT", "limit": "6000"})
    candles = await env("fetch_ohlcv", BTC, "1m", None, 3)
    assert len(candles) == 3 and candles[-1][4] == 60_000
    with pytest.raises(ccxt.BadRequest, match="Invalid interval"):
        await env("public_get_klines", {"symbol": "BTCUSDT", "interval": "7m"})
    with pytest.raises(ccxt.BadRequest, match="Mandatory parameter 'interval'"):
        await env("public_get_klines", {"symbol": "BTCUSDT"})
    assert (await env("public_get_avgprice", {"symbol": "BTCUSDT"}))["price"] == "60000.00000000"
    assert (await env("fetch_status"))["status"] == "ok"
    assert await env("fetch_time") > 0
    with pytest.raises(ccxt.BadSymbol, match="Invalid symbol"):
        await env("public_get_depth", {"symbol": "NOPEUSDT"})
    assert env.code() == -1121


@pytest.mark.asyncio
async def test_trading_fees_are_the_account_s_rates(env: Env) -> None:
    fee = await env("fetch_trading_fee", BTC)
    assert (fee["maker"], fee["taker"]) == (0.001, 0.001)
    fees = await env("fetch_trading_fees")
    assert set(fees) == {pair.symbol for pair in SPOT_PAIRS}


# ------------------------------------------------------------------- not simulated


@pytest.mark.asyncio
async def test_a_request_the_venue_does_not_simulate_is_refused_and_named(env: Env) -> None:
    # -1000 is Binance's unknown error, which ccxt treats as an operation that may be retried.
    with pytest.raises(
        ccxt.OperationFailed, match="binance margin GET /sapi/v1/margin/account is not simulated"
    ):
        await env("sapi_get_margin_account")
    assert env.code() == -1000
    request = env.recorder.exchanges[-1].request
    assert env.venue.not_simulated(request) == "binance margin GET /sapi/v1/margin/account is not simulated"
    assert env.venue.classify(request).intent == "other"


def test_an_order_the_venue_cannot_read_is_classified_as_other() -> None:
    venue = BinanceSpotVenue(context())

    def post(body: str) -> ExchangeRequest:
        return ExchangeRequest(
            method="POST",
            url="https://api.binance.com/api/v3/order",
            headers={},
            body=body.encode(),
            client="test",
        )

    unreadable = post("symbol=BTCUSDT&side=BUY&type=%ZZ")
    assert venue.classify(unreadable).intent == "other"
    odd_type = venue.classify(post("symbol=BTCUSDT&side=BUY&type=OCO&quantity=1"))
    assert (odd_type.intent, odd_type.symbol) == ("other", BTC)
    stop = venue.classify(post("symbol=BTCUSDT&side=SELL&type=STOP_LOSS&quantity=1&stopPrice=50000"))
    assert (stop.intent, stop.order and stop.order.trigger_price) == ("stop_loss", "50000")


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_coins_held_from_the_start_are_a_holding_a_stop_loss_must_cover(mode: str) -> None:
    chaos_now = [0.0]
    clock = VenueContext(now=lambda: chaos_now[0], wall_time=time.time, rng=random.Random(7), seed=7)
    venue = BinanceSpotVenue(clock, balances={"USDT": "1000", "BTC": "0.1"})
    env = await _open(mode, venue)
    chaos_now[0] = 30.0
    try:
        [holding] = venue.positions()
        assert (holding.symbol, holding.contracts, holding.entry_price) == (BTC, 0.1, 60_000)
        [naked] = venue.unprotected_intervals()
        assert (naked.symbol, naked.size, naked.end) == (BTC, 0.1, None)
        # Selling half keeps the other half a holding, at the same average cost.
        await env("create_order", BTC, "market", "sell", 0.05)
        [holding] = venue.positions()
        assert (holding.contracts, holding.entry_price) == (0.05, 60_000)
        await env("create_order", BTC, "market", "sell", 0.05, None, {"stopLossPrice": 55_000})
        [covered] = venue.unprotected_intervals()
        assert (covered.start, covered.end, covered.seconds) == (0, 30, 30)
        assert venue.open_orders("DOGE/USDC") == []
        assert [o.intent for o in venue.open_orders()] == ["stop_loss"]
    finally:
        if mode == "async":
            await env.exchange.close()
