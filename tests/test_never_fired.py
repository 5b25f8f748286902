"""A schedule that never fired, or a chaos test that sent nothing, is a failure, not a pass.

Each inner suite runs real async ccxt against the simulated venues through pytester; the verdict
and its message are what a bot author reads.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from venue_harness import STOP_ENDPOINT, needs_algo_stops

TESTS = Path(__file__).parent
TOY = (TESTS / "plugins" / "toy_exchange.py").read_text()
CONFTEST = (TESTS / "conftest.py").read_text()

# A bot that opens a long and protects it as ccxt 4.5 does: the entry goes to POST
# /fapi/v1/order, the stop-loss to POST /fapi/v1/algoOrder.
OPEN_AND_PROTECT = """
import asyncio
import pytest
from pytest_exchange_chaos import Burst, Wave, faults, profiles, waves_from_log

SYMBOL = "BTC/USDT:USDT"

async def open_and_protect(binance):
    await binance.load_markets()
    await binance.create_order(SYMBOL, "market", "buy", 0.01)
    await binance.create_order(
        SYMBOL, "market", "sell", 0.01, params={"stopLossPrice": 50_000, "reduceOnly": True}
    )
"""


def run(pytester: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(OPEN_AND_PROTECT + body)
    return pytester.runpytest("-p", "no:randomly", *args)


@needs_algo_stops
def test_a_stop_wave_on_the_old_order_endpoint_fails_and_names_the_algo_endpoint(
    chaos_pytester: pytest.Pytester,
) -> None:
    result = run(
        chaos_pytester,
        """
@pytest.mark.asyncio
@pytest.mark.exchange_chaos(
    Wave(0, "1h", faults.bad_gateway(), endpoint="POST /fapi/v1/order", intent="stop_loss"), seed=1
)
async def test_stop_survives_502s(binance, exchange_chaos):
    await open_and_protect(binance)
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "a schedule never injected a fault (seed 1), so the test did not test what it claims:",
            "",
            "Wave(+0s for 3600s, bad_gateway, rate=1, intent stop_loss, POST /fapi/v1/order) never injected a fault",
            "  waited for: intent stop_loss, POST /fapi/v1/order, from +0s to +1h00m00s on the chaos clock",
            "  why: nothing the bot sent matched it (* requests sent)",
            "*1 request matched all but the endpoint: POST /fapi/v1/algoOrder (intent stop_loss, BTC/USDT:USDT*",
            "  fix: ccxt 4.5 sends stop and trigger orders to POST /fapi/v1/algoOrder, not POST /fapi/v1/order*",
            "*if this fault is deliberately optional, write required=False",
        ]
    )


@needs_algo_stops
def test_required_false_lets_an_optional_fault_stay_quiet(chaos_pytester: pytest.Pytester) -> None:
    result = run(
        chaos_pytester,
        """
@pytest.mark.asyncio
@pytest.mark.exchange_chaos(
    Wave(0, "1h", faults.bad_gateway(), endpoint="POST /fapi/v1/order", intent="stop_loss", required=False)
)
async def test_optional(binance, exchange_chaos):
    await open_and_protect(binance)

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.bad_gateway(), endpoint="POST /fapi/v1/algoOrder"))
async def test_the_right_endpoint_fires(binance, exchange_chaos):
    with pytest.raises(Exception, match="502|Bad Gateway"):
        await open_and_protect(binance)
""",
    )
    result.assert_outcomes(passed=2)


def test_every_reason_a_schedule_stays_quiet_is_told(chaos_pytester: pytest.Pytester) -> None:
    result = run(
        chaos_pytester,
        """
@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave("1h", "1m", faults.bad_gateway(), intent="entry"))
async def test_too_early(binance, exchange_chaos):
    await open_and_protect(binance)

@pytest.mark.asyncio
async def test_spot_symbol(binance, exchange_chaos):
    # Added at run time: the marker's would stop the run at collection.
    exchange_chaos.add(Burst(1, faults.bad_gateway(), symbol="BTC/USDT"))
    await open_and_protect(binance)

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave(0, "1h", faults.bad_gateway(), rate=0.001, intent="entry"), seed=3)
async def test_unlucky(binance, exchange_chaos):
    await open_and_protect(binance)

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.bad_gateway(), after=5, intent="stop_loss"))
async def test_after_never_exceeded(binance, exchange_chaos):
    await open_and_protect(binance)

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(
    Wave(0, "1h", faults.latency(0.1), intent="market_data"),
    Burst(1, faults.bad_gateway(), intent="market_data"),
)
async def test_shadowed(binance, exchange_chaos):
    await binance.load_markets()

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(seed=4)
async def test_added_mid_test(binance, exchange_chaos):
    await binance.load_markets()
    exchange_chaos.add(Burst(1, faults.bad_gateway(), intent="cancel"))
    await binance.fetch_ticker(SYMBOL)
""",
    )
    result.assert_outcomes(failed=6)
    out = result.stdout
    out.fnmatch_lines(
        [
            "*test_too_early*",
            "  why: 1 matching request was sent (+*), but none inside its window; the test ended at +* on the chaos clock",
            "  fix: move the window to when the bot sends them*",
        ]
    )
    out.fnmatch_lines(
        [
            "*test_spot_symbol*",
            "*no request matched symbol BTC/USDT; symbols sent, closest first: BTC/USDT:USDT (*",
            "  fix: match what the bot sends, e.g. symbol='BTC/USDT:USDT'",
        ]
    )
    out.fnmatch_lines(
        [
            "*test_unlucky*",
            "  why: 1 matching request inside the window drew against rate=0.001 and no draw hit (seed 3)",
        ]
    )
    out.fnmatch_lines(
        [
            "*test_after_never_exceeded*",
            "  why: it lets after=5 matching requests through first, and only 1 came",
        ]
    )
    out.fnmatch_lines(
        [
            "*test_shadowed*",
            "  why: an earlier schedule fired on * matching requests first (the first schedule that fires wins)",
        ]
    )
    out.fnmatch_lines(
        [
            "*test_added_mid_test*",
            "Burst(1x bad_gateway, intent cancel) never injected a fault",
            "*no request matched intent cancel; intents sent, closest first: *",
        ]
    )


def test_a_profile_must_inject_a_fault_as_a_whole(chaos_pytester: pytest.Pytester) -> None:
    result = run(
        chaos_pytester,
        """
@pytest.mark.asyncio
@pytest.mark.exchange_chaos(profile="flapping_gateway")
async def test_meets_one_flap(binance, exchange_chaos):
    await binance.load_markets()
    await asyncio.sleep(6 * 60 + 5)  # the second flap only: the other five stay quiet
    with pytest.raises(Exception, match="502|Bad Gateway"):
        await binance.fetch_ticker(SYMBOL)

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(profile="flapping_gateway")
async def test_ends_before_the_first_flap(binance, exchange_chaos):
    await binance.load_markets()

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(profiles.flapping_gateway(required=False))
async def test_optional_profile(binance, exchange_chaos):
    await binance.load_markets()
""",
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_ends_before_the_first_flap*",
            "profiles.flapping_gateway() (6 waves: Wave(+1m0s for 30s, *), and 3 more) never injected a fault",
            "  waited for: every request, in 6 windows from +1m0s to +26m30s on the chaos clock",
            "  why: * matching requests were sent (*), but none inside any of its windows; *",
            "*pass required=False to profiles.flapping_gateway()",
        ]
    )


def test_a_replayed_log_against_a_bot_that_never_sends_its_requests_fails(
    chaos_pytester: pytest.Pytester,
) -> None:
    result = run(
        chaos_pytester,
        '''
LOG = """2025-12-09 05:15:00 bot started
2025-12-09 05:15:20 create_order failed: 502 Bad Gateway
2025-12-09 05:15:40 create_order failed: 502 Bad Gateway
"""

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(waves_from_log(LOG, intent="stop_loss", venue="bybit"))
async def test_replay(binance, exchange_chaos):
    await open_and_protect(binance)

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(waves_from_log(LOG, intent="stop_loss", venue="binanceusdm"))
async def test_replay_meets_the_stop(binance, exchange_chaos):
    with pytest.raises(Exception, match="502|Bad Gateway"):
        await open_and_protect(binance)
''',
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "waves_from_log(a log's lines: 1 minute(s) of '502 Bad Gateway') (1 wave: *) never injected a fault",
            f"*1 request matched all but the venue: {STOP_ENDPOINT} (intent stop_loss, BTC/USDT:USDT on binanceusdm)",
        ]
    )


def test_a_venue_that_is_no_venue_is_a_usage_error_at_collection(chaos_pytester: pytest.Pytester) -> None:
    result = run(
        chaos_pytester,
        """
@pytest.mark.exchange_chaos(Burst(1, faults.bad_gateway(), venue="binancefutures"))
def test_typo(exchange_chaos):
    pass
""",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*test_typo: Burst(1x bad_gateway, on binancefutures): venue 'binancefutures' is no venue; write "
            "a ccxt id: 'binance', 'binanceusdm', 'bybit' (a venue of your own comes from the "
            "pytest_exchange_chaos_venues hook)"
        ]
    )


def test_a_symbol_no_venue_lists_is_a_usage_error_at_collection(chaos_pytester: pytest.Pytester) -> None:
    result = run(
        chaos_pytester,
        """
@pytest.mark.exchange_chaos(Wave(0, 60, faults.bad_gateway(), venue="binanceusdm", symbol="BTC/USDT"))
def test_spot(exchange_chaos):
    pass
""",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*test_spot: Wave(*): symbol 'BTC/USDT' is not listed on binanceusdm, so it can never match; "
            "the venues list linear perpetuals (BTC/USDT:USDT) and spot pairs (BTC/USDT) in ccxt's form, "
            "e.g. 'BTC/USDT:USDT'"
        ]
    )


def test_a_venue_from_the_hook_is_known_at_collection(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makeconftest(TOY)
    chaos_pytester.makepyfile(
        """
        import aiohttp, pytest
        from pytest_exchange_chaos import Burst, faults

        @pytest.mark.asyncio
        @pytest.mark.exchange_chaos(Burst(1, faults.bad_gateway(), venue="toyx"))
        async def test_toy(exchange_chaos):
            async with aiohttp.ClientSession() as session:
                async with session.get("https://api.toyx.test/ticker") as r:
                    assert r.status == 502

        def test_added_with_an_unknown_venue(exchange_chaos):
            with pytest.raises(ValueError, match="venue 'binancefutures' is no venue of this test"):
                exchange_chaos.add(Burst(1, faults.bad_gateway(), venue="binancefutures"))
            import requests
            requests.get("https://api.toyx.test/ticker", timeout=5)
        """
    )
    chaos_pytester.runpytest().assert_outcomes(passed=2)


def test_a_bot_that_sent_nothing_fails(chaos_pytester: pytest.Pytester) -> None:
    result = run(
        chaos_pytester,
        """
@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave(0, "1h", faults.bad_gateway(), intent="stop_loss"))
async def test_forgot_to_await(binance, exchange_chaos):
    open_and_protect(binance).close()  # the coroutine is made, never run

@pytest.mark.asyncio
async def test_fixture_only(binance, exchange_chaos):
    pass

@pytest.mark.exchange_chaos(expect_requests=False)
def test_inspects_the_venues(exchange_chaos):
    assert exchange_chaos.venue("binanceusdm").positions() == []

def test_requested_at_run_time(request):
    request.getfixturevalue("exchange_chaos")

def test_requested_at_run_time_and_failed(request):
    request.getfixturevalue("exchange_chaos")
    assert False, "the body's own failure"

@pytest.fixture
def broken_bot(exchange_chaos):
    raise RuntimeError("the bot's fixture broke")

def test_setup_failed(broken_bot):
    pass
""",
    )
    # A fixture that broke in setup is one error: the body never ran, so "sent nothing" is no news.
    result.assert_outcomes(passed=1, failed=4, errors=1)
    text = result.stdout.str()
    assert text.count("the bot sent nothing: this chaos test ended without a single request") == 3
    result.stdout.fnmatch_lines(
        [
            "*test_forgot_to_await*",
            "the bot sent nothing: * (1 schedule(s) waited for it), so it tested nothing. Did you forget "
            "to await the bot's coroutine, *@pytest.mark.exchange_chaos(expect_requests=False).",
        ]
    )
    # A body that failed on its own gets its own verdict only (the count above is 3, not 4).
    result.stdout.fnmatch_lines(["*_ test_requested_at_run_time _*", "the bot sent nothing: *"])


def test_expect_requests_must_be_a_bool(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        """
        import pytest

        @pytest.mark.exchange_chaos(expect_requests="no")
        def test_x(exchange_chaos):
            pass
        """
    )
    result = chaos_pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*exchange_chaos(expect_requests='no'): write expect_requests=False*"])


def test_requests_a_hook_answered_first_are_named(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makeconftest(TOY)
    chaos_pytester.makepyfile(
        hook_first="""
        from pytest_exchange_chaos import faults

        def pytest_exchange_chaos_decide_fault(request, call, now, controller):
            return faults.latency(0.01) if call.endpoint == "GET /ticker" else None
        """,
        test_hooked="""
        import aiohttp, pytest
        from pytest_exchange_chaos import Burst, faults

        @pytest.mark.asyncio
        @pytest.mark.exchange_chaos(Burst(1, faults.bad_gateway(), endpoint="GET /ticker"))
        async def test_toy(exchange_chaos):
            async with aiohttp.ClientSession() as session:
                async with session.get("https://api.toyx.test/ticker") as r:
                    assert r.status == 200
        """,
    )
    chaos_pytester.syspathinsert()
    result = chaos_pytester.runpytest("-p", "hook_first")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "  why: no matching request reached it (1 request sent)",
            "       1 request matched it, but a pytest_exchange_chaos_decide_fault hook answered them "
            "before the schedules saw them",
        ]
    )


def test_a_broken_budget_and_a_quiet_schedule_are_told_together(chaos_pytester: pytest.Pytester) -> None:
    result = run(
        chaos_pytester,
        """
from pytest_exchange_chaos import Budget

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(
    Burst(1, faults.bad_gateway(), intent="entry"), Burst(1, faults.bad_gateway(), intent="cancel"), seed=2
)
@pytest.mark.retry_budget(entry=Budget(attempts=1))
async def test_both(binance, exchange_chaos):
    await binance.load_markets()
    with pytest.raises(Exception, match="502|Bad Gateway"):
        await binance.create_order(SYMBOL, "market", "buy", 0.01)
    await binance.create_order(SYMBOL, "market", "buy", 0.01)
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "retry budget broken by 1 operation(s) (seed 2):",
            "*",
            "a schedule never injected a fault (seed 2), so the test did not test what it claims:",
            "",
            "Burst(1x bad_gateway, intent cancel) never injected a fault",
        ]
    )


STREAM_BOTS = """
import asyncio
import ccxt.pro
import pytest
from pytest_exchange_chaos import Burst, Wave, faults

BTC = "BTC/USDT:USDT"

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(
    Wave("10s", "1m", faults.stream.disconnect(1006), stream="private", venue="binanceusdm")
)
async def test_a_wave_on_a_venue_the_bot_does_not_stream_from(exchange_chaos):
    bybit = ccxt.pro.bybit({"apiKey": "key", "secret": "secret"})
    try:
        watching = asyncio.ensure_future(bybit.watch_orders(BTC))
        await asyncio.sleep(1)
        await bybit.create_order(BTC, "limit", "buy", 0.01, 59_000)
        await watching
        await asyncio.sleep(120)
    finally:
        await bybit.close()

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave("10s", "1m", faults.stream.drop(), stream="orderbook"))
async def test_a_depth_drop_while_the_price_never_moved(exchange_chaos):
    bybit = ccxt.pro.bybit()
    try:
        await bybit.watch_order_book(BTC)
        await asyncio.sleep(120)
    finally:
        await bybit.close()

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave("10s", "1m", faults.stream.listen_key_expired()))
async def test_a_listen_key_expiry_on_bybit(exchange_chaos):
    bybit = ccxt.pro.bybit()
    try:
        await bybit.watch_ticker(BTC)
        await asyncio.sleep(120)
    finally:
        await bybit.close()

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave("1h", "1m", faults.stream.drop(), stream="tickers"))
async def test_a_window_after_the_stream_closed(exchange_chaos):
    bybit = ccxt.pro.bybit()
    try:
        await bybit.watch_ticker(BTC)
        await asyncio.sleep(30)
    finally:
        await bybit.close()

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(2, faults.stream.duplicate(), stream="tickers", after=5))
async def test_a_burst_after_more_messages_than_came(exchange_chaos):
    bybit = ccxt.pro.bybit()
    try:
        await bybit.watch_ticker(BTC)
    finally:
        await bybit.close()
"""


def test_a_stream_schedule_that_never_fired_says_what_the_bot_streamed(
    chaos_pytester: pytest.Pytester,
) -> None:
    chaos_pytester.makepyfile(STREAM_BOTS)
    result = chaos_pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=5)
    result.stdout.fnmatch_lines(
        [
            "*_ test_a_wave_on_a_venue_the_bot_does_not_stream_from _*",
            "  why: no websocket stream matched it: the streams the bot had open were bybit: order",
            "  fix: the bot streamed from bybit: write venue='bybit'",
            "*_ test_a_depth_drop_while_the_price_never_moved _*",
            "  why: a matching stream was open during its window (bybit orderbook (connection 1)), but "
            "the venue sent nothing on it then; 1 matching message came outside it",
            "  fix: a public stream publishes only when the price moves: move it inside the window, "
            "e.g. exchange_chaos.venue('bybit').set_price('BTC/USDT:USDT', <new price>)",
            "*_ test_a_listen_key_expiry_on_bybit _*",
            "  why: faults.stream.listen_key_expired() strikes only Binance user streams (a connection "
            "listening with a listenKey), and the bot had none open; its streams were bybit: tickers",
            "*_ test_a_window_after_the_stream_closed _*",
            "  why: 1 matching stream event came, but no matching stream was open inside its window "
            "(the bot's were bybit tickers from +*s to +*s)",
            "*_ test_a_burst_after_more_messages_than_came _*",
            "  waited for: stream tickers, the next 2 matching stream message(s) after 5 went through",
            "  why: it lets after=5 matching stream messages through first, and only 1 came",
        ]
    )
    assert "matching request" not in result.stdout.str()
