"""Ghost successes and the trader's invariants: no order placed twice, no position without a stop."""

from __future__ import annotations

import uuid

import ccxt
import pytest

from pytest_exchange_chaos import Budget, Burst, faults

SYMBOL = "BTC/USDT:USDT"
ORDER_ENDPOINTS = "POST /fapi/v1/order"


async def naive_entry(exchange, amount: float = 0.01) -> dict:  # type: ignore[no-untyped-def, type-arg]
    """Retry on NetworkError, as most bots do."""
    for _ in range(5):
        try:
            return await exchange.create_order(SYMBOL, "market", "buy", amount)  # type: ignore[no-any-return]
        except ccxt.NetworkError:
            continue
    raise RuntimeError("gave up")


async def reconciling_entry(exchange, amount: float = 0.01) -> dict:  # type: ignore[no-untyped-def, type-arg]
    """Before retrying, ask the exchange whether the order it did not confirm exists after all."""
    client_id = f"entry-{uuid.uuid4().hex[:16]}"
    for _ in range(5):
        try:
            return await exchange.create_order(
                SYMBOL, "market", "buy", amount, None, {"clientOrderId": client_id}
            )  # type: ignore[no-any-return]
        except ccxt.NetworkError:
            try:
                return await exchange.fetch_order(None, SYMBOL, {"clientOrderId": client_id})  # type: ignore[no-any-return]
            except ccxt.OrderNotFound:
                continue
    raise RuntimeError("gave up")


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.ghost(faults.bad_gateway()), endpoint=ORDER_ENDPOINTS))
async def test_a_naive_retry_after_a_ghost_502_doubles_the_position(exchange_chaos, binance) -> None:  # type: ignore[no-untyped-def]
    await binance.load_markets()
    await naive_entry(binance)
    (position,) = exchange_chaos.venue("binanceusdm").positions()
    assert position.contracts == pytest.approx(0.02)  # two positions' worth
    with pytest.raises(AssertionError) as caught:
        exchange_chaos.assert_no_duplicate_orders()
    message = str(caught.value)
    assert "1 order(s) placed more than once" in message
    assert "entry buy 0.01 BTC/USDT:USDT on binanceusdm was placed 2 times" in message
    assert "bot saw ghost(bad_gateway)" in message
    assert message.count("client id") == 2


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.binance.unknown_execution_status(), endpoint=ORDER_ENDPOINTS))
async def test_a_naive_retry_after_minus_1007_doubles_the_position_too(exchange_chaos, binance) -> None:  # type: ignore[no-untyped-def]
    await binance.load_markets()
    await naive_entry(binance)
    ghosts = [r for r in exchange_chaos.journal if r.fault == "binance.unknown_execution_status"]
    assert len(ghosts) == 1 and ghosts[0].executed and ghosts[0].status == 408
    with pytest.raises(AssertionError, match="placed 2 times"):
        exchange_chaos.assert_no_duplicate_orders()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "ghost",
    [
        faults.ghost(faults.bad_gateway()),
        faults.ghost(faults.read_timeout()),
        faults.binance.unknown_execution_status(),
    ],
)
async def test_a_bot_that_reconciles_by_client_id_places_once(exchange_chaos, binance, ghost) -> None:  # type: ignore[no-untyped-def]
    await binance.load_markets()
    exchange_chaos.add(Burst(1, ghost, endpoint=ORDER_ENDPOINTS))
    order = await reconciling_entry(binance)
    assert order["status"] == "closed"
    exchange_chaos.assert_no_duplicate_orders()
    (position,) = exchange_chaos.venue("binanceusdm").positions()
    assert position.contracts == pytest.approx(0.01)
    lookups = [r for r in exchange_chaos.journal if r.path == "/fapi/v1/order" and r.method == "GET"]
    assert len(lookups) == 1 and lookups[0].intent == "account"


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.ghost(faults.bad_gateway()), endpoint=ORDER_ENDPOINTS))
async def test_reusing_the_client_id_alone_does_not_save_a_market_order(exchange_chaos, binance) -> None:  # type: ignore[no-untyped-def]
    # Binance rejects a duplicate client id only among OPEN orders (-4116); a filled market
    # order's id is free again, so a blind retry with the same id still places it twice.
    await binance.load_markets()
    params = {"clientOrderId": "entry-fixed-id-1"}
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await binance.create_order(SYMBOL, "market", "buy", 0.01, None, params)
    await binance.create_order(SYMBOL, "market", "buy", 0.01, None, params)
    with pytest.raises(AssertionError, match="client id entry-fixed-id-1"):
        exchange_chaos.assert_no_duplicate_orders()


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_a_resting_limit_orders_client_id_is_refused_while_open(exchange_chaos, binance) -> None:  # type: ignore[no-untyped-def]
    await binance.load_markets()
    params = {"clientOrderId": "entry-limit-1"}
    await binance.create_order(SYMBOL, "limit", "buy", 0.01, 50_000, params)
    with pytest.raises(ccxt.InvalidOrder, match="-4116"):
        await binance.create_order(SYMBOL, "limit", "buy", 0.01, 50_000, params)
    exchange_chaos.assert_no_duplicate_orders()


async def open_with_stop(exchange, stop_attempts: int) -> None:  # type: ignore[no-untyped-def]
    entry = await exchange.create_order(SYMBOL, "market", "buy", 0.01)
    stop = float(exchange.price_to_precision(SYMBOL, float(entry["average"]) * 0.97))
    for attempt in range(stop_attempts):
        try:
            await exchange.create_order(
                SYMBOL, "STOP_MARKET", "sell", 0.01, None, {"stopPrice": stop, "reduceOnly": True}
            )
            return
        except ccxt.NetworkError:
            if attempt + 1 < stop_attempts:
                await exchange.sleep(2000 * 2**attempt)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(2, faults.bad_gateway(), intent="stop_loss"))
async def test_the_incidents_stop_loss_path_leaves_the_position_naked(exchange_chaos, binance) -> None:  # type: ignore[no-untyped-def]
    await binance.load_markets()
    await open_with_stop(binance, stop_attempts=1)
    with pytest.raises(AssertionError) as caught:
        exchange_chaos.assert_positions_protected()
    assert "long 0.01 BTC/USDT:USDT on binanceusdm (opened at +" in str(caught.value)
    assert "no stop-loss order" in str(caught.value)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(2, faults.bad_gateway(), intent="stop_loss"))
@pytest.mark.retry_budget(stop_loss=Budget(attempts=5, seconds=60))
async def test_retrying_the_stop_within_budget_protects_the_position(exchange_chaos, binance) -> None:  # type: ignore[no-untyped-def]
    await binance.load_markets()
    await open_with_stop(binance, stop_attempts=5)
    exchange_chaos.assert_positions_protected()
    exchange_chaos.assert_positions_protected(within=10)
    with pytest.raises(AssertionError, match=r"stop placed after 6\.\d+ s, allowed 5 s"):
        exchange_chaos.assert_positions_protected(within=5)
    (stop_op,) = exchange_chaos.operations("stop_loss")
    assert stop_op.attempts == 3 and stop_op.succeeded


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_a_stop_on_the_wrong_side_or_too_small_does_not_protect(exchange_chaos, binance) -> None:  # type: ignore[no-untyped-def]
    await binance.load_markets()
    await binance.create_order(SYMBOL, "market", "buy", 0.02)
    await binance.create_order(
        SYMBOL, "STOP_MARKET", "sell", 0.01, None, {"stopPrice": 50_000, "reduceOnly": True}
    )
    with pytest.raises(AssertionError, match=r"stops cover 0\.01"):
        exchange_chaos.assert_positions_protected()
    await binance.create_order(
        SYMBOL, "STOP_MARKET", "sell", 0.01, None, {"stopPrice": 49_000, "reduceOnly": True}
    )
    exchange_chaos.assert_positions_protected()


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_the_venue_can_refuse_legacy_stops_as_binance_does_now(exchange_chaos, binance) -> None:  # type: ignore[no-untyped-def]
    await binance.load_markets()
    await binance.create_order(SYMBOL, "market", "buy", 0.01)
    legacy_stop = {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "stopPrice": "55000", "quantity": "0.01"}
    exchange_chaos.venue("binanceusdm").legacy_conditional_orders = False
    # Older ccxt sends its stops this way; ccxt 4.5.90 maps -4120 to InvalidOrder.
    with pytest.raises(ccxt.ExchangeError, match="-4120"):
        await binance.fapiPrivatePostOrder(legacy_stop)
    with pytest.raises(AssertionError, match="no stop-loss order"):
        exchange_chaos.assert_positions_protected()
