"""Retry-After as Binance enforces it: the verdict, the marker option, and the reactive limiter
whose bans grow while the bot keeps sending. Every bot here is real ccxt."""

from __future__ import annotations

import json
from typing import Any

import ccxt
import pytest

from pytest_exchange_chaos import BinanceRateLimits, Burst, faults

SYMBOL = "BTC/USDT:USDT"

# A bot's polling loop, as it goes wrong and as it should be: poll the ticker; on a 429 or 418
# (ccxt: DDoSProtection) either try again at once or wait what Retry-After says.
BOTS = """
import asyncio

import ccxt
import pytest

from pytest_exchange_chaos import BinanceRateLimits, Burst, faults

LIMITS = BinanceRateLimits(limit=5, per="10s")


async def poll(exchange, times, honour):
    got = []
    for _ in range(times):
        try:
            await exchange.fetch_ticker("BTC/USDT:USDT")
            got.append(200)
        except ccxt.DDoSProtection:
            got.append(exchange.last_http_response[:40])
            if honour:
                await asyncio.sleep(float(exchange.last_response_headers["Retry-After"]))
    return got


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(LIMITS, retry_after="respected", seed=1)
async def test_honours(chaos_binanceusdm, exchange_chaos):
    await chaos_binanceusdm.load_markets()
    await poll(chaos_binanceusdm, 12, honour=True)
    statuses = [r.status for r in exchange_chaos.journal]
    assert statuses.count(429) >= 1 and 418 not in statuses


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(LIMITS, retry_after="respected", seed=1)
async def test_ignores(chaos_binanceusdm, exchange_chaos):
    await chaos_binanceusdm.load_markets()
    await poll(chaos_binanceusdm, 8, honour=False)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(
    Burst(1, faults.rate_limited(retry_after=30), endpoint="GET /fapi/v1/ticker/24hr"),
    retry_after="respected",
    seed=1,
)
async def test_honours_a_scheduled_429(chaos_binanceusdm, exchange_chaos):
    await chaos_binanceusdm.load_markets()
    await poll(chaos_binanceusdm, 3, honour=True)
    assert exchange_chaos.now() > 30
"""


def test_a_bot_that_honours_retry_after_passes_and_one_that_ignores_it_fails(
    chaos_pytester: pytest.Pytester,
) -> None:
    chaos_pytester.makepyfile(BOTS)
    result = chaos_pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*exchange_chaos(retry_after='respected'): the bot sent again before Retry-After had elapsed (seed 1):",
            "*- 429 Too Many Requests at +0.*s (GET /fapi/v1/ticker/24hr on binanceusdm) said Retry-After: 10 s, "
            "until +10.*s; the bot sent 1 request(s) to binanceusdm before then:",
            "*    GET /fapi/v1/ticker/24hr at +0.*s, * s early: answered 418 I'm a Teapot (Retry-After: 120 s)",
            "*- 418 I'm a Teapot at +0.*s (GET /fapi/v1/ticker/24hr on binanceusdm) said Retry-After: 120 s*",
        ]
    )
    assert "test_ignores" in "\n".join(line for line in result.outlines if line.startswith("FAILED"))


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(BinanceRateLimits(limit=4, per="1m"), seed=3)
async def test_ignoring_the_wait_earns_a_ban_twice_as_long_each_time(
    exchange_chaos: Any, chaos_binanceusdm: Any
) -> None:
    exchange = chaos_binanceusdm
    await exchange.load_markets()
    answers = []
    answers_raised: list[type] = []
    for attempt in range(12):
        try:
            await exchange.fetch_ticker(SYMBOL)
        except ccxt.DDoSProtection as exc:
            answers_raised.append(type(exc))
            body = json.loads(exchange.last_http_response)
            answers.append(
                (int(exchange.last_response_headers["Retry-After"]), body["code"], body["msg"][:25])
            )
        else:
            assert not answers, f"attempt {attempt} was served during a wait"
    # Four requests to binanceusdm went through (load_markets' own on binanceusdm among them).
    usdm = [r for r in exchange_chaos.journal if r.venue == "binanceusdm"]
    assert [r.status for r in usdm[:5]] == [200, 200, 200, 200, 429]
    assert set(answers_raised) == {ccxt.DDoSProtection}  # the class itself, for the 429 and the 418s
    retry_after = answers[0][0]
    assert 55 <= retry_after <= 60  # until the minute's window ends
    assert answers[:5] == [
        (retry_after, -1003, "Too many requests; curren"),
        (120, -1003, "Way too many requests; IP"),
        (240, -1003, "Way too many requests; IP"),
        (480, -1003, "Way too many requests; IP"),
        (960, -1003, "Way too many requests; IP"),
    ]
    faulted = [r for r in exchange_chaos.journal if r.fault is not None]
    assert [(r.status, r.fault, r.retry_after) for r in faulted[:5]] == [
        (429, "rate_limited", retry_after),
        (418, "ip_banned", 120),
        (418, "ip_banned", 240),
        (418, "ip_banned", 480),
        (418, "ip_banned", 960),
    ]
    with pytest.raises(AssertionError, match=r"sent again before Retry-After had elapsed") as verdict:
        exchange_chaos.assert_respected_retry_after()
    assert "said Retry-After: 120 s" in str(verdict.value)
    assert "s early: answered 418 I'm a Teapot (Retry-After: 240 s)" in str(verdict.value)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(BinanceRateLimits(limit=4, per="1m", ban="2m", max_ban="5m"), seed=3)
async def test_a_bot_that_waits_out_its_ban_is_served_again_and_bans_stop_at_max_ban(
    exchange_chaos: Any, chaos_binanceusdm: Any
) -> None:
    import asyncio

    exchange = chaos_binanceusdm
    await exchange.load_markets()
    waits = []
    while len(waits) < 4:
        try:
            await exchange.fetch_ticker(SYMBOL)
        except ccxt.DDoSProtection:
            waits.append(int(exchange.last_response_headers["Retry-After"]))
    assert waits[1:] == [120, 240, 300]  # 480 s is past max_ban
    # Waiting out the last ban, the bot is served again; the limiter still remembers it.
    await asyncio.sleep(waits[-1])
    ticker = await exchange.fetch_ticker(SYMBOL)
    assert ticker["symbol"] == SYMBOL
    assert exchange_chaos.journal[-1].status == 200


@pytest.mark.exchange_chaos(BinanceRateLimits(limit=4, per="1m"), seed=3)
def test_the_limiter_answers_sync_ccxt_the_same(exchange_chaos: Any, chaos_binanceusdm_sync: Any) -> None:
    exchange = chaos_binanceusdm_sync
    exchange.load_markets()
    answers = []
    for _ in range(12):
        try:
            exchange.fetch_ticker(SYMBOL)
        except ccxt.BaseError as exc:
            body = json.loads(exchange.last_http_response)
            answers.append((type(exc), int(exchange.last_response_headers["Retry-After"]), body["code"]))
    assert [(cls, code) for cls, _, code in answers] == [(ccxt.DDoSProtection, -1003)] * len(answers)
    assert [seconds for _, seconds, _ in answers][1:4] == [120, 240, 480]
    assert [r.status for r in exchange_chaos.journal if r.fault] == [429] + [418] * (len(answers) - 1)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.rate_limited(retry_after=30), venue="binanceusdm"), seed=1)
async def test_only_the_venue_that_said_wait_counts(
    exchange_chaos: Any, chaos_binanceusdm: Any, chaos_bybit: Any
) -> None:
    with pytest.raises(ccxt.DDoSProtection):
        await chaos_binanceusdm.fetch_time()
    await chaos_bybit.fetch_time()  # another exchange, another IP limit: not early
    exchange_chaos.assert_respected_retry_after()
    await chaos_binanceusdm.fetch_time()
    with pytest.raises(
        AssertionError, match=r"said Retry-After: 30 s.*\n.*GET /fapi/v1/time at .*, (29\.9|30\.0) s early"
    ):
        exchange_chaos.assert_respected_retry_after()


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(seed=1)
async def test_the_verdict_fails_when_nothing_said_wait(exchange_chaos: Any, chaos_binanceusdm: Any) -> None:
    await chaos_binanceusdm.fetch_time()
    with pytest.raises(
        AssertionError,
        match=r"assert_respected_retry_after\(\) checked nothing: the bot never "
        r"got a 429 or 418 answer with Retry-After \(1 request\(s\) answered: 200 x1\)",
    ):
        exchange_chaos.assert_respected_retry_after()


QUIET = """
import pytest

from pytest_exchange_chaos import BinanceRateLimits


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(BinanceRateLimits(limit=100, per="10s"), seed=1)
async def test_limit_never_reached(chaos_binanceusdm):
    await chaos_binanceusdm.fetch_time()


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(BinanceRateLimits(limit=100, per="10s", required=False), seed=1)
async def test_optional_limit(chaos_binanceusdm):
    await chaos_binanceusdm.fetch_time()


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(retry_after="respected", seed=1)
async def test_nothing_said_wait(chaos_binanceusdm):
    await chaos_binanceusdm.fetch_time()
"""


def test_a_limit_never_reached_and_a_check_with_nothing_to_check_fail(
    chaos_pytester: pytest.Pytester,
) -> None:
    chaos_pytester.makepyfile(QUIET)
    result = chaos_pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*a rate limit never limited the bot, so the test did not test what it claims:",
            "*BinanceRateLimits(100 requests per 10 seconds on binanceusdm, bans from 120s to 259200s) never "
            "limited a request (seed 1)",
            "*  why: the bot sent 1 request(s) to binanceusdm; its busiest window, +0s to +10s, carried 1 to "
            "binanceusdm, and the limit is 100",
            "*  fix: have the bot send more requests within one window",
            "*if this limit is deliberately optional, write BinanceRateLimits(..., required=False)",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*exchange_chaos(retry_after='respected') checked nothing: the bot never got a 429 or 418 answer "
            "with Retry-After (1 request(s) answered: 200 x1)*",
        ]
    )


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("retry_after='yes'", "exchange_chaos(retry_after='yes'): write retry_after='respected'"),
        ("retry_after=True", "exchange_chaos(retry_after=True): write retry_after='respected'"),
        (
            "BinanceRateLimits(venue='binancecoinm')",
            "venue 'binancecoinm' is no venue; write a ccxt id: *'binanceusdm'",
        ),
    ],
)
def test_a_wrong_marker_value_is_a_usage_error_saying_what_to_write(
    chaos_pytester: pytest.Pytester, marker: str, message: str
) -> None:
    chaos_pytester.makepyfile(
        f"""
        import pytest
        from pytest_exchange_chaos import BinanceRateLimits

        @pytest.mark.exchange_chaos({marker})
        def test_it(exchange_chaos):
            pass
        """
    )
    result = chaos_pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_the_limiter_is_binances_only() -> None:
    with pytest.raises(ValueError, match=r"venue='bybit'.*Bybit limits differently"):
        BinanceRateLimits(venue="bybit")
    with pytest.raises(ValueError, match=r"max_ban"):
        BinanceRateLimits(ban="10m", max_ban="5m")
