"""Intent and operations as a trader reads them, with real async ccxt: a far-side order closes
(exit) or flips (entry), and a logical operation ends when the bot gives up on it."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt
import pytest

from pytest_exchange_chaos import Budget, Burst, ChaosController, faults
from pytest_exchange_chaos.journal import GIVE_UP_AFTER, group_operations

SYMBOL = "BTC/USDT:USDT"
STOP = {"stopPrice": 58_800, "reduceOnly": True}


async def _stop(binance: Any, params: dict[str, Any] | None = None) -> bool:
    """One raw stop-loss attempt: True when acknowledged, False when the gateway ate it."""
    try:
        await binance.create_order(SYMBOL, "STOP_MARKET", "sell", 0.01, None, {**STOP, **(params or {})})
    except ccxt.NetworkError:
        return False
    return True


async def _entry_then_stops(
    binance: Any, waits: list[float], client_ids: list[str] | None = None
) -> list[bool]:
    """A long entry, then a raw stop-loss attempt, ``waits[i]`` seconds, the next attempt ...
    (each with ``client_ids[i]`` when given): which attempts were acknowledged."""
    await binance.load_markets()
    await binance.create_order(SYMBOL, "market", "buy", 0.01)
    ids = client_ids or [None] * (len(waits) + 1)
    acknowledged = []
    for index, client_id in enumerate(ids):
        acknowledged.append(await _stop(binance, {"clientOrderId": client_id} if client_id else None))
        if index < len(waits):
            await asyncio.sleep(waits[index])
    return acknowledged


def _intents(chaos: ChaosController, endpoint: str = "POST /fapi/v1/order") -> list[str]:
    return [r.intent for r in chaos.journal if r.endpoint == endpoint]


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(seed=1)
async def test_a_close_without_reduce_only_is_an_exit(exchange_chaos: ChaosController, binance: Any) -> None:
    await binance.load_markets()
    await binance.create_order(SYMBOL, "market", "buy", 0.01)
    await binance.create_order(SYMBOL, "market", "sell", 0.004)  # reduces the long
    await binance.create_order(SYMBOL, "market", "sell", 0.006)  # closes it
    await binance.create_order(SYMBOL, "limit", "buy", 0.01, 50_000)  # flat again: an entry
    assert _intents(exchange_chaos) == ["entry", "exit", "exit", "entry"]


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(seed=1)
async def test_an_order_that_flips_the_position_is_an_entry(
    exchange_chaos: ChaosController, binance: Any
) -> None:
    await binance.load_markets()
    await binance.create_order(SYMBOL, "market", "sell", 0.01)
    await binance.create_order(SYMBOL, "market", "buy", 0.004)  # reduces the short
    # Larger than the short: it closes it and opens a long, which needs a stop of its own.
    await binance.create_order(SYMBOL, "market", "buy", 0.03)
    # Reduce-only never flips: an exit whatever its size.
    await binance.create_order(SYMBOL, "market", "sell", 0.05, None, {"reduceOnly": True})
    assert _intents(exchange_chaos) == ["entry", "exit", "entry", "exit"]
    assert exchange_chaos.venue("binanceusdm").positions() == []


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(seed=1)
async def test_a_close_on_bybit_is_an_exit_too(exchange_chaos: ChaosController, bybit: Any) -> None:
    await bybit.load_markets()
    await bybit.create_order(SYMBOL, "market", "buy", 0.01)
    await bybit.create_order(SYMBOL, "market", "sell", 0.01)
    await bybit.create_order(SYMBOL, "market", "sell", 0.01)
    await bybit.create_order(SYMBOL, "market", "buy", 0.02)
    placed = [r.intent for r in exchange_chaos.journal if r.endpoint == "POST /v5/order/create"]
    assert placed == ["entry", "exit", "entry", "entry"]


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(count=3, fault=faults.bad_gateway(), intent="stop_loss"), seed=1)
async def test_the_same_stop_sent_long_after_its_backoff_is_a_new_operation(
    exchange_chaos: ChaosController, binance: Any
) -> None:
    # Ten minutes after two quick tries, on the next cycle: a new decision, not a third retry.
    assert await _entry_then_stops(binance, [1, 600, 2]) == [False, False, False, True]

    first, second = exchange_chaos.operations("stop_loss")
    assert (first.attempts, first.succeeded, first.gave_up, first.abandoned) == (2, False, True, True)
    assert (second.attempts, second.succeeded, second.gave_up) == (2, True, False)
    breach = first.budget_breach(Budget(attempts=5))
    assert breach is not None
    assert "never acknowledged, the bot gave up after 2 attempts (2 attempts over" in breach
    assert "the bot gave up after 2 attempts: it sent the same order again at +10m" in breach
    assert second.budget_breach(Budget(attempts=5, seconds=60)) is None


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(count=7, fault=faults.bad_gateway(), intent="stop_loss"), seed=1)
async def test_a_growing_backoff_stays_one_operation(exchange_chaos: ChaosController, binance: Any) -> None:
    # Past the 30 s floor, but never 4x its longest wait.
    assert await _entry_then_stops(binance, [1, 2, 4, 8, 16, 32, 64]) == [False] * 7 + [True]
    (operation,) = exchange_chaos.operations("stop_loss")
    assert (operation.attempts, operation.succeeded, operation.gave_up) == (8, True, False)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(count=2, fault=faults.bad_gateway(), intent="stop_loss"), seed=1)
async def test_a_wait_past_the_floor_after_quick_retries_is_giving_up(
    exchange_chaos: ChaosController, binance: Any
) -> None:
    assert await _entry_then_stops(binance, [GIVE_UP_AFTER + 5, 1]) == [False, False, True]
    assert [op.attempts for op in exchange_chaos.operations("stop_loss")] == [1, 2]


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(count=2, fault=faults.bad_gateway(), intent="stop_loss"), seed=1)
async def test_a_new_client_order_id_of_the_bots_own_is_a_new_operation(
    exchange_chaos: ChaosController, binance: Any
) -> None:
    ids = ["sl-first", "sl-second", "sl-second"]
    assert await _entry_then_stops(binance, [1, 1], ids) == [False, False, True]

    first, second = exchange_chaos.operations("stop_loss")
    assert (first.attempts, first.gave_up, second.attempts, second.succeeded) == (1, True, 2, True)
    assert first.gave_up_because is not None and "new client order id" in first.gave_up_because


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(count=2, fault=faults.bad_gateway(), intent="stop_loss"), seed=1)
async def test_the_same_client_order_id_is_the_same_order_however_long_the_wait(
    exchange_chaos: ChaosController, binance: Any
) -> None:
    assert await _entry_then_stops(binance, [600, 1], ["sl-1"] * 3) == [False, False, True]
    (operation,) = exchange_chaos.operations("stop_loss")
    assert operation.attempts == 3 and operation.succeeded


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(count=2, fault=faults.bad_gateway(), intent="stop_loss"), seed=1)
async def test_ccxts_generated_client_order_ids_do_not_split_a_retry(
    exchange_chaos: ChaosController, binance: Any
) -> None:
    assert await _entry_then_stops(binance, [1, 2]) == [False, False, True]
    ids = {r.client_order_id for r in exchange_chaos.journal if r.intent == "stop_loss"}
    assert len(ids) == 3  # ccxt sent a fresh one each time
    (operation,) = exchange_chaos.operations("stop_loss")
    assert operation.attempts == 3 and operation.succeeded


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(
    Burst(count=1, fault=faults.rate_limited(retry_after=120), intent="stop_loss"), seed=1
)
async def test_waiting_out_a_retry_after_is_still_retrying(
    exchange_chaos: ChaosController, binance: Any
) -> None:
    # As the 429 asked, and longer than the 30 s floor.
    assert await _entry_then_stops(binance, [125]) == [False, True]
    (operation,) = exchange_chaos.operations("stop_loss")
    assert operation.attempts == 2 and operation.succeeded


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(count=1, fault=faults.bad_gateway(), intent="stop_loss"), seed=1)
async def test_an_operation_the_bot_never_retried_was_given_up(
    exchange_chaos: ChaosController, binance: Any
) -> None:
    assert await _entry_then_stops(binance, []) == [False]
    await asyncio.sleep(600)
    await binance.fetch_ticker(SYMBOL)  # the bot went on with its day
    (operation,) = exchange_chaos.operations("stop_loss")
    assert operation.gave_up and not operation.succeeded
    assert "the bot gave up after 1 attempt: it sent nothing more for it in the 10m" in operation.story()
    # Until the bot has been silent for longer than its backoff, it may still be retrying.
    journal = [r for r in exchange_chaos.journal if r.intent != "market_data"]
    (open_operation,) = [op for op in group_operations(journal) if op.intent == "stop_loss"]
    assert not open_operation.gave_up
