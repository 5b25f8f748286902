"""Bybit v5 websocket streams through real, unmodified ccxt.pro: what ``watch_*`` returns comes
from the same book REST answers from, and survives the stream faults."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from pytest_exchange_chaos import ChaosController, Wave, faults

pytestmark = pytest.mark.asyncio

BTC = "BTC/USDT:USDT"


def _total_is_equity() -> bool:
    import inspect

    import ccxt.pro

    return "'equity', 'walletBalance'" in inspect.getsource(ccxt.pro.bybit.parse_ws_balance)


_TOTAL_IS_EQUITY = _total_is_equity()
KEYS = {"apiKey": "test-key-0123456789", "secret": "test-secret-abcdef"}


@pytest_asyncio.fixture
async def pro(exchange_chaos: ChaosController) -> AsyncIterator[Any]:
    """Real ccxt.pro bybit, with keys, closed afterwards."""
    import ccxt.pro

    exchange = ccxt.pro.bybit(dict(KEYS))
    try:
        yield exchange
    finally:
        await exchange.close()


async def _next(awaitable: Any, seconds: float = 30) -> Any:
    return await asyncio.wait_for(awaitable, seconds)


async def _subscribed(chaos: ChaosController, *topics: str) -> None:
    """Until the bot's watch_* calls have subscribed to ``topics`` (ccxt sends the subscription
    from a task of its own)."""
    for _ in range(1000):
        hub = _hub(chaos) if _hub_exists(chaos) else None
        have = {t for c in hub.connections if c.open for t in c.topics} if hub is not None else set()
        if set(topics) <= have:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never subscribed to {topics}")


def _numbers_as_text(row: dict[str, Any]) -> dict[str, Any]:
    """A row with its integers as text: ccxt before 4.5 reads REST bodies with
    ``quoteJsonNumbers`` (``parse_int=str``) and stream messages without it."""
    return {k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in row.items()}


def _hub_exists(chaos: ChaosController) -> bool:
    from pytest_exchange_chaos.streams import StreamHub

    return StreamHub.existing(chaos._engine) is not None


async def test_public_streams_show_the_venues_mark(pro: Any, exchange_chaos: ChaosController) -> None:
    ticker = await _next(pro.watch_ticker(BTC))
    book = await _next(pro.watch_order_book(BTC))
    candles = await _next(pro.watch_ohlcv(BTC, "1m"))
    rest = await pro.fetch_ticker(BTC)

    assert ticker["last"] == rest["last"] == 60_000
    assert book["bids"][0][0] < 60_000 < book["asks"][0][0]
    assert candles[-1][4] == 60_000

    moved = asyncio.ensure_future(pro.watch_ticker(BTC))
    await asyncio.sleep(0.01)
    exchange_chaos.venue("bybit").set_price(BTC, 61_234.5)
    assert (await _next(moved))["last"] == 61_234.5


async def test_a_fill_after_set_price_is_seen_on_every_private_stream_and_over_rest(
    pro: Any, exchange_chaos: ChaosController
) -> None:
    placed_seen = asyncio.ensure_future(pro.watch_orders(BTC))
    await _subscribed(exchange_chaos, "order")
    entry = await pro.create_order(BTC, "limit", "buy", 0.01, 59_000)
    [open_order] = await _next(placed_seen)
    assert (open_order["id"], open_order["status"], open_order["filled"]) == (entry["id"], "open", 0)

    orders = asyncio.ensure_future(pro.watch_orders(BTC))
    trades = asyncio.ensure_future(pro.watch_my_trades(BTC))
    balance = asyncio.ensure_future(pro.watch_balance())
    await _subscribed(exchange_chaos, "order", "execution", "wallet")
    exchange_chaos.venue("bybit").set_price(BTC, 58_500)

    [filled] = [o for o in await _next(orders) if o["id"] == entry["id"]]
    [trade] = await _next(trades)
    wallet = await _next(balance)
    rest = await pro.fetch_order(entry["id"], BTC, {"acknowledged": True})
    assert (filled["status"], filled["filled"], filled["average"]) == ("closed", 0.01, 59_000)
    assert (rest["status"], rest["filled"], rest["average"]) == ("closed", 0.01, 59_000)
    assert (trade["order"], trade["amount"], trade["price"], trade["side"]) == (
        entry["id"],
        0.01,
        59_000,
        "buy",
    )
    paid = 10_000 - 0.01 * 59_000 * 0.0002
    # ccxt.pro 4.5 totals a unified account at its equity (the long is 5 USDT under water); 4.4
    # at its wallet balance. The message carries both.
    assert wallet["USDT"]["total"] == pytest.approx(paid - 0.01 * 500 if _TOTAL_IS_EQUITY else paid)

    positions = asyncio.ensure_future(pro.watch_positions([BTC]))
    [snapshot] = await _next(positions)  # ccxt.pro's first answer: the REST snapshot
    assert (snapshot["side"], snapshot["contracts"]) == ("long", 0.01)


async def test_a_stop_that_set_price_triggers_is_seen_on_the_stream_and_over_rest(
    pro: Any, exchange_chaos: ChaosController
) -> None:
    await pro.create_order(BTC, "market", "buy", 0.01)
    stop = await pro.create_order(
        BTC, "market", "sell", 0.01, None, {"triggerPrice": 57_000, "triggerDirection": 2, "reduceOnly": True}
    )
    await _next(pro.watch_positions([BTC]))  # the REST snapshot; updates follow
    orders = asyncio.ensure_future(pro.watch_orders(BTC))
    positions = asyncio.ensure_future(pro.watch_positions([BTC]))
    await _subscribed(exchange_chaos, "order", "position")
    exchange_chaos.venue("bybit").set_price(BTC, 56_900)

    [streamed] = [o for o in await _next(orders) if o["id"] == stop["id"]]
    rest = await pro.fetch_order(stop["id"], BTC, {"acknowledged": True})
    [flat] = await _next(positions)
    assert (streamed["status"], streamed["filled"]) == (rest["status"], rest["filled"]) == ("closed", 0.01)
    assert flat["contracts"] == 0
    assert exchange_chaos.venue("bybit").positions() == []


async def test_ccxt_keeps_its_stream_alive_on_the_chaos_clock(
    pro: Any, exchange_chaos: ChaosController
) -> None:
    # ccxt pings every 18 s and drops a connection whose pongs stop: an hour of it takes no time.
    watching = asyncio.ensure_future(pro.watch_orders(BTC))
    await _subscribed(exchange_chaos, "order")
    await asyncio.sleep(3600)
    assert not watching.done()
    entry = await pro.create_order(BTC, "market", "buy", 0.01)
    [filled] = await _next(watching)
    assert (filled["id"], filled["status"]) == (entry["id"], "closed")
    [private] = [c for c in _hub(exchange_chaos).connections if c.path == "/v5/private"]
    assert private.open
    pings = [
        r
        for r in _hub(exchange_chaos).records_for("bybit", private.id)
        if r.event == "received" and "ping" in r.detail
    ]
    assert len(pings) >= 3600 // 18 - 2  # every one answered: the connection was never dropped


@pytest.mark.exchange_chaos(Wave("10s", "2m", faults.stream.disconnect(1006), stream="private"))
@pytest.mark.parametrize(("fill_at", "heard_on"), [(150, "stream"), (30, "rest")])
async def test_a_bot_waiting_for_its_fill_on_watch_orders_survives_a_disconnect_wave(
    pro: Any, exchange_chaos: ChaosController, fill_at: float, heard_on: str
) -> None:
    entry = await pro.create_order(BTC, "limit", "buy", 0.01, 59_000)
    seen, source = await _wait_for_fill(pro, entry["id"], exchange_chaos, fill_at=fill_at)

    assert (seen["status"], seen["filled"], source) == ("closed", 0.01, heard_on)
    closes = [r for r in _hub(exchange_chaos).records if r.event == "closed" and r.code == 1006]
    assert closes and closes[0].t == 10
    if heard_on == "stream":  # the wave ended at +130 s: ccxt reconnected and heard the fill
        assert exchange_chaos.now() >= 150
        exchange_chaos.assert_state_reconciled()


async def _wait_for_fill(
    pro: Any, order_id: str, chaos: ChaosController, *, fill_at: float
) -> tuple[Any, str]:
    """A bot's loop: watch until the order is filled; after a broken stream (ccxt reconnects on
    the next watch), read the order back over REST, since news may have been lost meanwhile.
    The market reaches the order's price at ``fill_at``."""
    loop = asyncio.get_running_loop()
    loop.call_later(fill_at - chaos.now(), lambda: chaos.venue("bybit").set_price(BTC, 58_000))
    for _ in range(1000):  # a broken stream must fail the test, not hang it
        try:
            orders = await asyncio.wait_for(pro.watch_orders(BTC), 600)
        except Exception:  # ccxt's NetworkError on the dropped connection, and on each retry
            order = await pro.fetch_order(order_id, BTC, {"acknowledged": True})
            if order["status"] == "closed":
                return order, "rest"
            await asyncio.sleep(1)
            continue
        for order in orders:
            if order["id"] == order_id and order["status"] == "closed":
                return order, "stream"
    raise AssertionError(f"order {order_id} never filled")


def _hub(chaos: ChaosController) -> Any:
    from pytest_exchange_chaos.streams import StreamHub

    hub = StreamHub.existing(chaos._engine)
    assert hub is not None
    return hub


# -- the protocol itself, as a hand-written aiohttp bot speaks it ------------------------------------


@contextlib.asynccontextmanager
async def _public_and_private(private_host: str = "stream.bybit.com") -> AsyncIterator[tuple[Any, Any]]:
    """A hand-written bot's two sockets: the public linear stream and the private one."""
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect("wss://stream.bybit.com/v5/public/linear") as public,
        session.ws_connect(f"wss://{private_host}/v5/private") as private,
    ):
        yield public, private


@pytest.mark.usefixtures("exchange_chaos")
async def test_the_gateway_answers_pings_auth_and_subscriptions_as_bybit_does() -> None:
    async with _public_and_private("stream-testnet.bybit.com") as (public, private):
        await public.send_json({"req_id": "7", "op": "ping"})
        assert (await public.receive_json())["ret_msg"] == "pong"
        await public.send_json({"req_id": "8", "op": "subscribe", "args": ["tickers.NOPEUSDT"]})
        refused = await public.receive_json()
        assert (refused["success"], refused["req_id"]) == (False, "8")
        await public.send_json({"req_id": "9", "op": "subscribe", "args": ["orderbook.50.BTCUSDT"]})
        assert (await public.receive_json())["success"] is True
        snapshot = await public.receive_json()
        assert (snapshot["topic"], snapshot["type"], len(snapshot["data"]["b"])) == (
            "orderbook.50.BTCUSDT",
            "snapshot",
            50,
        )

        await private.send_json({"op": "subscribe", "req_id": "1", "args": ["order"]})
        assert (await private.receive_json())["ret_msg"] == "Request not authorized"
        await private.send_json({"op": "auth", "args": ["key", "1000", "0" * 64]})  # expired in 1970
        assert (await private.receive_json())["success"] is False
        await private.send_json({"op": "auth", "args": ["key", "4102444800000", "0" * 64]})  # 2100
        assert (await private.receive_json())["success"] is True
        await private.send_json({"op": "ping", "req_id": "2"})
        pong = await private.receive_json()
        assert (pong["op"], pong["req_id"]) == ("pong", "2")


@pytest.mark.usefixtures("exchange_chaos")
async def test_requests_bybit_would_refuse_are_refused_with_its_words() -> None:
    async with _public_and_private() as (public, private):
        for text in ("{not json", '["subscribe"]'):
            await public.send_str(text)
            assert (await public.receive_json())["ret_msg"] == "error:request not json"
        await public.send_json({"op": "subscribe_all", "args": []})
        assert (await public.receive_json())["ret_msg"] == "error:invalid op subscribe_all"
        for topic in ("kline.7.BTCUSDT", "orderbook.25.BTCUSDT", "tickers.BTCUSDT.extra"):
            await public.send_json({"op": "subscribe", "args": [topic]})  # no req_id: none echoed
            refused = await public.receive_json()
            assert (refused["success"], refused["ret_msg"], "req_id" in refused) == (
                False,
                f"Invalid topic :[{topic}]",
                False,
            )
        await public.send_json({"op": "auth", "args": ["key", "4102444800000", "0" * 64]})
        assert "invalid op auth" in (await public.receive_json())["ret_msg"]  # public streams have none

        await private.send_json({"op": "subscribe", "req_id": "1", "args": ["tickers.BTCUSDT"]})
        assert (await private.receive_json())["ret_msg"] == "Invalid topic :[tickers.BTCUSDT]"
        for args, why in (
            (["", "4102444800000", "0" * 64], "Request not authorized"),
            (["key", "soon", "0" * 64], "Params Error"),
            (["key", "4102444800000", "not a signature"], "Error sign, please check your signature"),
        ):
            await private.send_json({"op": "auth", "args": args})
            refused = await private.receive_json()
            assert (refused["success"], refused["ret_msg"][: len(why)]) == (False, why)
        await private.send_json({"op": "auth", "args": ["key", "4102444800000", "0" * 64]})
        assert (await private.receive_json())["success"] is True
        await private.send_json({"op": "subscribe", "req_id": "2", "args": ["order", "wallet"]})
        assert (await private.receive_json())["success"] is True
        await private.send_json({"op": "unsubscribe", "req_id": "3", "args": ["wallet"]})
        assert await private.receive_json() == {
            "success": True,
            "ret_msg": "",
            "conn_id": "chaos000002-private",
            "op": "unsubscribe",
            "req_id": "3",
        }


@pytest.mark.usefixtures("exchange_chaos")
async def test_a_path_bybit_does_not_serve_refuses_the_handshake() -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect("wss://stream.bybit.com/v5/trade")
    assert refused.value.status == 404


async def test_stream_rows_are_the_rest_rows(pro: Any, exchange_chaos: ChaosController) -> None:
    watching = asyncio.ensure_future(pro.watch_orders(BTC))
    await _subscribed(exchange_chaos, "order")
    entry = await pro.create_order(BTC, "limit", "buy", 0.01, 59_000, {"clientOrderId": "mine-1"})
    [streamed] = await _next(watching)
    rest = await pro.fetch_order(entry["id"], BTC, {"acknowledged": True})
    assert _numbers_as_text(streamed["info"]) == _numbers_as_text({"category": "linear", **rest["info"]})
    assert json.dumps(streamed["clientOrderId"]) == '"mine-1"'


NOT_SIMULATED = "exchange-chaos does not simulate"


async def test_a_spot_ticker_watch_fails_at_once_instead_of_showing_the_perpetual(
    pro: Any, exchange_chaos: ChaosController
) -> None:
    import ccxt

    with pytest.raises(ccxt.ExchangeError) as refused:
        await _next(pro.watch_ticker("BTC/USDT"), 5)
    assert f"{NOT_SIMULATED} Bybit spot streams (/v5/public/spot)" in str(refused.value)
    assert "the linear ones are at /v5/public/linear" in str(refused.value)
    with pytest.raises(ccxt.ExchangeError, match=f"{NOT_SIMULATED} Bybit's publicTrade stream"):
        await _next(pro.watch_trades(BTC), 5)
    [spot, trades] = exchange_chaos.unserved
    assert spot.describe().startswith("Bybit spot streams (/v5/public/spot): subscribe tickers.BTCUSDT")
    assert trades.describe().startswith("Bybit's publicTrade stream: subscribe publicTrade.BTCUSDT")
    exchange_chaos._engine.unserved.clear()  # refused on purpose; test_stream_names has the failing bot


@pytest.mark.usefixtures("exchange_chaos")
async def test_gateways_and_topics_the_venue_does_not_publish_answer_bybits_subscription_error(
    exchange_chaos: ChaosController,
) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        for path in ("/v5/public/inverse", "/v5/public/option"):
            async with session.ws_connect(f"wss://stream.bybit.com{path}") as ws:
                await ws.send_json({"req_id": "1", "op": "subscribe", "args": ["tickers.BTCUSDT"]})
                refused = await ws.receive_json()
                assert (refused["success"], refused["req_id"], refused["op"]) == (False, "1", "subscribe")
                assert refused["ret_msg"].startswith(
                    f"{NOT_SIMULATED} Bybit {path.rsplit('/', 1)[-1]} streams"
                )
        async with _public_and_private() as (public, private):
            for topic in ("liquidation.BTCUSDT", "tickers_lt.BTC3LUSDT", "allLiquidation.BTCUSDT"):
                await public.send_json({"req_id": "2", "op": "subscribe", "args": ["tickers.BTCUSDT", topic]})
                refused = await public.receive_json()
                assert refused["success"] is False
                assert refused["ret_msg"].startswith(f"{NOT_SIMULATED} Bybit's {topic.split('.')[0]} stream")
            await private.send_json({"op": "auth", "args": ["key", "4102444800000", "0" * 64]})
            assert (await private.receive_json())["success"] is True
            await private.send_json({"op": "subscribe", "req_id": "3", "args": ["order", "greeks"]})
            refused = await private.receive_json()
            assert refused["ret_msg"] == (
                f"{NOT_SIMULATED} Bybit's greeks stream (greeks); it publishes order, execution, "
                "position and wallet on /v5/private"
            )
            assert not [t for c in _hub(exchange_chaos).connections for t in c.topics]  # none subscribed
    assert len(exchange_chaos.unserved) == 6
    exchange_chaos._engine.unserved.clear()  # refused on purpose
