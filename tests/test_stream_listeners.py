"""What the streams publish follows every change, however the test or the bot made it: a
``set_price`` taken before the bot's first stream, a request sent over requests or httpx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from pro_harness import close_for_good

from pytest_exchange_chaos.controller import ChaosController
from pytest_exchange_chaos.venues.base import VenueContext
from pytest_exchange_chaos.venues.bybit import BybitVenue

pro = pytest.importorskip("ccxt.pro")

KEYS = {"apiKey": "test-key-0123456789", "secret": "test-secret-abcdef"}
BTC = "BTC/USDT:USDT"


@pytest_asyncio.fixture(params=["binanceusdm", "bybit"])
async def exchange(request: pytest.FixtureRequest, exchange_chaos: ChaosController) -> AsyncIterator[Any]:
    exchange = getattr(pro, request.param)(dict(KEYS))
    try:
        yield exchange
    finally:
        await close_for_good(exchange)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_a_set_price_taken_before_the_first_stream_moves_the_stream(
    exchange_chaos: ChaosController, exchange: Any
) -> None:
    move_price = exchange_chaos.venue(exchange.id).set_price  # before any socket exists
    assert (await exchange.watch_ticker(BTC))["last"] == pytest.approx(60_000)
    move_price(BTC, 61_234.5)
    ticker = await asyncio.wait_for(exchange.watch_ticker(BTC), 5)
    assert ticker["last"] == pytest.approx(61_234.5)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_an_order_sent_over_requests_reaches_the_async_bots_stream(
    exchange_chaos: ChaosController, exchange: Any
) -> None:
    import ccxt

    sync = getattr(ccxt, exchange.id)(dict(KEYS))
    watching = asyncio.ensure_future(exchange.watch_orders(BTC))
    await asyncio.sleep(0.5)  # ccxt.pro subscribes from a task of its own
    placed = await asyncio.to_thread(sync.create_order, BTC, "limit", "buy", 0.01, 59_000)
    orders = await asyncio.wait_for(watching, 5)
    assert [o["id"] for o in orders] == [placed["id"]]


def test_a_venue_tells_its_listeners_once_per_move_however_its_set_price_chains() -> None:
    import random

    # BybitVenue.set_price calls the linear book's set_price through super(): one move, one call.
    venue = BybitVenue(VenueContext(now=lambda: 0.0, wall_time=lambda: 1.8e9, rng=random.Random(1)))
    told: list[str] = []
    stop = venue.when_price_moves(lambda: told.append("moved"))
    venue.set_price(BTC, 61_000)
    assert told == ["moved"]
    stop()
    venue.set_price(BTC, 62_000)
    assert told == ["moved"]


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
@pytest.mark.parametrize("stream", ["btcusdt@depth5", "btcusdt@ticker", "btcusdt@markPrice"])
async def test_a_stream_named_in_the_url_answers_at_once(
    exchange_chaos: ChaosController, stream: str
) -> None:
    import aiohttp

    # What the venue sends while accepting the handshake is not lost: it goes out once open.
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"wss://fstream.binance.com/ws/{stream}") as socket,
    ):
        first = await asyncio.wait_for(socket.receive_json(), 5)
    assert first["s"] == "BTCUSDT"
    assert exchange_chaos.unserved == []
