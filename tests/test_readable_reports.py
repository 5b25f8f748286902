"""Reports a person reads: a failing verdict shows the user's line and our message, not our code;
a budget broken in a test whose body raised still tells its story; the summary's header is words;
the JSON report is small unless asked for the journal; the timeline tells ghosts, duplicates and
refusals apart; the docs' samples of our output are what the plugin prints today."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

DUPLICATE = """
import pytest

from pytest_exchange_chaos import Burst, faults


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.cloudflare_timeout(), intent="entry"))
async def test_retry_after_a_ghost(chaos_binanceusdm, exchange_chaos):
    await chaos_binanceusdm.load_markets()
    for _ in range(2):
        order = await chaos_binanceusdm.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
        if order["id"] is not None:
            break
    exchange_chaos.assert_no_duplicate_orders()


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.bad_gateway(), intent="entry"))
async def test_never_placed(chaos_binanceusdm, exchange_chaos):
    await chaos_binanceusdm.load_markets()
    with pytest.raises(Exception):
        await chaos_binanceusdm.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    exchange_chaos.assert_placed("entry")


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.bad_gateway(), intent="entry"))
async def test_unprotected(chaos_binanceusdm, exchange_chaos):
    await chaos_binanceusdm.load_markets()
    for _ in range(2):
        try:
            await chaos_binanceusdm.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
            break
        except Exception:
            pass
    exchange_chaos.assert_positions_protected()
"""


def test_a_failing_verdict_shows_the_users_line_not_the_plugins_code(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(test_verdicts=DUPLICATE)
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    out = result.stdout.str()
    for line in (
        "exchange_chaos.assert_no_duplicate_orders()",
        'exchange_chaos.assert_placed("entry")',
        "exchange_chaos.assert_positions_protected()",
    ):
        assert f">       {line}" in out, out
    assert "controller.py" not in out, out
    assert "def assert_" not in out and "raise AssertionError" not in out, out
    assert "E       AssertionError: 1 order(s) placed more than once" in out


BODY_RAISES = """
import ccxt
import pytest

from pytest_exchange_chaos import Budget, Burst, faults


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(3, faults.bad_gateway(), intent="entry"))
@pytest.mark.retry_budget(entry=Budget(attempts=2))
async def test_the_bot_crashes_after_blowing_its_budget(chaos_binanceusdm, exchange_chaos):
    await chaos_binanceusdm.load_markets()
    for _ in range(4):
        try:
            await chaos_binanceusdm.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
            break
        except ccxt.NetworkError:
            pass
    raise KeyError("the bot crashed on something else")
"""


def test_a_budget_broken_before_the_body_raised_still_tells_its_story(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(test_crash=BODY_RAISES)
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines(
        [
            r"E\s+KeyError: 'the bot crashed on something else'",
            r"-+ exchange chaos: retry budget -+",
            r"retry budget broken by 1 operation\(s\) \(seed \d+\):",
            r"entry buy 0.01 BTC/USDT:USDT on binanceusdm, first tried at .*budget 2 attempts",
            r"\s+attempt 1 at \+\S+: bad_gateway \(502\)",
            r"\s+attempt 4 at \+\S+: acknowledged \(200\)",
        ]
    )


def test_a_verdict_that_already_told_the_story_is_not_told_twice(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        test_told=BODY_RAISES.replace(
            'raise KeyError("the bot crashed on something else")',
            'exchange_chaos.assert_placed("entry", within=Budget(attempts=2))',
        )
    )
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert result.stdout.str().count("attempt 1 at") == 1, result.stdout.str()
