"""Binance USD-M streams through real ccxt.pro: what watch_* sees comes from the same book the
REST side answers from, and no socket is ever opened (the guard would fail the test). Then the
socket and the gateway as a hand-written aiohttp bot uses them: sends, receives, pings and
closes as aiohttp's ``ClientWebSocketResponse`` does them, and Binance's answers to requests it
cannot serve."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import ccxt
import pytest
from pro_harness import hub_of
from venue_harness import needs_algo_stops

from pytest_exchange_chaos import Burst, Wave, faults
from pytest_exchange_chaos.controller import ChaosController
from pytest_exchange_chaos.streams import OrderFact, PositionFact, StreamHub

pro = pytest.importorskip("ccxt.pro")

API_KEYS = {"apiKey": "test-key-0123456789", "secret": "test-secret-abcdef"}
BTC = "BTC/USDT:USDT"
STOP_LOSS = (BTC, "market", "sell", 0.01, None, {"stopLossPrice": 58_000, "reduceOnly": True})


async def placed_while_watching(exchange: Any, *order: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Place an order over REST while watch_orders waits (subscribed first, as ccxt subscribes
    from a task of its own): the order, and what the stream then said."""
    watching = asyncio.ensure_future(exchange.watch_orders(BTC))
    await asyncio.sleep(1)
    placed = await exchange.create_order(*order)
    return placed, await watching


def assert_no_socket_opened(controller: ChaosController) -> None:
    # Anything that left the process (a DNS lookup, a TCP connect, an unserved websocket) is
    # refused by the guard and listed here.
    assert controller.unserved == []
    assert hub_of(controller).connections


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_watch_ticker_follows_the_venues_price(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    ticker = await binance_pro.watch_ticker(BTC)
    assert ticker["symbol"] == BTC
    assert ticker["last"] == pytest.approx(60_000)

    exchange_chaos.venue("binanceusdm").set_price(BTC, 61_500)
    ticker = await binance_pro.watch_ticker(BTC)
    assert ticker["last"] == pytest.approx(61_500)
    # REST says the same
    assert (await binance_pro.fetch_ticker(BTC))["last"] == pytest.approx(61_500)
    assert_no_socket_opened(exchange_chaos)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_mark_price_and_candles_stream(exchange_chaos: ChaosController, binance_pro: Any) -> None:
    mark = await binance_pro.watch_mark_price(BTC)
    assert mark["markPrice"] == pytest.approx(60_000)
    candles = await binance_pro.watch_ohlcv(BTC, "1m")
    assert candles[-1][4] == pytest.approx(60_000)
    exchange_chaos.venue("binanceusdm").set_price(BTC, 59_000)
    candles = await binance_pro.watch_ohlcv(BTC, "1m")
    assert candles[-1][4] == pytest.approx(59_000)
    assert_no_socket_opened(exchange_chaos)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_watch_tickers_of_every_market_follows_each_price(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    tickers = await binance_pro.watch_tickers()  # a list stream: !miniTicker@arr (!ticker@arr before 4.5)
    eth = "ETH/USDT:USDT"
    assert {BTC, eth} <= set(tickers)
    exchange_chaos.venue("binanceusdm").set_price(eth, 3_150)
    tickers = await binance_pro.watch_tickers()
    assert (tickers[eth]["last"], tickers[BTC]["last"]) == (pytest.approx(3_150), pytest.approx(60_000))
    topics = {t for c in hub_of(exchange_chaos).connections for t in c.topics}
    assert len(topics) == 1 and topics <= {"!ticker@arr", "!miniTicker@arr"}


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_watch_orders_sees_the_fill_of_an_order_placed_over_rest(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    order, watched = await placed_while_watching(binance_pro, BTC, "limit", "buy", 0.01, 59_000)
    assert [(o["id"], o["status"]) for o in watched] == [(order["id"], "open")]

    exchange_chaos.venue("binanceusdm").set_price(BTC, 58_900)
    fills = await binance_pro.watch_orders(BTC)
    mine = [o for o in fills if o["id"] == order["id"]]
    assert mine[-1]["status"] == "closed"
    assert mine[-1]["filled"] == pytest.approx(0.01)
    # the REST side agrees
    assert (await binance_pro.fetch_order(order["id"], BTC))["status"] == "closed"
    facts, _ = hub_of(exchange_chaos).facts_seen("binanceusdm")
    assert facts[order["id"]] == OrderFact(
        "binanceusdm", order["id"], BTC, "closed", 0.01, 0.01, order["clientOrderId"]
    )
    assert_no_socket_opened(exchange_chaos)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_a_stop_triggered_by_set_price_is_seen_on_rest_and_on_the_stream(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    await placed_while_watching(binance_pro, BTC, "market", "buy", 0.01)
    stop, seen = await placed_while_watching(binance_pro, *STOP_LOSS)  # the stop as placed
    assert any(o["id"] == stop["id"] and o["status"] == "open" for o in seen)

    exchange_chaos.venue("binanceusdm").set_price(BTC, 57_900)
    updates: list[dict[str, Any]] = []
    while not any(o["id"] == stop["id"] and o["status"] == "closed" for o in updates):
        updates = await binance_pro.watch_orders(BTC)
    positions = await binance_pro.watch_positions([BTC])
    assert [p["contracts"] for p in positions if p["symbol"] == BTC] in ([0], [0.0], [])
    assert exchange_chaos.venue("binanceusdm").positions() == []
    assert await binance_pro.fetch_positions([BTC]) == [] or all(
        not p["contracts"] for p in await binance_pro.fetch_positions([BTC])
    )


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_an_order_placed_before_the_stream_opened_is_not_replayed_but_its_fill_is_sent(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    entry = await binance_pro.create_order(BTC, "limit", "buy", 0.01, 59_000)
    watching = asyncio.ensure_future(binance_pro.watch_orders(BTC))
    await asyncio.sleep(60)
    assert not watching.done()  # Binance sends no snapshot of the orders already open
    exchange_chaos.venue("binanceusdm").set_price(BTC, 58_900)
    [filled] = await watching
    assert (filled["id"], filled["status"], filled["filled"]) == (entry["id"], "closed", 0.01)


@needs_algo_stops
@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_a_cancelled_stop_is_seen_cancelled_on_the_stream(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    await placed_while_watching(binance_pro, BTC, "market", "buy", 0.01)
    stop, _ = await placed_while_watching(binance_pro, *STOP_LOSS)
    watching = asyncio.ensure_future(binance_pro.watch_orders(BTC))
    await asyncio.sleep(1)
    await binance_pro.cancel_order(stop["id"], BTC, {"trigger": True})
    seen = await watching
    assert [(o["id"], o["status"]) for o in seen if o["id"] == stop["id"]] == [(stop["id"], "canceled")]
    facts, _ = hub_of(exchange_chaos).facts_seen("binanceusdm")
    assert facts[stop["id"]].status == "canceled"


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_watch_positions_sees_a_position_opened_over_rest(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    assert await binance_pro.watch_positions([BTC]) == []  # the REST snapshot ccxt starts from
    pending = asyncio.ensure_future(binance_pro.watch_positions([BTC]))
    await asyncio.sleep(0)
    await binance_pro.create_order(BTC, "market", "buy", 0.02)
    positions = await pending
    assert [(p["symbol"], p["contracts"], p["side"]) for p in positions] == [(BTC, 0.02, "long")]
    _, seen = hub_of(exchange_chaos).facts_seen("binanceusdm")
    assert seen[BTC] == PositionFact("binanceusdm", BTC, 0.02, "long")
    assert_no_socket_opened(exchange_chaos)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_a_stream_the_venue_does_not_publish_fails_loudly(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    # Waiting forever on a stream nobody publishes would pass nothing and fail nothing.
    with pytest.raises(ccxt.ExchangeError, match="not simulated"):
        await asyncio.wait_for(binance_pro.watch_trades(BTC), 600)
    # ...and a bot that swallows the error still fails by name (test_stream_names shows it).
    [refusal] = exchange_chaos.unserved
    assert refusal.describe().startswith("Binance USD-M: SUBSCRIBE btcusdt@trade")
    exchange_chaos._engine.unserved.clear()  # refused on purpose


def levels(book: dict[str, Any], depth: int) -> tuple[list[list[float]], list[list[float]]]:
    return [list(level[:2]) for level in book["bids"][:depth]], [
        list(level[:2]) for level in book["asks"][:depth]
    ]


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
@pytest.mark.parametrize("limit", [None, 5])
async def test_watch_order_book_is_the_rest_book_and_moves_with_it(
    exchange_chaos: ChaosController, binance_pro: Any, limit: int | None
) -> None:
    # ccxt syncs the diff stream with a REST snapshot (its U/u/pu check) and applies the diffs.
    shown = limit or 1000
    book = await binance_pro.watch_order_book(BTC, limit)
    assert book["nonce"] is not None
    assert levels(book, shown) == levels(await binance_pro.fetch_order_book(BTC, 1000), shown)
    for price in (61_500, 61_500.1, 59_000.05):  # far up, a tick up, far down
        await asyncio.sleep(1)
        exchange_chaos.venue("binanceusdm").set_price(BTC, price)
        book = await binance_pro.watch_order_book(BTC, limit)
        assert len(book["bids"]) == len(book["asks"]) == shown
        assert book["bids"][0][0] < price < book["asks"][0][0]
        assert levels(book, shown) == levels(await binance_pro.fetch_order_book(BTC, 1000), shown)
    # Two moves in the same millisecond: two updates under one id (pu == u), applied in order.
    venue = exchange_chaos.venue("binanceusdm")
    venue.set_price(BTC, 60_000)
    venue.set_price(BTC, 60_300)
    book = await binance_pro.watch_order_book(BTC, limit)  # woken by the first
    rest = await binance_pro.fetch_order_book(BTC, 1000)  # meanwhile ccxt applied the second
    assert levels(book.limit(), shown) == levels(rest, shown)
    diffs = [
        r.message.payload
        for r in hub_of(exchange_chaos).records
        if r.event == "delivered" and r.message is not None and r.message.stream == "depth"
    ]
    assert [d["pu"] for d in diffs[1:]] == [d["u"] for d in diffs[:-1]]
    assert diffs[-1]["U"] == diffs[-1]["u"] == diffs[-1]["pu"]
    assert_no_socket_opened(exchange_chaos)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave("10s", "10s", faults.stream.drop(), stream="depth"))
async def test_a_dropped_depth_update_is_a_gap_ccxt_detects_and_a_new_watch_resyncs(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    venue = exchange_chaos.venue("binanceusdm")
    await binance_pro.watch_order_book(BTC)
    for at, price in ((5, 60_500), (15, 61_000), (25, 61_500)):  # the update at +15 s is dropped
        asyncio.get_running_loop().call_later(at - exchange_chaos.now(), venue.set_price, BTC, price)
    assert (await binance_pro.watch_order_book(BTC))["asks"][0][0] == pytest.approx(60_500.1)
    # The update after the gap names a pu the bot never saw: ccxt drops its book and says so.
    with pytest.raises(ccxt.ChecksumError):
        await binance_pro.watch_order_book(BTC)
    assert exchange_chaos.now() == pytest.approx(25, abs=0.5)
    # Watching again subscribes again and syncs from a new REST snapshot: the book is right.
    book = await binance_pro.watch_order_book(BTC)
    assert levels(book, 1000) == levels(await binance_pro.fetch_order_book(BTC, 1000), 1000)
    assert book["asks"][0][0] == pytest.approx(61_500.1)
    dropped = [r for r in hub_of(exchange_chaos).records if r.event == "dropped"]
    assert [(r.t, r.stream) for r in dropped] == [(pytest.approx(15, abs=0.5), "depth")]


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_partial_books_and_diffs_by_hand_on_a_combined_stream(exchange_chaos: ChaosController) -> None:
    rest = ccxt.binanceusdm()
    venue = exchange_chaos.venue("binanceusdm")
    url = "wss://fstream.binance.com/stream?streams=btcusdt@depth"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        # A diff stream says nothing until the book changes; a partial book is sent at once.
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@depth5@100ms"], "id": 1})
        assert await ws.receive_json() == {"result": None, "id": 1}
        first = await ws.receive_json()
        assert first["stream"] == "btcusdt@depth5@100ms"
        top = rest.fapiPublicGetDepth({"symbol": "BTCUSDT", "limit": 5})
        assert (first["data"]["b"], first["data"]["a"]) == (top["bids"], top["asks"])
        assert first["data"]["u"] <= int(top["lastUpdateId"])  # the oldest ccxt: numbers as text
        await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@depth10@500ms"], "id": 2})
        assert await ws.receive_json() == {"result": None, "id": 2}
        assert len((await ws.receive_json())["data"]["b"]) == 10
        await asyncio.sleep(1)
        venue.set_price(BTC, 59_000)
        updates = {}
        for _ in range(3):
            message = await ws.receive_json()
            updates[message["stream"]] = message["data"]
        assert sorted(updates) == ["btcusdt@depth", "btcusdt@depth10@500ms", "btcusdt@depth5@100ms"]
        moved = rest.fapiPublicGetDepth({"symbol": "BTCUSDT", "limit": 1000})
        assert updates["btcusdt@depth5@100ms"]["b"] == moved["bids"][:5]
        assert updates["btcusdt@depth10@500ms"]["a"] == moved["asks"][:10]
        diff = updates["btcusdt@depth"]
        [update_id] = {u["u"] for u in updates.values()}  # one change, one id on every stream
        assert first["data"]["u"] < update_id <= int(moved["lastUpdateId"])
        assert {u["pu"] for u in updates.values()} == {first["data"]["u"]}
        # every level REST shows now, and a zero for each one that left
        gone = [level for level in diff["a"] if float(level[1]) == 0]
        assert diff["b"][: len(moved["bids"])] == moved["bids"]
        assert diff["a"][: len(moved["asks"])] == moved["asks"] and len(gone) > 0
        assert {p for p, _ in gone}.isdisjoint(p for p, _ in moved["asks"])
        await ws.send_json(
            {
                "method": "SUBSCRIBE",
                "params": ["btcusdt@depth7", "btcusdt@depth@250ms", "!depth@arr"],
                "id": 3,
            }
        )
        refused = await ws.receive_json()
        assert (
            refused["id"] == 3
            and "btcusdt@depth7, btcusdt@depth@250ms, !depth@arr" in refused["error"]["msg"]
        )
    [refusal] = exchange_chaos.unserved  # recorded by name: a bot that swallows it still fails
    assert "btcusdt@depth7, btcusdt@depth@250ms, !depth@arr" in refusal.describe()
    exchange_chaos._engine.unserved.clear()  # refused on purpose


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_a_user_stream_with_an_unknown_listen_key_is_refused(exchange_chaos: ChaosController) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect("wss://fstream.binance.com/private/ws?listenKey=" + "x" * 64)
        assert refused.value.status == 400
        # a market stream on the same host, by hand, as a plain aiohttp bot would
        async with session.ws_connect("wss://fstream.binance.com/ws/btcusdt@markPrice", autoping=False) as ws:
            assert (await ws.receive_json())["e"] == "markPriceUpdate"  # the stream the URL names
            await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s"], "id": 7})
            assert await ws.receive_json() == {"result": None, "id": 7}
            update = await ws.receive_json()
            assert (update["e"], update["s"], update["p"]) == ("markPriceUpdate", "BTCUSDT", "60000.00000000")
            await ws.ping()
            assert (await ws.receive()).type == aiohttp.WSMsgType.PONG
    assert exchange_chaos.unserved == []


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_an_order_placed_with_sync_ccxt_reaches_the_stream(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    # REST through requests (sync ccxt), the stream through ccxt.pro: one book, one story.
    rest = ccxt.binanceusdm(dict(API_KEYS))
    pending = asyncio.ensure_future(binance_pro.watch_orders(BTC))
    await asyncio.sleep(1)
    order = rest.create_order(BTC, "limit", "sell", 0.01, 61_000)
    watched = await pending
    assert [(o["id"], o["status"], o["side"]) for o in watched] == [(order["id"], "open", "sell")]


# -- the socket and the gateway, as a hand-written aiohttp bot uses them -----------------------

MARKET = "wss://fstream.binance.com/market/ws/1"


def records(controller: ChaosController, event: str) -> list[Any]:
    hub = StreamHub.existing(controller._engine)
    assert hub is not None
    return [r for r in hub.records if r.event == event]


async def subscribe(ws: Any, *topics: str, ident: int = 1) -> Any:
    await ws.send_json({"method": "SUBSCRIBE", "params": list(topics), "id": ident})
    return await ws.receive_json()


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_requests_the_gateway_cannot_serve_are_answered_with_binances_errors(
    exchange_chaos: ChaosController,
) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(MARKET) as ws:
        await ws.send_str("{not json")
        assert await ws.receive_json() == {"error": {"code": 3, "msg": "Invalid JSON"}}
        await ws.send_bytes(b'["SUBSCRIBE"]')  # JSON, but not a request
        assert await ws.receive_json() == {"error": {"code": 3, "msg": "Invalid JSON"}}
        await ws.send_json({"method": "SUBSCRIBE_ALL", "id": 4})
        refused = await ws.receive_json()
        assert (refused["id"], refused["error"]["code"]) == (4, 2)
        assert "unknown method 'SUBSCRIBE_ALL'" in refused["error"]["msg"]
        for unknown in ("btcusdt@aggTrade", "nopeusdt@ticker", "btcusdt@kline_7m", "!depth@arr"):
            refused = await subscribe(ws, "btcusdt@ticker", unknown, ident=5)
            assert refused["error"]["msg"].startswith(f"Invalid request: stream(s) {unknown} not simulated")
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 6})
        assert await ws.receive_json() == {"result": [], "id": 6}  # a refused request subscribes nothing
    # Each refusal is also recorded, so a bot that swallows it still fails by name.
    assert len(exchange_chaos.unserved) == 4
    exchange_chaos._engine.unserved.clear()  # refused on purpose


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_unsubscribing_stops_a_stream_and_lists_follow_every_instrument(
    exchange_chaos: ChaosController,
) -> None:
    venue = exchange_chaos.venue("binanceusdm")
    async with aiohttp.ClientSession() as session, session.ws_connect(MARKET) as ws:
        assert await subscribe(ws, "btcusdt@miniTicker", "!markPrice@arr") == {"result": None, "id": 1}
        mini, marks = await ws.receive_json(), await ws.receive_json()
        assert (mini["e"], mini["c"], sorted(mini)) == ("24hrMiniTicker", "60000.00", sorted("eEschlovq"))
        assert sorted(row["s"] for row in marks) == sorted(venue.book.instruments)  # type: ignore[attr-defined]
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 2})
        assert await ws.receive_json() == {"result": ["!markPrice@arr", "btcusdt@miniTicker"], "id": 2}
        await ws.send_json({"method": "UNSUBSCRIBE", "params": ["!markPrice@arr"], "id": 3})
        assert await ws.receive_json() == {"result": None, "id": 3}
        venue.set_price("ETH/USDT:USDT", 3_100)  # moves nothing this socket still watches
        venue.set_price(BTC, 60_500)
        moved = await ws.receive_json()
        assert (moved["e"], moved["s"], moved["c"]) == ("24hrMiniTicker", "BTCUSDT", "60500.00")
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive(timeout=60)  # nothing else: the list was unsubscribed


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_stream_names_in_the_url(exchange_chaos: ChaosController) -> None:
    venue = exchange_chaos.venue("binanceusdm")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect("wss://fstream.binance.com/stream?streams=btcusdt@ticker/btcusdt@trade")
        assert refused.value.status == 400
        async with (
            session.ws_connect("wss://fstream.binance.com/ws/btcusdt@markPrice@1s") as raw,
            session.ws_connect(
                "wss://fstream.binance.com/stream?streams=btcusdt@ticker/ethusdt@ticker"
            ) as both,
        ):
            # Each stream the URL names answers at once, then follows the price.
            assert (await raw.receive_json())["p"] == "60000.00000000"
            first = {(await both.receive_json())["stream"] for _ in range(2)}
            assert first == {"btcusdt@ticker", "ethusdt@ticker"}
            venue.set_price(BTC, 61_000)
            assert (await raw.receive_json())["p"] == "61000.00000000"
            wrapped = await both.receive_json()
            assert (wrapped["stream"], wrapped["data"]["c"]) == ("btcusdt@ticker", "61000.00")
    [refusal] = exchange_chaos.unserved  # the refused handshake, recorded by name
    assert refusal.describe().startswith("Binance USD-M stream(s) btcusdt@trade named in the URL")
    exchange_chaos._engine.unserved.clear()  # refused on purpose


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_the_socket_answers_as_aiohttps_does(exchange_chaos: ChaosController) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(MARKET)
        assert (ws.protocol, ws.compress, ws.client_notakeover, ws.exception()) == (None, 0, False, None)
        assert ws.get_extra_info("peername", "nowhere") == "nowhere"
        with pytest.raises(TypeError, match="must be str"):
            await ws.send_str(b"{}")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="must be byte-ish"):
            await ws.send_bytes("{}")  # type: ignore[arg-type]
        await ws.ping(b"are you there")
        await ws.pong(b"unasked")  # allowed, and unanswered
        assert await subscribe(ws, "btcusdt@markPrice") == {"result": None, "id": 1}  # the pong was eaten
        with pytest.raises(TypeError, match=r"is not WSMsgType\.BINARY"):
            await ws.receive_bytes()  # Binance speaks text
        pending = asyncio.ensure_future(ws.receive())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="Concurrent call to receive"):
            await ws.receive()
        assert await ws.close() is True
        assert (await pending).type == aiohttp.WSMsgType.CLOSED
        assert (ws.closed, ws.close_code) == (True, 1000)
        assert await ws.close() is False  # closing twice does nothing
        assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSED
        for write in (ws.send_str("{}"), ws.ping(), ws.pong()):
            with pytest.raises(ConnectionResetError, match="closing"):
                await write
    closed = records(exchange_chaos, "closed")
    assert [(r.code, r.detail) for r in closed] == [(1000, "closed by the bot")]


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave("30s", "1s", faults.stream.disconnect(1011)))
async def test_a_close_frame_ends_the_bots_loop_and_closes_its_end(exchange_chaos: ChaosController) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(MARKET) as ws:
        assert await subscribe(ws, "btcusdt@markPrice") == {"result": None, "id": 1}
        seen = [json.loads(message.data)["e"] async for message in ws]  # until the server's close
        assert seen == ["markPriceUpdate"]
        assert (ws.closed, ws.close_code, exchange_chaos.now()) == (True, 1011, pytest.approx(30, abs=0.5))
        assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSED
        with pytest.raises(TypeError, match=r"is not WSMsgType\.TEXT"):
            await ws.receive_json()  # what a bot reading on after the close gets
        with pytest.raises(ConnectionResetError):
            await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 2})  # a message to a closed socket
    assert [r.code for r in records(exchange_chaos, "closed")] == [1011]


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave("30s", "1s", faults.stream.disconnect(1000)))
async def test_without_autoclose_the_close_frame_waits_for_the_bots_close(
    exchange_chaos: ChaosController,
) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(MARKET, autoclose=False, autoping=False)
        assert await subscribe(ws, "btcusdt@markPrice") == {"result": None, "id": 1}
        await ws.receive_json()
        await ws.ping(b"1")
        assert (await ws.receive()).type == aiohttp.WSMsgType.PONG  # autoping off: the bot sees it
        frame = await ws.receive()
        assert (frame.type, frame.data, ws.closed) == (aiohttp.WSMsgType.CLOSE, 1000, False)
        assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSED  # its own close, answered
        assert ws.closed


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave("30s", "1s", faults.stream.disconnect(1006)))
async def test_a_lost_connection_has_no_close_frame(exchange_chaos: ChaosController) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(MARKET) as ws:
        assert await subscribe(ws, "btcusdt@markPrice") == {"result": None, "id": 1}
        await ws.receive_json()
        message = await ws.receive()
        assert (message.type, ws.close_code) == (aiohttp.WSMsgType.CLOSED, 1006)
        assert await ws.close() is False


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.stream.listen_key_expired(), stream="ticker", required=False))
async def test_a_listen_key_expiry_never_strikes_a_market_stream(
    exchange_chaos: ChaosController,
) -> None:
    # A market stream has no key to expire: the burst passes it by (and, were it required,
    # would fail the test as never fired) rather than take a message and count as struck.
    binance = pro.binanceusdm(dict(API_KEYS))
    try:
        orders = asyncio.ensure_future(binance.watch_orders(BTC))
        await asyncio.sleep(1)
        assert (await asyncio.wait_for(binance.watch_ticker(BTC), 10))["last"] == 60_000
        order = await binance.create_order(BTC, "limit", "buy", 0.01, 59_000)
        assert [o["id"] for o in await orders] == [order["id"]]  # the user stream never noticed
        assert records(exchange_chaos, "listen_key_expired") == []
        await binance.fapiPrivatePutListenKey()  # and its key is still alive
    finally:
        await binance.close()


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_a_user_stream_by_hand_on_the_listen_key_path(exchange_chaos: ChaosController) -> None:
    rest = ccxt.binanceusdm(dict(API_KEYS))
    key = rest.fapiPrivatePostListenKey()["listenKey"]
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"wss://fstream.binance.com/ws/{key}") as ws,
    ):
        order = rest.create_order(BTC, "limit", "sell", 0.01, 61_000)
        update = await ws.receive_json()
        assert (update["e"], str(update["o"]["i"]), update["o"]["X"]) == (
            "ORDER_TRADE_UPDATE",
            order["id"],
            "NEW",
        )
        rest.cancel_order(order["id"], BTC)
        update = await ws.receive_json()
        assert (update["o"]["x"], update["o"]["X"]) == ("CANCELED", "CANCELED")
