"""A position's whole life through the plugin, with real async ccxt, on every shipped venue: opened,
protected by a stop, stopped out when the price moves, and the books agree with what ccxt reads.
Then the Bybit side of the invariants: a ghost 502 on the entry, and an attached stop-loss."""

from __future__ import annotations

import inspect
import uuid
from dataclasses import dataclass, field
from typing import Any

import ccxt
import pytest

from pytest_exchange_chaos import Burst, faults

SYMBOL = "BTC/USDT:USDT"
BYBIT_CREATE = "POST /v5/order/create"
# ccxt 4.5.90 sends Binance stops to the algo endpoint and reads them back only when asked for
# trigger orders; ccxt 4.5.0 sends them to /fapi/v1/order.
BINANCE_ALGO = "fapiPrivatePostAlgoOrder" in inspect.getsource(ccxt.binance.create_order)


@dataclass(frozen=True)
class Flavour:
    """What differs between venues for the same trader's moves."""

    fixture: str
    venue: str
    stop_params: dict[str, Any]
    stop_lookup: dict[str, Any] = field(default_factory=dict)
    order_lookup: dict[str, Any] = field(default_factory=dict)


FLAVOURS = [
    Flavour(
        "binance",
        "binanceusdm",
        {"stopLossPrice": 57_000, "reduceOnly": True},
        stop_lookup={"trigger": True} if BINANCE_ALGO else {},
    ),
    Flavour(
        "bybit",
        "bybit",
        # The conditional-order form every ccxt version sends to /v5/order/create.
        {"triggerPrice": 57_000, "triggerDirection": "descending", "reduceOnly": True},
        stop_lookup={"acknowledged": True},
        order_lookup={"acknowledged": True},
    ),
]


@pytest.fixture(params=FLAVOURS, ids=[f.venue for f in FLAVOURS])
def flavour(request: pytest.FixtureRequest) -> Flavour:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def exchange(request: pytest.FixtureRequest, flavour: Flavour) -> Any:
    """The venue's own ccxt fixture (``binance``, ``bybit``), set up outside the test's loop."""
    return request.getfixturevalue(flavour.fixture)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_open_protect_stop_out_and_reconcile(
    exchange_chaos: Any, exchange: Any, flavour: Flavour
) -> None:
    venue = exchange_chaos.venue(flavour.venue)
    await exchange.load_markets()
    start = (await exchange.fetch_balance())["USDT"]["total"]

    entry = await exchange.create_order(SYMBOL, "market", "buy", 0.01)
    stop = await exchange.create_order(SYMBOL, "market", "sell", 0.01, None, flavour.stop_params)
    exchange_chaos.assert_placed("stop_loss", symbol=SYMBOL, count=1)
    exchange_chaos.assert_positions_protected()
    [position] = await exchange.fetch_positions([SYMBOL])
    assert (position["side"], position["contracts"], position["entryPrice"]) == ("long", 0.01, 60_000)

    venue.set_price(SYMBOL, 58_000)
    assert len(venue.positions()) == 1
    venue.set_price(SYMBOL, 56_900)
    assert venue.positions() == []
    assert venue.open_orders() == []
    assert await exchange.fetch_positions() == []

    stopped = await exchange.fetch_order(stop["id"], SYMBOL, flavour.stop_lookup)
    assert stopped["status"] == "closed"
    opened = await exchange.fetch_order(entry["id"], SYMBOL, flavour.order_lookup)
    assert (opened["status"], opened["filled"], opened["average"]) == ("closed", 0.01, 60_000)
    closed_ids = {order["id"] for order in await exchange.fetch_closed_orders(SYMBOL)}
    assert entry["id"] in closed_ids

    trades = await exchange.fetch_my_trades(SYMBOL)
    assert sorted((t["side"], t["price"]) for t in trades) == [("buy", 60_000), ("sell", 56_900)]
    fees = sum(t["fee"]["cost"] for t in trades)
    balance = await exchange.fetch_balance()
    assert balance["USDT"]["total"] == pytest.approx(start + (56_900 - 60_000) * 0.01 - fees)
    assert balance["USDT"]["free"] == pytest.approx(balance["USDT"]["total"])
    assert balance["USDT"]["used"] == pytest.approx(0)
    exchange_chaos.assert_no_duplicate_orders()


# --------------------------------------------------------------------------- Bybit invariants


async def naive_entry(exchange: Any, amount: float = 0.01) -> Any:
    """Retry on NetworkError, as most bots do."""
    for _ in range(5):
        try:
            return await exchange.create_order(SYMBOL, "market", "buy", amount)
        except ccxt.NetworkError:
            continue
    raise RuntimeError("gave up")


async def reconciling_entry(exchange: Any, amount: float = 0.01) -> Any:
    """Before retrying, ask Bybit whether the unconfirmed order exists after all, by orderLinkId
    (``/v5/order/realtime`` finds recent orders in any state when asked by id)."""
    link_id = f"entry-{uuid.uuid4().hex[:16]}"
    for _ in range(5):
        try:
            return await exchange.create_order(
                SYMBOL, "market", "buy", amount, None, {"clientOrderId": link_id}
            )
        except ccxt.NetworkError:
            found = await exchange.fetch_open_orders(SYMBOL, None, None, {"orderLinkId": link_id})
            if found:
                return found[0]
    raise RuntimeError("gave up")


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.ghost(faults.bad_gateway()), endpoint=BYBIT_CREATE))
async def test_a_naive_retry_after_a_ghost_502_doubles_the_bybit_position(
    exchange_chaos: Any, bybit: Any
) -> None:
    await bybit.load_markets()
    await naive_entry(bybit)
    [position] = exchange_chaos.venue("bybit").positions()
    assert position.contracts == pytest.approx(0.02)
    with pytest.raises(AssertionError) as caught:
        exchange_chaos.assert_no_duplicate_orders()
    message = str(caught.value)
    assert "1 order(s) placed more than once" in message
    assert "entry buy 0.01 BTC/USDT:USDT on bybit was placed 2 times" in message
    assert "bot saw ghost(bad_gateway)" in message


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "ghost",
    [faults.ghost(faults.bad_gateway()), faults.ghost(faults.read_timeout())],
    ids=["ghost-502", "ghost-read-timeout"],
)
async def test_a_bybit_bot_that_reconciles_by_order_link_id_places_once(
    exchange_chaos: Any, bybit: Any, ghost: Any
) -> None:
    await bybit.load_markets()
    exchange_chaos.add(Burst(1, ghost, endpoint=BYBIT_CREATE))
    order = await reconciling_entry(bybit)
    assert order["status"] == "closed"
    exchange_chaos.assert_no_duplicate_orders()
    [position] = exchange_chaos.venue("bybit").positions()
    assert position.contracts == pytest.approx(0.01)
    lookups = [r for r in exchange_chaos.journal if r.path == "/v5/order/realtime"]
    assert len(lookups) == 1 and lookups[0].intent == "account"


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.ghost(faults.bad_gateway()), endpoint=BYBIT_CREATE))
async def test_bybit_refuses_a_reused_order_link_id_even_after_the_fill(
    exchange_chaos: Any, bybit: Any
) -> None:
    # Unlike Binance (unique among open orders only), a linear orderLinkId is never reusable:
    # the blind retry with the same id is refused, and the ghost order stays the only one.
    await bybit.load_markets()
    params = {"clientOrderId": "entry-fixed-id-1"}
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await bybit.create_order(SYMBOL, "market", "buy", 0.01, None, params)
    with pytest.raises(ccxt.InvalidOrder, match="110072"):
        await bybit.create_order(SYMBOL, "market", "buy", 0.01, None, params)
    exchange_chaos.assert_no_duplicate_orders()
    assert exchange_chaos.venue("bybit").positions()[0].contracts == pytest.approx(0.01)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_an_attached_stop_loss_protects_a_bybit_position(exchange_chaos: Any, bybit: Any) -> None:
    await bybit.load_markets()
    await bybit.create_order(SYMBOL, "market", "buy", 0.01, None, {"stopLoss": {"triggerPrice": 57_000}})
    exchange_chaos.assert_positions_protected()
    [entry] = [r for r in exchange_chaos.journal if r.path == "/v5/order/create"]
    assert entry.intent == "entry" and entry.attached_stop_loss == "57000"
    # The stop came with the entry: protected from the moment the position opened.
    exchange_chaos.assert_positions_protected(within=0)
    # A take-profit alone is no protection.
    await bybit.create_order("ETH/USDT:USDT", "market", "sell", 0.1, None, {"takeProfit": 2_800})
    with pytest.raises(AssertionError) as caught:
        exchange_chaos.assert_positions_protected()
    message = str(caught.value)
    assert "short 0.1 ETH/USDT:USDT on bybit (opened at +" in message
    assert "no stop-loss order" in message
    assert "BTC/USDT:USDT" not in message
