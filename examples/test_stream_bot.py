"""The stream bot through websocket outages, naive and reconciling, on real ccxt.pro.

``[naive]`` tests fail on purpose: the bot trusts ``watch_orders``, so a fill whose message was
lost never happened for it. Read their failure messages in ``make examples``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import ccxt.pro
import pytest
import pytest_asyncio
from stream_bot import StreamBot

from pytest_exchange_chaos import ChaosController, Wave, faults

BTC = "BTC/USDT:USDT"


@pytest_asyncio.fixture(params=["naive", "reconciling"])
async def bot(request: pytest.FixtureRequest, exchange_chaos: ChaosController) -> AsyncIterator[StreamBot]:
    exchange = ccxt.pro.bybit({"apiKey": "example-key-0123456789", "secret": "example-secret-abcdef"})
    bot = StreamBot(exchange, reconciling=request.param == "reconciling")
    try:
        await bot.start(BTC)
        yield bot
    finally:
        await bot.stop()
        await exchange.close()


def _fills_at(chaos: ChaosController, seconds: float) -> None:
    """The market trades down through the entry's price ``seconds`` into the test."""
    loop = asyncio.get_running_loop()
    loop.call_later(seconds - chaos.now(), lambda: chaos.venue("bybit").set_price(BTC, 58_000))


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(
    # The private stream drops at +10 s and every reconnect is refused for two minutes.
    Wave("10s", "2m", faults.stream.disconnect(1006), stream="private"),
)
async def test_the_entry_survives_a_disconnect_wave(bot: StreamBot, exchange_chaos: ChaosController) -> None:
    _fills_at(exchange_chaos, 30)  # while the stream is down

    await bot.enter(BTC, "buy", 0.01, 59_000, stop=55_000)

    assert bot.gaps >= 1
    exchange_chaos.assert_positions_protected()
    exchange_chaos.assert_state_reconciled()


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(
    # The connection stays up; every order update for ten minutes is lost on the way.
    Wave("10s", "10m", faults.stream.drop(), stream="order"),
)
async def test_the_entry_survives_dropped_messages(bot: StreamBot, exchange_chaos: ChaosController) -> None:
    _fills_at(exchange_chaos, 30)

    await bot.enter(BTC, "buy", 0.01, 59_000, stop=55_000)

    exchange_chaos.assert_state_reconciled()
    exchange_chaos.assert_positions_protected()
