"""The httpx REST client under chaos: reads are retried, orders are looked up before a retry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rest_client import BinanceFuturesRest

from pytest_exchange_chaos import Budget, Burst, ChaosController, faults


@pytest.fixture
def rest(exchange_chaos: object) -> Iterator[BinanceFuturesRest]:
    client = BinanceFuturesRest("example-key-0123456789", "example-secret-abcdef")
    try:
        yield client
    finally:
        client.close()


@pytest.mark.exchange_chaos(
    Burst(count=2, fault=faults.service_unavailable(), endpoint="GET /fapi/v1/ticker/price"),
)
@pytest.mark.retry_budget(market_data=Budget(attempts=3, seconds=5))
def test_the_price_survives_a_short_outage(rest: BinanceFuturesRest) -> None:
    assert rest.price("BTCUSDT") > 0


@pytest.mark.exchange_chaos(
    # Executed by the exchange, never answered: the client's 10 s read timeout runs out.
    Burst(count=1, fault=faults.ghost(faults.read_timeout()), intent="entry"),
)
def test_an_order_that_timed_out_is_found_not_sent_twice(
    rest: BinanceFuturesRest, exchange_chaos: ChaosController
) -> None:
    order = rest.place_order("BTCUSDT", "buy", "market", 0.01)

    assert order["status"] == "FILLED"
    exchange_chaos.assert_no_duplicate_orders()
    [position] = exchange_chaos.venue("binanceusdm").positions()
    assert position.contracts == 0.01


@pytest.mark.exchange_chaos(Burst(count=2, fault=faults.bad_gateway(), intent="stop_loss"))
@pytest.mark.retry_budget(stop_loss=Budget(attempts=3, seconds=10))
def test_a_stop_is_placed_through_502s(rest: BinanceFuturesRest, exchange_chaos: ChaosController) -> None:
    rest.place_order("BTCUSDT", "buy", "market", 0.01)
    stop = rest.place_order("BTCUSDT", "sell", "stop_market", 0.01, stop_price=50_000, reduce_only=True)

    assert stop["type"] == "STOP_MARKET"
    exchange_chaos.assert_positions_protected()
