"""A stream fault's schedule names streams the venues publish, or the test does not start; and a
stream the venues do not publish fails the test by name, whatever the bot did with the error.

A ``stream=`` that matches nothing would pass untested (``required=False``) or fail with a
misleading "never fired"; a ``watch_*`` on a stream the simulation does not serve would hang or
fall back to REST unnoticed.
"""

from __future__ import annotations

import pytest

from pytest_exchange_chaos import Burst, ChaosController, Wave, faults

BYBIT_KINDS = "bybit publishes execution, kline, order, orderbook, position, tickers, wallet"
BINANCE_KINDS = "binanceusdm publishes depth, kline, markPrice, ticker, user"

REST_ONLY_BOT = """
import pytest
import ccxt.async_support as ccxt_async
from pytest_exchange_chaos import Burst, Wave, faults

@pytest.mark.asyncio
@pytest.mark.exchange_chaos({schedule})
async def test_bot(exchange_chaos):
    exchange = ccxt_async.bybit()
    try:
        await exchange.fetch_ticker("BTC/USDT:USDT")
    finally:
        await exchange.close()
"""


def run_bot(pytester: pytest.Pytester, schedule: str) -> pytest.RunResult:
    pytester.makepyfile(REST_ONLY_BOT.format(schedule=schedule))
    return pytester.runpytest("-p", "no:randomly")


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (
            'Wave("10s", "10m", faults.stream.duplicate(), stream="orders")',
            "stream='orders' is no stream any venue publishes: "
            f"{BINANCE_KINDS}; {BYBIT_KINDS}; binance publishes no stream; did you mean 'order' (on bybit)?",
        ),
        (
            'Wave("10s", "2m", faults.stream.disconnect(1006), stream="user", venue="bybit")',
            f"stream='user' is no stream bybit publishes: {BYBIT_KINDS}; did you mean 'order'?",
        ),
        (
            'Burst(1, faults.stream.drop(), stream="depth", venue="bybit")',
            f"stream='depth' is no stream bybit publishes: {BYBIT_KINDS}; did you mean 'orderbook'?",
        ),
        (
            'Wave("10s", "2m", faults.stream.disconnect(1006), stream="privat")',
            "stream='privat' is no stream any venue publishes: *; did you mean 'private'?",
        ),
        (
            'Wave("10s", "2m", faults.stream.listen_key_expired(), venue="bybit")',
            "faults.stream.listen_key_expired() strikes only user streams that listen with a listenKey "
            "(binanceusdm), and bybit has none; for Bybit's private stream schedule "
            'faults.stream.disconnect() or stall() with stream="private"',
        ),
        (
            'Wave("10s", "2m", faults.stream.listen_key_expired(), stream="order")',
            "strikes only user streams that listen with a listenKey (binanceusdm), and bybit has none*",
        ),
        (
            'Wave("10s", "2m", faults.stream.stall(), stream="user", venue="binance")',
            "stream='user' is no stream binance publishes: binance publishes no stream*",
        ),
    ],
)
def test_a_stream_no_venue_publishes_is_a_usage_error_naming_what_they_do(
    chaos_pytester: pytest.Pytester, schedule: str, message: str
) -> None:
    result = run_bot(chaos_pytester, schedule)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*test_bot: *{message}*"])


def test_every_stream_the_venues_publish_is_accepted(chaos_pytester: pytest.Pytester) -> None:
    optional = [
        f'Wave("1h", "1m", faults.stream.drop(), stream={kinds!r}, venue={venue!r}, required=False)'
        for venue, kinds in (
            ("bybit", ["tickers", "kline", "orderbook", "order", "execution", "position", "wallet"]),
            ("binanceusdm", ["ticker", "markPrice", "kline", "depth", "user"]),
            (["bybit", "binanceusdm", "binance"], ["public", "private", "*"]),
        )
    ]
    optional.append('Wave("1h", "1m", faults.stream.listen_key_expired(), stream="user", required=False)')
    result = run_bot(chaos_pytester, ", ".join(optional))
    result.assert_outcomes(passed=1)


def test_a_venue_whose_stream_server_does_not_list_its_kinds_is_not_checked(
    chaos_pytester: pytest.Pytester,
) -> None:
    chaos_pytester.makeconftest(
        """
from pytest_exchange_chaos.streams import StreamServer
from pytest_exchange_chaos.venues.bybit import BybitVenue

class QuietStreams(StreamServer):
    hosts = frozenset({"stream.quiet.example"})

    def on_text(self, connection, text):
        connection.reply(text)

class QuietBybit(BybitVenue):
    stream_server_class = QuietStreams

def pytest_exchange_chaos_venues(config):
    return [QuietBybit]
"""
    )
    result = run_bot(
        chaos_pytester,
        'Wave("1h", "1m", faults.stream.drop(), stream="trades", venue="bybit", required=False)',
    )
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("intent", ["stop_loss", ["entry", "account"]])
def test_an_order_intent_on_a_stream_fault_is_refused_with_what_to_write(intent: object) -> None:
    for build in (
        lambda: Wave("10s", "10m", faults.stream.drop(), stream="order", intent=intent),  # type: ignore[arg-type]
        lambda: Burst(1, faults.stream.disconnect(), intent=intent),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValueError, match="a stream message carries no order's intent") as refused:
            build()
        assert "'account' (private streams) or 'market_data' (public ones)" in str(refused.value)
        assert 'stream="private"' in str(refused.value)


def test_a_symbol_on_a_wave_that_strikes_whole_connections_is_refused() -> None:
    with pytest.raises(ValueError, match="strikes whole connections, which carry no symbol") as refused:
        Wave("10s", "10m", faults.stream.disconnect(1006), stream="order", symbol="ETH/USDT:USDT")
    assert "faults.stream.drop()" in str(refused.value)
    # Messages carry their symbol: per-message waves and every burst may name one.
    Wave("10s", "10m", faults.stream.drop(), stream="order", symbol="ETH/USDT:USDT")
    Burst(1, faults.stream.disconnect(1006), stream="tickers", symbol="BTC/USDT:USDT")
    Wave("10s", "10m", faults.stream.delay("2s"), intent="market_data")


def test_a_zero_rate_says_what_to_write_without_contradicting_itself() -> None:
    with pytest.raises(ValueError) as refused:
        Wave(0, 60, faults.bad_gateway(), rate=0.0)
    assert "write a probability above 0.0 and at most 1.0" in str(refused.value)
    assert "between 0.0 and" not in str(refused.value)


def test_a_bybit_bot_that_swallows_the_refusal_and_falls_back_to_rest_still_fails_by_name(
    chaos_pytester: pytest.Pytester,
) -> None:
    chaos_pytester.makepyfile(
        """
        import asyncio
        import ccxt
        import ccxt.pro
        import pytest

        @pytest.mark.asyncio
        @pytest.mark.exchange_chaos
        async def test_spot_ticker_with_a_rest_fallback(exchange_chaos):
            bybit = ccxt.pro.bybit()
            try:
                try:
                    ticker = await asyncio.wait_for(bybit.watch_ticker("BTC/USDT"), 30)
                except ccxt.BaseError:
                    ticker = await bybit.fetch_ticker("BTC/USDT")
                assert ticker["last"]
            finally:
                await bybit.close()
        """
    )
    result = chaos_pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*exchange-chaos refused Bybit spot streams (/v5/public/spot): subscribe tickers.BTCUSDT*"
            "does not publish this stream*websockets.md#what-is-not-simulated*"
        ]
    )


def test_a_binance_bot_that_swallows_an_unpublished_topic_still_fails_by_name(
    chaos_pytester: pytest.Pytester,
) -> None:
    chaos_pytester.makepyfile(
        """
        import asyncio
        import ccxt
        import ccxt.pro
        import pytest

        @pytest.mark.asyncio
        @pytest.mark.exchange_chaos
        async def test_trades_with_a_rest_fallback(exchange_chaos):
            binance = ccxt.pro.binanceusdm()
            try:
                try:
                    await asyncio.wait_for(binance.watch_trades("BTC/USDT:USDT"), 30)
                except ccxt.BaseError:
                    await binance.fetch_ticker("BTC/USDT:USDT")
            finally:
                await binance.close()
        """
    )
    result = chaos_pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*exchange-chaos refused Binance USD-M: SUBSCRIBE btcusdt@*rade*does not publish this stream*"]
    )


@pytest.mark.exchange_chaos(expect_requests=False)
def test_a_stream_name_added_mid_test_is_checked_too(exchange_chaos: ChaosController) -> None:
    with pytest.raises(ValueError, match=r"stream='orders' is no stream any venue publishes: .*did you mean"):
        exchange_chaos.add(Wave("1m", "1m", faults.stream.drop(), stream="orders", required=False))
    exchange_chaos.add(Wave("1m", "1m", faults.stream.drop(), stream="order", required=False))
