"""Bybit v5 spot (``category=spot`` on the simulated ``bybit`` venue) against real, unmodified
ccxt (``ccxt.bybit``, async and sync; only the socket is replaced): the refusals a spot bot meets,
with Bybit's own ``retCode``, and what ccxt makes of them.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import pytest
import pytest_asyncio
from venue_harness import Recorder, attach, context

from pytest_exchange_chaos.venues._bybit_spot import spot_reject_for
from pytest_exchange_chaos.venues._errors import BookError, TickSizeError
from pytest_exchange_chaos.venues.base import ExchangeRequest
from pytest_exchange_chaos.venues.bybit import BybitVenue

BTC = "BTC/USDT"
KEYS = {"apiKey": "test-key-0123456789", "secret": "test-secret-abcdef"}
ACK = {"acknowledged": True}
CREATE = "private_post_v5_order_create"


@dataclass
class Env:
    exchange: Any
    venue: BybitVenue
    recorder: Recorder

    async def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a ccxt method the same way on async and sync ccxt."""
        result = getattr(self.exchange, method)(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result

    def code(self) -> int:
        """Bybit's ``retCode`` in the last reply."""
        return json.loads(self.recorder.exchanges[-1].reply.body)["retCode"]  # type: ignore[no-any-return]

    def body(self) -> dict[str, Any]:
        return json.loads(self.recorder.exchanges[-1].request.body)  # type: ignore[no-any-return]


@pytest_asyncio.fixture(params=["async", "sync"])
async def env(request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    venue = BybitVenue(context())
    exchange = (ccxt_async.bybit if request.param == "async" else ccxt.bybit)(
        {**KEYS, "enableRateLimit": False}
    )
    opened = Env(exchange, venue, attach(exchange, venue))
    try:
        await opened("load_markets")
        opened.recorder.clear()
        yield opened
    finally:
        if request.param == "async":
            await exchange.close()


def _limit(**fields: str) -> dict[str, str]:
    return {
        "category": "spot",
        "symbol": "BTCUSDT",
        "side": "Buy",
        "orderType": "Limit",
        "qty": "0.001",
        "price": "50000",
        **fields,
    }


# ------------------------------------------------------------------------------ balances


@pytest.mark.asyncio
async def test_a_buy_beyond_the_usdt_held_and_a_sell_of_coins_not_held_are_insufficient_funds(
    env: Env,
) -> None:
    with pytest.raises(ccxt.InsufficientFunds, match="170131"):
        await env("create_order", BTC, "market", "buy", 1)
    assert env.code() == 170131
    with pytest.raises(ccxt.InsufficientFunds, match="170131"):
        await env("create_order", "ETH/USDT", "market", "sell", 0.1)
    assert env.venue.spot.orders == {}


@pytest.mark.asyncio
async def test_a_resting_sell_locks_the_coins_it_would_sell(env: Env) -> None:
    await env("create_order", BTC, "market", "buy", 0.01)
    await env("create_order", BTC, "limit", "sell", 0.01, 70_000)
    balance = await env("fetch_balance")
    assert (balance["BTC"]["total"], balance["BTC"]["free"], balance["BTC"]["used"]) == (0.01, 0, 0.01)
    with pytest.raises(ccxt.InsufficientFunds):
        await env("create_order", BTC, "market", "sell", 0.001)


# ------------------------------------------------------------------------- filters


@pytest.mark.asyncio
async def test_quantities_outside_the_lot_limits_and_orders_worth_too_little_are_invalid(env: Env) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="exceeded lower limit"):
        await env("create_order", BTC, "limit", "buy", 0.00001, 50_000)
    assert env.code() == 170136
    with pytest.raises(ccxt.InvalidOrder, match="exceeded upper limit"):
        await env("create_order", BTC, "limit", "buy", 20_000_000, 50_000)
    assert env.code() == 170135
    with pytest.raises(ccxt.InvalidOrder, match="Order value exceeded lower limit"):
        await env("create_order", BTC, "limit", "buy", 0.0001, 40_000)
    assert env.code() == 170140
    with pytest.raises(ccxt.InvalidOrder, match="Order value exceeded lower limit"):
        await env("create_market_buy_order_with_cost", BTC, 4)
    assert env.code() == 170140


@pytest.mark.asyncio
async def test_quantities_and_prices_finer_than_the_pair_allows_have_too_many_decimals(env: Env) -> None:
    # ccxt rounds what it sends through create_order; a bot's own request does not.
    with pytest.raises(ccxt.InvalidOrder, match="quantity has too many decimals"):
        await env(CREATE, _limit(qty="0.0010001"))
    assert env.code() == 170137
    with pytest.raises(ccxt.InvalidOrder, match="price has too many decimals"):
        await env(CREATE, _limit(price="50000.05"))
    assert env.code() == 170134


def test_a_price_off_the_tick_is_answered_like_too_many_decimals() -> None:
    reject = spot_reject_for(TickSizeError("price", "50000.05"))
    assert (reject.code, reject.message) == (170134, "Order price has too many decimals.")
    fallback = spot_reject_for(BookError("anything else"))
    assert fallback.code == 10016


@pytest.mark.asyncio
async def test_malformed_order_fields_are_params_errors(env: Env) -> None:
    cases = [
        (_limit(symbol=""), "symbol invalid"),
        (_limit(symbol="NOPEUSDT"), "Not supported symbols"),
        (_limit(side="Long"), "side Long invalid"),
        (_limit(orderType="Stop"), "orderType Stop invalid"),
        (_limit(orderFilter="OcoOrder"), "orderFilter OcoOrder invalid"),
        (_limit(orderFilter="StopOrder"), "triggerPrice invalid"),
        (_limit(timeInForce="GTD"), "timeInForce GTD invalid"),
        (_limit(price=""), "price invalid"),
        (_limit(qty=""), "qty invalid"),
        (_limit(orderType="Market", marketUnit="coins"), "marketUnit coins invalid"),
        (
            _limit(orderFilter="StopOrder", triggerPrice="61000", triggerDirection="up"),
            "TriggerDirection invalid",
        ),
    ]
    for params, message in cases:
        with pytest.raises(ccxt.BadRequest, match=message):
            await env(CREATE, params)
        assert env.code() == 10001, params
    assert env.venue.spot.orders == {}


# ---------------------------------------------------------------------- order lookups


@pytest.mark.asyncio
async def test_an_unknown_order_id_is_order_not_found_on_cancel_and_on_fetch(env: Env) -> None:
    with pytest.raises(ccxt.OrderNotFound, match="170213"):
        await env("cancel_order", "1234567890", BTC)
    assert env.code() == 170213
    with pytest.raises(ccxt.OrderNotFound):
        await env("fetch_order", "1234567890", BTC, ACK)
    with pytest.raises(ccxt.BadRequest, match="orderId or orderLinkId is required"):
        await env("private_post_v5_order_cancel", {"category": "spot", "symbol": "BTCUSDT"})


@pytest.mark.asyncio
async def test_cancelling_a_filled_order_is_order_not_found_and_the_fill_stays(env: Env) -> None:
    bought = await env("create_order", BTC, "market", "buy", 0.01)
    with pytest.raises(ccxt.OrderNotFound, match="170213"):
        await env("cancel_order", bought["id"], BTC)
    fetched = await env("fetch_order", bought["id"], BTC, ACK)
    assert (fetched["status"], fetched["filled"], fetched["average"]) == ("closed", 0.01, 60_000)
    assert fetched["fee"]["cost"] == 0.6


@pytest.mark.asyncio
async def test_a_reused_order_link_id_is_a_duplicate_and_orders_are_found_by_it(env: Env) -> None:
    await env("create_order", BTC, "limit", "buy", 0.001, 50_000, {"clientOrderId": "bot-1"})
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate clientOrderId"):
        await env("create_order", BTC, "limit", "buy", 0.001, 50_000, {"clientOrderId": "bot-1"})
    assert env.code() == 170141
    # ccxt passes the link id through under Bybit's own name.
    cancelled = await env("cancel_order", None, BTC, {"orderLinkId": "bot-1"})
    assert cancelled["clientOrderId"] == "bot-1"
    [row] = await env("fetch_canceled_orders", BTC)
    assert (row["clientOrderId"], row["status"]) == ("bot-1", "canceled")


@pytest.mark.asyncio
async def test_open_orders_are_listed_per_pair_and_for_the_whole_account(env: Env) -> None:
    btc = await env("create_order", BTC, "limit", "buy", 0.001, 50_000)
    eth = await env("create_order", "ETH/USDT", "limit", "buy", 0.1, 2_000)
    assert [o["id"] for o in await env("fetch_open_orders", BTC)] == [btc["id"]]
    everything = await env("private_get_v5_order_realtime", {"category": "spot"})
    assert sorted(row["orderId"] for row in everything["result"]["list"]) == sorted([btc["id"], eth["id"]])
    await env("cancel_all_orders", BTC)
    assert await env("fetch_open_orders", BTC) == []
    [closed] = await env("fetch_canceled_orders", BTC)
    assert closed["id"] == btc["id"]
    everything = await env("private_get_v5_order_realtime", {"category": "spot", "orderStatus": "New"})
    assert [row["orderId"] for row in everything["result"]["list"]] == [eth["id"]]


# ------------------------------------------------------------------- fills and stops


@pytest.mark.asyncio
async def test_a_resting_limit_fills_when_the_price_reaches_it(env: Env) -> None:
    resting = await env("create_order", BTC, "limit", "buy", 0.01, 59_000)
    env.venue.set_price(BTC, 59_500)
    assert [o["id"] for o in await env("fetch_open_orders", BTC)] == [resting["id"]]
    env.venue.set_price(BTC, 58_900)
    assert await env("fetch_open_orders", BTC) == []
    [filled] = await env("fetch_closed_orders", BTC)
    assert (filled["id"], filled["status"], filled["filled"], filled["average"]) == (
        resting["id"],
        "closed",
        0.01,
        59_000,
    )
    balance = await env("fetch_balance")
    # Maker fee 0.1 % of 590 USDT, out of the unified wallet.
    assert (balance["BTC"]["total"], round(balance["USDT"]["total"], 6)) == (0.01, 10_000 - 590 - 0.59)


@pytest.mark.asyncio
async def test_a_post_only_order_that_would_take_is_refused(env: Env) -> None:
    with pytest.raises(ccxt.BadRequest, match="PostOnly order would take liquidity"):
        await env("create_order", BTC, "limit", "buy", 0.01, 61_000, {"postOnly": True})
    assert env.code() == 10001
    await env("create_order", BTC, "limit", "buy", 0.01, 59_000, {"postOnly": True})
    [row] = (await env("private_get_v5_order_realtime", {"category": "spot"}))["result"]["list"]
    assert row["timeInForce"] == "PostOnly"


@pytest.mark.asyncio
async def test_stop_orders_wait_untriggered_then_fill_when_the_price_crosses(env: Env) -> None:
    await env("create_order", BTC, "market", "buy", 0.02)
    assert env.body()["marketUnit"] == "baseCoin"
    stop = await env("create_order", BTC, "market", "sell", 0.01, None, {"stopLossPrice": 55_000})
    assert env.body()["orderFilter"] == "tpslOrder"
    breakout = await env("create_order", BTC, "limit", "buy", 0.001, 66_000, {"triggerPrice": 65_000})
    assert (env.body()["orderFilter"], "triggerDirection" in env.body()) == ("StopOrder", False)
    rows = (await env("private_get_v5_order_realtime", {"category": "spot", "orderFilter": "tpslOrder"}))[
        "result"
    ]["list"]
    # int(): the oldest supported ccxt hands the implicit API's numbers back as text.
    assert [(r["orderId"], r["orderStatus"], int(r["triggerDirection"])) for r in rows] == [
        (stop["id"], "Untriggered", 2)
    ]
    assert sorted(o.intent for o in env.venue.open_orders(BTC)) == ["entry", "stop_loss"]
    with pytest.raises(ccxt.BadRequest, match="would trigger immediately"):
        await env("create_order", BTC, "market", "sell", 0.001, None, {"stopLossPrice": 61_000})
    assert env.code() == 10001

    env.venue.set_price(BTC, 65_500)
    bought = await env("fetch_order", breakout["id"], BTC, ACK)
    # Triggered at 65,500, its 66,000 limit crosses and buys at the market.
    assert (bought["status"], bought["average"]) == ("closed", 65_500)
    env.venue.set_price(BTC, 54_000)
    stopped = await env("fetch_order", stop["id"], BTC, ACK)
    assert (stopped["status"], stopped["average"]) == ("closed", 54_000)


@pytest.mark.asyncio
async def test_cancelling_all_stops_leaves_the_plain_orders(env: Env) -> None:
    await env("create_order", BTC, "market", "buy", 0.01)
    await env("create_order", BTC, "market", "sell", 0.01, None, {"stopLossPrice": 55_000})
    plain = await env("create_order", BTC, "limit", "buy", 0.001, 50_000)
    await env(
        "private_post_v5_order_cancel_all",
        {"category": "spot", "symbol": "BTCUSDT", "orderFilter": "tpslOrder"},
    )
    assert [o["id"] for o in await env("fetch_open_orders", BTC)] == [plain["id"]]
    rows = (await env("private_get_v5_order_history", {"category": "spot", "orderFilter": "Order"}))[
        "result"
    ]["list"]
    assert [r["orderStatus"] for r in rows] == ["Filled"]


@pytest.mark.asyncio
async def test_a_market_buy_is_sized_in_usdt_unless_told_otherwise(env: Env) -> None:
    await env("create_market_buy_order_with_cost", BTC, 600)
    # ccxt names no unit for a buy sized by its cost: Bybit's default, the buy spends 600 USDT.
    assert ("marketUnit" in env.body(), env.body()["qty"]) == (False, "600")
    market = {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market"}
    placed = await env(CREATE, {**market, "qty": "600", "marketUnit": "quoteCoin"})
    history = await env(
        "private_get_v5_order_history", {"category": "spot", "orderId": placed["result"]["orderId"]}
    )
    [row] = history["result"]["list"]
    assert (row["qty"], row["cumExecQty"], row["marketUnit"]) == ("600", "0.01", "quoteCoin")
    assert (await env("fetch_balance"))["BTC"]["total"] == 0.02


# ----------------------------------------------------------------------- market data


@pytest.mark.asyncio
async def test_spot_tickers_answer_per_pair_and_for_every_pair(env: Env) -> None:
    ticker = await env("fetch_ticker", BTC)
    assert (ticker["symbol"], ticker["last"]) == (BTC, 60_000)
    tickers = await env("fetch_tickers", [BTC, "ETH/USDT"])
    assert set(tickers) == {BTC, "ETH/USDT"}
    with pytest.raises(ccxt.BadRequest, match="Not supported symbols"):
        await env("public_get_v5_market_tickers", {"category": "spot", "symbol": "NOPEUSDT"})


def test_a_spot_order_the_venue_cannot_read_is_classified_as_other() -> None:
    venue = BybitVenue(context())

    def create(body: dict[str, str]) -> ExchangeRequest:
        return ExchangeRequest(
            method="POST",
            url="https://api.bybit.com/v5/order/create",
            headers={},
            body=json.dumps({"category": "spot", **body}).encode(),
            client="test",
        )

    odd = venue.classify(create({"symbol": "BTCUSDT", "side": "Buy", "orderType": "Stop", "qty": "1"}))
    assert (odd.intent, odd.symbol) == ("other", BTC)
    bad_direction = create(
        {"symbol": "BTCUSDT", "side": "Sell", "orderType": "Market", "qty": "1", "orderFilter": "tpslOrder"}
        | {"triggerPrice": "50000", "triggerDirection": "sideways"}
    )
    plain = venue.classify(bad_direction)
    # Unreadable trigger: read as the plain sell it would be without one.
    assert (plain.intent, plain.order and plain.order.trigger_price) == ("exit", None)
    stop = venue.classify(
        create(
            {"symbol": "BTCUSDT", "side": "Sell", "orderType": "Market", "qty": "1", "triggerPrice": "50000"}
        )
    )
    assert stop.intent == "stop_loss"
    unknown = venue.classify(create({"symbol": "NOPEUSDT", "side": "Buy", "orderType": "Market", "qty": "1"}))
    assert unknown.symbol is None
    assert Decimal(venue.spot.marks["BTCUSDT"]) == 60_000
