"""``assert_state_reconciled()``: the bot's view of its orders and positions (the last stream
message or REST answer that reached it) against the venue, with real ccxt.pro on both venues."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from pro_harness import close_for_good

from pytest_exchange_chaos import ChaosController, Wave, faults

pytestmark = pytest.mark.asyncio

BTC = "BTC/USDT:USDT"
KEYS = {"apiKey": "test-key-0123456789", "secret": "test-secret-abcdef"}
PRIVATE_DROPPED = Wave("10s", "10m", faults.stream.drop(), stream="private")
ENTRY_PRICE = {"bybit": 59_000, "binanceusdm": 59_000}


@pytest_asyncio.fixture(params=["bybit", "binanceusdm"])
async def pro(request: pytest.FixtureRequest, exchange_chaos: ChaosController) -> AsyncIterator[Any]:
    """Real ccxt.pro on each venue, with keys, closed afterwards."""
    import ccxt.pro

    exchange = getattr(ccxt.pro, request.param)(dict(KEYS))
    try:
        yield exchange
    finally:
        await close_for_good(exchange)


@pytest_asyncio.fixture
async def bybit_pro(exchange_chaos: ChaosController) -> AsyncIterator[Any]:
    import ccxt.pro

    exchange = ccxt.pro.bybit(dict(KEYS))
    try:
        yield exchange
    finally:
        await exchange.close()


async def _next(awaitable: Any) -> Any:
    """A watch's next answer: a broken stream fails the test instead of hanging it."""
    return await asyncio.wait_for(awaitable, 600)


async def _subscribed(chaos: ChaosController, kind: str) -> None:
    """Until a watch_* call's subscription (sent from a task of ccxt's own) has reached the venue."""
    from pytest_exchange_chaos.streams import StreamHub

    for _ in range(1000):
        hub = StreamHub.existing(chaos._engine)
        if hub is not None and any(c.open and kind in c.kinds for c in hub.connections):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the bot never subscribed to {kind}")


async def _private_kind(pro: Any) -> str:
    return "order" if pro.id == "bybit" else "user"


async def _wait_for_fill(pro: Any, order_id: str, *, seconds: float) -> dict[str, Any] | None:
    """Trust the stream: the order as watch_orders last showed it once filled, or None."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        try:
            orders = await asyncio.wait_for(pro.watch_orders(BTC), deadline - loop.time())
        except asyncio.TimeoutError:
            return None
        for order in orders:
            if order["id"] == order_id and order["status"] == "closed":
                return order  # type: ignore[no-any-return]
    return None


async def _entry_filled_in_a_gap(pro: Any, chaos: ChaosController, *, reconcile: bool) -> str:
    """A limit entry placed while the stream works, filled (at +30 s) while its messages are
    dropped; the bot waits a minute for the fill on watch_orders, then maybe re-reads it."""
    watching = asyncio.ensure_future(pro.watch_orders(BTC))
    await _subscribed(chaos, await _private_kind(pro))
    entry = await pro.create_order(BTC, "limit", "buy", 0.01, ENTRY_PRICE[pro.id])
    await _next(watching)
    await asyncio.sleep(30 - chaos.now())
    chaos.venue(pro.id).set_price(BTC, 58_000)
    seen = await _wait_for_fill(pro, entry["id"], seconds=60)
    assert seen is None  # the fill's messages were dropped
    if reconcile:
        params = {"acknowledged": True} if pro.id == "bybit" else {}
        looked_up = await pro.fetch_order(entry["id"], BTC, params)
        assert looked_up["status"] == "closed"
    return str(entry["id"])


@pytest.mark.exchange_chaos(PRIVATE_DROPPED)
async def test_a_bot_that_trusts_the_stream_misses_a_fill_in_a_gap(
    pro: Any, exchange_chaos: ChaosController
) -> None:
    order_id = await _entry_filled_in_a_gap(pro, exchange_chaos, reconcile=False)

    with pytest.raises(AssertionError) as verdict:
        exchange_chaos.assert_state_reconciled()
    message = str(verdict.value)
    assert (
        f"order {order_id} (buy limit 0.01 BTC/USDT:USDT on {pro.id}): the bot last heard open, filled 0 (stream message at +"
        in message
    )
    assert "the exchange: closed, filled 0.01 (since +30s)" in message
    assert "re-read the orders and positions over REST" in message


@pytest.mark.exchange_chaos(PRIVATE_DROPPED)
async def test_a_bot_that_reads_its_order_back_after_the_gap_is_reconciled(
    pro: Any, exchange_chaos: ChaosController
) -> None:
    await _entry_filled_in_a_gap(pro, exchange_chaos, reconcile=True)

    exchange_chaos.assert_state_reconciled()


async def test_a_fill_the_stream_delivered_is_reconciled(pro: Any, exchange_chaos: ChaosController) -> None:
    watching = asyncio.ensure_future(pro.watch_orders(BTC))
    await _subscribed(exchange_chaos, await _private_kind(pro))
    entry = await pro.create_order(BTC, "limit", "buy", 0.01, 59_000)
    await _next(watching)
    exchange_chaos.venue(pro.id).set_price(BTC, 58_000)

    assert (await _wait_for_fill(pro, entry["id"], seconds=60)) is not None
    exchange_chaos.assert_state_reconciled()


@pytest.mark.exchange_chaos(Wave("10s", "10m", faults.stream.drop(), stream="order"))
async def test_a_rest_answer_before_the_change_does_not_reconcile(
    bybit_pro: Any, exchange_chaos: ChaosController
) -> None:
    pro = bybit_pro
    watching = asyncio.ensure_future(pro.watch_orders(BTC))
    await _subscribed(exchange_chaos, "order")
    entry = await pro.create_order(BTC, "limit", "buy", 0.01, 59_000)
    await _next(watching)
    await asyncio.sleep(20)
    assert [o["id"] for o in await pro.fetch_open_orders(BTC)] == [entry["id"]]  # at +20 s
    await asyncio.sleep(10)
    exchange_chaos.venue("bybit").set_price(BTC, 58_000)  # at +30 s, its message dropped

    with pytest.raises(
        AssertionError, match="the bot last saw it in the answer to GET /v5/order/realtime at "
    ):
        exchange_chaos.assert_state_reconciled()
    await pro.fetch_open_orders(BTC)
    exchange_chaos.assert_state_reconciled()


@pytest.mark.exchange_chaos(Wave("10s", "10m", faults.stream.drop(), stream="position"))
async def test_a_position_update_missed_in_a_gap_is_named(
    bybit_pro: Any, exchange_chaos: ChaosController
) -> None:
    pro = bybit_pro
    await _next(pro.watch_positions([BTC]))  # the REST snapshot: flat
    updates = asyncio.ensure_future(pro.watch_positions([BTC]))
    await _subscribed(exchange_chaos, "position")
    await pro.create_order(BTC, "market", "buy", 0.01)
    [long] = await _next(updates)
    assert long["contracts"] == 0.01
    await asyncio.sleep(20)
    await pro.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})  # its update dropped

    with pytest.raises(AssertionError) as verdict:
        exchange_chaos.assert_state_reconciled()
    assert "- position BTC/USDT:USDT on bybit: the bot last heard long 0.01 (stream message at +" in str(
        verdict.value
    )
    assert "the exchange: flat (since +" in str(verdict.value)
    assert not any(position["contracts"] for position in await pro.fetch_positions([BTC]))
    exchange_chaos.assert_state_reconciled()


async def test_a_test_without_streams_checked_nothing(
    bybit_pro: Any, exchange_chaos: ChaosController
) -> None:
    await bybit_pro.create_order(BTC, "market", "buy", 0.01)

    with pytest.raises(AssertionError, match=r"checked nothing: .*\(no stream message ever reached it\)"):
        exchange_chaos.assert_state_reconciled()


async def test_a_bot_that_watched_only_prices_checked_nothing(
    bybit_pro: Any, exchange_chaos: ChaosController
) -> None:
    await _next(bybit_pro.watch_ticker(BTC))
    await bybit_pro.create_order(BTC, "market", "buy", 0.01)

    with pytest.raises(
        AssertionError, match=r"checked nothing: .*\([12] stream message\(s\) reached it \(tickers\)\)"
    ):
        exchange_chaos.assert_state_reconciled()


@pytest.mark.exchange_chaos(Wave("0s", "1h", faults.stream.delay("2h"), stream="order"))
async def test_a_message_still_delayed_at_the_end_never_reached_the_bot(
    bybit_pro: Any, exchange_chaos: ChaosController
) -> None:
    pro = bybit_pro
    watching = asyncio.ensure_future(pro.watch_orders(BTC))
    await _subscribed(exchange_chaos, "order")
    await pro.create_order(BTC, "limit", "buy", 0.01, 59_000)  # "open" arrives in 2 h
    watching.cancel()

    with pytest.raises(AssertionError, match="checked nothing"):
        exchange_chaos.assert_state_reconciled()


# -- assert_positions_protected for a bot that learns its fills from the stream ----------------------


async def _stop_when_filled(pro: Any, chaos: ChaosController) -> None:
    """Place a limit entry and its stop-loss once watch_orders says the entry filled."""
    watching = asyncio.ensure_future(pro.watch_orders(BTC))
    await _subscribed(chaos, await _private_kind(pro))
    entry = await pro.create_order(BTC, "limit", "buy", 0.01, 59_000)
    await _next(watching)
    await asyncio.sleep(30 - chaos.now())
    chaos.venue(pro.id).set_price(BTC, 58_000)
    if await _wait_for_fill(pro, entry["id"], seconds=60) is None:
        return
    await pro.create_order(BTC, "market", "sell", 0.01, None, {"stopLossPrice": 55_000, "reduceOnly": True})


async def test_a_stream_bot_that_hears_its_fill_protects_the_position(
    pro: Any, exchange_chaos: ChaosController
) -> None:
    await _stop_when_filled(pro, exchange_chaos)

    exchange_chaos.assert_positions_protected()
    exchange_chaos.assert_state_reconciled()


@pytest.mark.exchange_chaos(PRIVATE_DROPPED)
async def test_a_stream_bot_that_misses_its_fill_leaves_the_position_naked(
    pro: Any, exchange_chaos: ChaosController
) -> None:
    await _stop_when_filled(pro, exchange_chaos)

    with pytest.raises(AssertionError, match=f"long 0.01 BTC/USDT:USDT on {pro.id} .*no stop-loss order"):
        exchange_chaos.assert_positions_protected()
