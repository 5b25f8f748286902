"""``venue.instruments()``: each instrument a venue lists, its filters and its current prices, in
plain typed objects, agreeing with what real ccxt's ``load_markets`` reads from the same venue.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from venue_harness import context

import pytest_exchange_chaos
from pytest_exchange_chaos.venues import ExchangeRequest, InstrumentView, Venue, builtin_venues


def _by_symbol(venue: Venue) -> dict[str, InstrumentView]:
    return {instrument.symbol: instrument for instrument in venue.instruments()}


def test_every_shipped_venue_lists_its_instruments_with_filters_and_prices() -> None:
    venues = {cls.id: cls(context()) for cls in builtin_venues()}
    usdm = _by_symbol(venues["binanceusdm"])
    btc = usdm["BTC/USDT:USDT"]
    assert dataclasses.asdict(btc) == {
        "symbol": "BTC/USDT:USDT",
        "id": "BTCUSDT",
        "market": "swap",
        "base": "BTC",
        "quote": "USDT",
        "settle": "USDT",
        "tick_size": 0.1,
        "step_size": 0.001,
        "min_amount": 0.001,
        "max_amount": 1000.0,
        "max_market_amount": 120.0,
        "min_notional": 100.0,
        "max_leverage": 125,
        "mark_price": 60_000.0,
        "last_price": 60_000.0,
    }
    spot = _by_symbol(venues["binance"])["BTC/USDT"]
    assert (spot.market, spot.settle, spot.max_leverage, spot.tick_size, spot.min_notional) == (
        "spot",
        None,
        None,
        0.01,
        5.0,
    )
    bybit = _by_symbol(venues["bybit"])
    # Bybit lists the perpetuals with its own limits (100x, 5 USDT), and its spot pairs.
    assert (bybit["BTC/USDT:USDT"].max_leverage, bybit["BTC/USDT:USDT"].min_notional) == (100, 5.0)
    assert {s for s, i in bybit.items() if i.market == "spot"} == {
        "BTC/USDT",
        "ETH/USDT",
        "XRP/USDT",
        "DOGE/USDT",
    }
    assert all(isinstance(i, InstrumentView) for v in venues.values() for i in v.instruments())
    assert pytest_exchange_chaos.InstrumentView is InstrumentView


def test_the_prices_follow_set_price() -> None:
    for cls in builtin_venues():
        venue = cls(context())
        symbol = "BTC/USDT" if venue.id == "binance" else "BTC/USDT:USDT"
        venue.set_price(symbol, 61_234.5)
        moved = _by_symbol(venue)[symbol]
        assert (moved.mark_price, moved.last_price) == (61_234.5, 61_234.5)
        # The other market of the same coin does not move.
        if venue.id == "bybit":
            assert _by_symbol(venue)["BTC/USDT"].mark_price == 60_000.0


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "binance", "bybit"])
def test_the_filters_are_the_ones_ccxt_reads_from_the_venue(
    chaos_pytester: pytest.Pytester, exchange_id: str
) -> None:
    chaos_pytester.makepyfile(
        f"""
        def test_same_numbers(chaos_{exchange_id}_sync, exchange_chaos):
            markets = chaos_{exchange_id}_sync.load_markets()
            instruments = exchange_chaos.venue("{exchange_id}").instruments()
            assert instruments
            for instrument in instruments:
                market = markets[instrument.symbol]
                assert market["id"] == instrument.id
                assert market["type"] == instrument.market
                assert market["precision"]["price"] == instrument.tick_size, instrument.symbol
                assert market["precision"]["amount"] == instrument.step_size, instrument.symbol
                assert market["limits"]["amount"]["min"] == instrument.min_amount, instrument.symbol
                assert market["limits"]["cost"]["min"] in (instrument.min_notional, None), instrument.symbol
        """
    )
    chaos_pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_venue_of_your_own_says_it_does_not_list_instruments() -> None:
    class Toy(Venue):
        id = "toy"
        hosts = frozenset({"api.toy.test"})

        def classify(self, request: ExchangeRequest) -> Any:
            raise NotImplementedError

        def execute(self, request: ExchangeRequest, call: Any) -> Any:
            raise NotImplementedError

        def error_reply(self, code: int, message: str) -> Any:
            raise NotImplementedError

        def open_orders(self, symbol: str | None = None) -> list[Any]:
            return []

        def positions(self) -> list[Any]:
            return []

        def set_price(self, symbol: str, price: float) -> None:
            pass

    with pytest.raises(
        NotImplementedError, match=r"venue 'toy' \(Toy\) does not list its instruments: override"
    ):
        Toy(context()).instruments()
