"""A bot left running after its chaos test would reach the real network in the tests after it,
unguarded, while every test passes: a thread or an asyncio task the test started and did not stop
fails the test. (Run in a subprocess: what leaks must not leak into this run.)"""

from __future__ import annotations

import pytest

# The bot's thread: a ticker loop on the chaos clock, stopped through a flag. After the test it
# swallows the network errors it meets, so that only the check speaks.
THREAD_BOT = """
import queue, threading, time
import ccxt
import pytest

class Bot(threading.Thread):
    def __init__(self, exchange):
        super().__init__(daemon=True, name="ticker-bot")
        self.exchange = exchange
        self.stopped = False

    def run(self):
        while not self.stopped:
            try:
                self.exchange.fetch_ticker("BTC/USDT:USDT")
            except ccxt.NetworkError:
                pass
            time.sleep(0.2)

def make_bot():
    exchange = ccxt.binanceusdm({"apiKey": "k" * 16, "secret": "s" * 16})
    exchange.load_markets()
    return Bot(exchange)
"""

LEFT_RUNNING = (
    THREAD_BOT
    + """
@pytest.mark.exchange_chaos(seed=1)
def test_bot_thread(exchange_chaos):
    make_bot().start()

def test_later():
    time.sleep(0.5)
"""
)

STOPPED_OR_OFF_THE_CLOCK = (
    THREAD_BOT
    + """
@pytest.fixture
def bot(exchange_chaos):
    bot = make_bot()
    bot.start()
    yield bot
    bot.stopped = True
    bot.join()

@pytest.mark.exchange_chaos(seed=1)
def test_bot_stopped_in_teardown(bot):
    time.sleep(1)

@pytest.mark.exchange_chaos(seed=1)
def test_joined_in_the_test(exchange_chaos):
    bot = make_bot()
    bot.start()
    time.sleep(1)
    bot.stopped = True
    bot.join()

@pytest.mark.exchange_chaos(seed=1)
def test_service_thread_blocked_outside_the_clock(exchange_chaos):
    make_bot().exchange.fetch_ticker("BTC/USDT:USDT")
    # Like pycares' thread under aiodns: it waits forever on a C queue, never on the clock. Started
    # last, it has not had a turn yet when the test ends: the check gives it one and sees it block.
    threading.Thread(target=queue.SimpleQueue().get, daemon=True).start()
"""
)


def test_a_thread_left_running_fails_the_chaos_test(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(LEFT_RUNNING)
    result = chaos_pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_bot_thread*",
            "*the chaos test ended with the bot still running: thread 'ticker-bot' running "
            "Bot.run()*real network*join the thread*fixture that requests exchange_chaos*",
        ]
    )


def test_a_thread_stopped_before_the_test_ends_or_living_off_the_clock_passes(
    chaos_pytester: pytest.Pytester,
) -> None:
    chaos_pytester.makepyfile(STOPPED_OR_OFF_THE_CLOCK)
    result = chaos_pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


ASYNC_BOT = """
import asyncio
import ccxt.async_support as ccxt_async
import pytest
import pytest_asyncio

async def ticker_loop(exchange):
    while True:
        try:
            await exchange.fetch_ticker("BTC/USDT:USDT")
        except ccxt_async.NetworkError:
            pass
        await asyncio.sleep(0.2)

@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def heartbeat():
    # The module's own background task, started before the chaos test: not the test's to stop.
    task = asyncio.ensure_future(asyncio.sleep(3600))
    yield task
    task.cancel()

@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.exchange_chaos(seed=1)
async def test_task_left_on_the_module_loop(heartbeat, exchange_chaos):
    exchange = ccxt_async.binanceusdm({"apiKey": "k" * 16, "secret": "s" * 16})
    await exchange.load_markets()
    asyncio.ensure_future(ticker_loop(exchange))

@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.exchange_chaos(seed=1)
async def test_task_cancelled_on_the_module_loop(heartbeat, exchange_chaos):
    exchange = ccxt_async.binanceusdm({"apiKey": "k" * 16, "secret": "s" * 16})
    await exchange.load_markets()
    task = asyncio.ensure_future(ticker_loop(exchange))
    await asyncio.sleep(1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await exchange.close()

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(seed=1)
async def test_task_left_on_the_tests_own_loop(exchange_chaos):
    # Its loop closes with the test and cancels it: nothing runs after.
    exchange = ccxt_async.binanceusdm({"apiKey": "k" * 16, "secret": "s" * 16})
    await exchange.load_markets()
    asyncio.ensure_future(asyncio.sleep(3600))
    await exchange.close()
"""


def test_a_task_left_pending_on_a_loop_that_outlives_the_test_fails_it(
    chaos_pytester: pytest.Pytester,
) -> None:
    chaos_pytester.makepyfile(ASYNC_BOT)
    # The leaked task's unclosed session is the first test's fault, reported there already.
    result = chaos_pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore::ResourceWarning")
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_task_left_on_the_module_loop*",
            "*the chaos test ended with the bot still running: asyncio task 'Task-*' running "
            "ticker_loop()*real network*cancel and await the task*",
        ]
    )
    result.stdout.no_fnmatch_line("*running sleep()*")
    result.stdout.no_fnmatch_line("*at teardown of test_task_cancelled_on_the_module_loop*")
    result.stdout.no_fnmatch_line("*at teardown of test_task_left_on_the_tests_own_loop*")
