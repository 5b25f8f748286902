"""The day this project exists for, replayed with real async ccxt and an incident-shaped bot."""

from __future__ import annotations

import pytest

from pytest_exchange_chaos import Budget, profiles
from pytest_exchange_chaos._durations import parse_duration

incident_bot = pytest.importorskip("incident_bot")

DAY = parse_duration("7h22m")
SEED = 5


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(profile="binance_502_day", seed=SEED)
async def test_the_naive_bot_loses_its_stop_losses_and_keeps_its_entries(exchange_chaos, binance) -> None:  # type: ignore[no-untyped-def]
    bot = incident_bot.IncidentBot(binance)
    trades = await bot.run_day(hours=DAY / 3600)

    # The wall time this takes is measured in benchmarks/, not asserted here.
    assert exchange_chaos.now() >= DAY
    faults_by_wave = [
        sum(1 for r in exchange_chaos.journal if r.fault and w.start <= r.t < w.end)
        for w in profiles.binance_502_day()
    ]
    assert all(n > 0 for n in faults_by_wave), faults_by_wave
    assert faults_by_wave[0] <= 3 and faults_by_wave[1] <= 21 and faults_by_wave[2] <= 35

    # Entries survive through the retry wrapper...
    exchange_chaos.assert_placed("entry", within=Budget(attempts=5, seconds=60))
    assert trades.failed_entries == 0
    # ...the raw stop-losses do not, and the positions run on unprotected.
    assert trades.unprotected
    with pytest.raises(AssertionError) as budget:
        exchange_chaos.assert_placed("stop_loss", within=Budget(attempts=5, seconds=60))
    report = str(budget.value)
    assert "stop-loss" in report and "never acknowledged" in report and "bad_gateway (502)" in report
    with pytest.raises(AssertionError, match="positions left without a protective stop"):
        exchange_chaos.assert_positions_protected()


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(profile="binance_502_day", seed=SEED)
@pytest.mark.retry_budget(entry=Budget(attempts=5, seconds=60), stop_loss=Budget(attempts=5, seconds=60))
async def test_the_hardened_bot_keeps_every_budget(exchange_chaos, binance) -> None:  # type: ignore[no-untyped-def]
    bot = incident_bot.IncidentBot(binance, hardened=True)
    trades = await bot.run_day(hours=DAY / 3600)
    assert not trades.unprotected and trades.failed_entries == 0
    assert any(r.fault for r in exchange_chaos.journal if r.intent == "stop_loss")
    exchange_chaos.assert_placed("stop_loss", within=Budget(attempts=5, seconds=60))
    exchange_chaos.assert_positions_protected()
    exchange_chaos.assert_no_duplicate_orders()


def test_the_naive_bot_fails_its_retry_budget_with_a_traders_report(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.syspathinsert(str(__import__("pathlib").Path(__file__).parents[1] / "examples"))
    chaos_pytester.makeconftest((__import__("pathlib").Path(__file__).parent / "conftest.py").read_text())
    chaos_pytester.makepyfile(
        f"""
        import pytest
        from pytest_exchange_chaos import Budget
        import incident_bot

        @pytest.mark.asyncio
        @pytest.mark.exchange_chaos(profile="binance_502_day", seed={SEED})
        @pytest.mark.retry_budget(entry=Budget(attempts=5, seconds=60), stop_loss=Budget(attempts=5, seconds=60))
        async def test_day(exchange_chaos, binance):
            await incident_bot.IncidentBot(binance).run_day(hours=7 + 22 / 60)
        """
    )
    result = chaos_pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*retry budget broken by * operation(s) (seed {SEED}):*",
            "*stop-loss sell * on binanceusdm, first tried at +*: never acknowledged, the bot gave up after "
            "1 attempt (1 attempt over 0.0 s, faults: bad_gateway); budget 5 attempts / 60 s*",
            "*attempt 1 at +*: bad_gateway (502)*",
            "*the bot gave up after 1 attempt: it sent nothing more for it in the * that followed*",
        ]
    )
    assert "entry" not in "".join(line for line in result.stdout.lines if "never acknowledged" in line)
