"""Faults per logical operation: ``Burst(per_operation=True)`` fails the first attempts of every
matching operation, however many the bot sends and whenever, with real async ccxt."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import ccxt
import pytest

from pytest_exchange_chaos import Budget, Burst, ChaosController, faults

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT")
EXAMPLES = Path(__file__).parents[1] / "examples"


async def _protect(binance: Any, symbol: str, tries: int = 5) -> int:
    """Open a long and retry its stop-loss up to ``tries`` times: the attempts it took."""
    await binance.create_order(symbol, "market", "buy", 0.01 if symbol.startswith("BTC") else 0.1)
    stop = float(
        binance.price_to_precision(symbol, float((await binance.fetch_ticker(symbol))["last"]) * 0.98)
    )
    amount = 0.01 if symbol.startswith("BTC") else 0.1
    for attempt in range(1, tries + 1):
        try:
            await binance.create_order(
                symbol, "STOP_MARKET", "sell", amount, None, {"stopPrice": stop, "reduceOnly": True}
            )
        except ccxt.NetworkError:
            await asyncio.sleep(2 ** (attempt - 1))
            continue
        return attempt
    return 0


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(
    Burst(count=3, fault=faults.bad_gateway(), intent="stop_loss", per_operation=True), seed=1
)
async def test_every_stop_loss_meets_its_three_502s(exchange_chaos: ChaosController, binance: Any) -> None:
    await binance.load_markets()
    # Two stops, minutes apart: a plain Burst(count=3) would spend itself on the first.
    assert await _protect(binance, SYMBOLS[0]) == 4
    await asyncio.sleep(300)
    assert await _protect(binance, SYMBOLS[1]) == 4
    operations = exchange_chaos.operations("stop_loss")
    assert [op.faults for op in operations] == [["bad_gateway"] * 3] * 2
    assert all(op.succeeded for op in operations)
    (tally,) = exchange_chaos._engine.schedule.tallies()  # type: ignore[attr-defined]
    assert (tally.matched, tally.fired, tally.most_attempts) == (8, 6, 4)
    exchange_chaos.assert_placed("stop_loss", within=Budget(attempts=5, seconds=60))


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(
    Burst(count=2, fault=faults.bad_gateway(), intent="stop_loss", after=1, per_operation=True), seed=1
)
async def test_after_lets_each_operations_first_attempts_through(
    exchange_chaos: ChaosController, binance: Any
) -> None:
    await binance.load_markets()
    for symbol in SYMBOLS:
        # Acknowledged at once: attempt 2 never comes, so the burst waits for a retry.
        assert await _protect(binance, symbol) == 1
    assert not any(r.fault for r in exchange_chaos.journal)
    exchange_chaos.add(Burst(count=1, fault=faults.bad_gateway(), intent="stop_loss", required=False))
    await binance.create_order(SYMBOLS[0], "market", "buy", 0.01)
    # Attempt 1 fails by the plain burst, attempts 2 and 3 by the per-operation one.
    assert await _protect(binance, SYMBOLS[0]) == 4
    *_, operation = exchange_chaos.operations("stop_loss")
    assert operation.faults == ["bad_gateway"] * 3 and operation.succeeded


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(seed=1)
async def test_the_engine_and_the_journal_count_the_same_attempts(
    exchange_chaos: ChaosController, binance: Any
) -> None:
    # One rule online (the fault decided per attempt) and offline (the journal's operations):
    # after a give-up, the burst counts from 1 again exactly where group_operations starts anew.
    await binance.load_markets()
    exchange_chaos.add(Burst(count=2, fault=faults.bad_gateway(), intent="stop_loss", per_operation=True))
    await binance.create_order(SYMBOLS[0], "market", "buy", 0.01)
    params = {"stopPrice": 58_800, "reduceOnly": True}

    async def stop() -> bool:
        try:
            await binance.create_order(SYMBOLS[0], "STOP_MARKET", "sell", 0.01, None, params)
        except ccxt.NetworkError:
            return False
        return True

    sent = [await stop()]
    for wait in (1, 600, 1, 1):  # the 10-minute wait is no step of a 1 s backoff
        await asyncio.sleep(wait)
        sent.append(await stop())
    assert sent == [False, False, False, False, True]
    operations = exchange_chaos.operations("stop_loss")
    assert [[r.fault for r in op.records] for op in operations] == [
        ["bad_gateway"] * 2,
        ["bad_gateway", "bad_gateway", None],
    ]
    assert operations[0].gave_up and operations[1].succeeded


def test_bad_per_operation_values_are_refused() -> None:
    for value in ("yes", 1, None, [True]):
        with pytest.raises(TypeError, match=r"per_operation="):
            Burst(count=3, fault=faults.bad_gateway(), per_operation=value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"count=0: write a whole number of attempts"):
        Burst(count=0, fault=faults.bad_gateway(), per_operation=True)
    assert "per operation" in repr(Burst(3, faults.bad_gateway(), intent="stop_loss", per_operation=True))


def test_a_per_operation_burst_that_never_fired_fails_the_test(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    chaos_pytester.makepyfile(
        """
        import pytest
        from pytest_exchange_chaos import Burst, faults

        @pytest.mark.asyncio
        @pytest.mark.exchange_chaos(
            Burst(count=3, fault=faults.bad_gateway(), intent="stop_loss", after=2, per_operation=True),
            seed=1,
        )
        async def test_stop_acknowledged_at_once(binance):
            await binance.load_markets()
            await binance.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
            await binance.create_order(
                "BTC/USDT:USDT", "STOP_MARKET", "sell", 0.01, None, {"stopPrice": 58800, "reduceOnly": True}
            )

        @pytest.mark.asyncio
        @pytest.mark.exchange_chaos(
            Burst(count=3, fault=faults.bad_gateway(), intent="stop_loss", per_operation=True), seed=1
        )
        async def test_no_stop_at_all(binance):
            await binance.load_markets()
            await binance.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
        """
    )
    result = chaos_pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*Burst(3x bad_gateway per operation after 2, intent stop_loss) never injected a fault*",
            "*waited for: intent stop_loss, attempts 3 to 5 of every matching operation*",
            "*why: it lets the first 2 attempts of each operation through, and no matching operation "
            "took more than 1 attempt*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*Burst(3x bad_gateway per operation, intent stop_loss) never injected a fault*",
            "*waited for: intent stop_loss, the first 3 attempt(s) of every matching operation*",
            "*why: nothing the bot sent matched it*",
        ]
    )


def test_the_incident_bot_fails_for_every_seed_and_the_hardened_one_passes(
    chaos_pytester: pytest.Pytester,
) -> None:
    # The "Done when": under a per-operation schedule the outcome is the bot's, not the
    # seed's. A short day (15 positions) per seed keeps this quick.
    chaos_pytester.syspathinsert(str(EXAMPLES))
    chaos_pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    chaos_pytester.makepyfile(
        """
        import pytest
        from pytest_exchange_chaos import Budget, Burst, faults
        import incident_bot

        BUDGET = Budget(attempts=5, seconds=60)
        SCHEDULE = Burst(count=3, fault=faults.bad_gateway(), intent="stop_loss", per_operation=True)

        @pytest.mark.asyncio
        @pytest.mark.parametrize("hardened", [False, True], ids=["naive", "hardened"])
        @pytest.mark.parametrize(
            "seed", [pytest.param(s, marks=pytest.mark.exchange_chaos(SCHEDULE, seed=s)) for s in range(12)]
        )
        @pytest.mark.retry_budget(entry=BUDGET, stop_loss=BUDGET)
        async def test_day(seed, hardened, binance):
            bot = incident_bot.IncidentBot(binance, hardened=hardened)
            bot.manager.rng.seed(seed)
            await bot.run_day(hours=0.125)
        """
    )
    result = chaos_pytester.runpytest("-p", "no:randomly")
    outcomes = {
        (report.nodeid.split("[")[1].rstrip("]"), report.outcome)
        for report in result.reprec.getreports("pytest_runtest_logreport")  # type: ignore[attr-defined]
        if report.when == "call"
    }
    assert {nodeid for nodeid, outcome in outcomes if outcome == "failed"} == {
        f"{s}-naive" for s in range(12)
    }
    assert {nodeid for nodeid, outcome in outcomes if outcome == "passed"} == {
        f"{s}-hardened" for s in range(12)
    }
    result.stdout.fnmatch_lines(["*never acknowledged, the bot gave up after 1 attempt*"])
