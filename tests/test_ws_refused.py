"""A websocket the simulated venues do not serve fails the test by name, and never hangs it:
ccxt.pro dials from a task of its own, so the refusal must reach the bot's watch_* call."""

from __future__ import annotations

import pytest

SPOT_STREAM_BOT = """
import asyncio
import ccxt
import ccxt.pro
import pytest

@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_a_bot_that_falls_back_to_rest(exchange_chaos):
    spot = ccxt.pro.binance()  # Binance spot: REST is simulated, its streams are not
    try:
        try:
            await asyncio.wait_for(spot.watch_ticker("BTC/USDT"), 30)
        except ccxt.NetworkError as error:
            print("the bot saw:", type(error).__name__)
        await spot.fetch_ticker("BTC/USDT")  # and goes on over REST
    finally:
        await spot.close()
"""


def test_a_refused_stream_reaches_the_bot_and_still_fails_the_test(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(SPOT_STREAM_BOT)
    result = chaos_pytester.runpytest("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)  # the body went on over REST; the plugin fails it anyway
    result.stdout.fnmatch_lines(
        [
            "*the bot saw: NetworkError",
            "*exchange-chaos refused a websocket to wss://stream.binance.com:9443/ws* (aiohttp ws_connect)*",
        ]
    )
