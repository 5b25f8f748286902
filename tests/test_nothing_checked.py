"""Checks that cannot pass vacuously: a retry budget no operation was sent for, an empty schedule list."""

from __future__ import annotations

import pytest

BOT = """
import ccxt
import pytest
from pytest_exchange_chaos import Budget


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(seed=1)
@pytest.mark.retry_budget(stop_loss=Budget(attempts=5, seconds=60), entry=Budget(attempts=5))
async def test_stop_never_sent(chaos_bybit):
    await chaos_bybit.load_markets()
    await chaos_bybit.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    try:
        # ccxt raises ArgumentsRequired (no triggerDirection) before anything is sent.
        await chaos_bybit.create_order(
            "BTC/USDT:USDT", "market", "sell", 0.01, None, {"triggerPrice": 50_000, "reduceOnly": True}
        )
    except ccxt.ArgumentsRequired:
        pass


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(seed=1)
@pytest.mark.retry_budget(entry=Budget(attempts=5))
async def test_entry_sent(chaos_bybit):
    await chaos_bybit.load_markets()
    await chaos_bybit.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
"""


def test_a_budget_for_an_intent_never_sent_fails_the_test(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(BOT)
    report = chaos_pytester.path / "report.json"
    result = chaos_pytester.runpytest("-p", "no:randomly", f"--chaos-report={report}")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*retry_budget(stop_loss=Budget(attempts=5, seconds=60.0)) checked nothing: the bot sent no "
            "stop_loss request (the intents it sent: account, entry, market_data)*",
            "*UNUSED*test_stop_never_sent (seed 1): stop_loss NEVER EXERCISED (0 ops); entry kept (1 ops)",
            "*kept  *test_entry_sent (seed 1): entry kept (1 ops)",
        ]
    )


def test_a_budget_marker_without_a_budget_is_a_usage_error(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        """
        import pytest

        @pytest.mark.retry_budget()
        def test_it(exchange_chaos):
            pass
        """
    )
    result = chaos_pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*retry_budget() without a budget checks nothing: write one per intent*"])


def test_an_empty_list_of_schedules_is_a_usage_error(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        """
        import pytest

        @pytest.mark.exchange_chaos([])
        def test_it(exchange_chaos):
            pass
        """
    )
    result = chaos_pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*exchange_chaos() got an empty list of schedules, which injects nothing*"])
