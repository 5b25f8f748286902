"""The margin resting orders hold is kept as orders change, not added up again on every request.

Each check compares the book's running figures with the sum the book used to make from scratch
on every request (below, ``_from_scratch``): per symbol, over the open orders in the order they
were placed, each addition rounded to the decimal context. Equal decimals render as equal bytes
in every reply (Binance's fixed places, Bybit's shortest form).
"""

from __future__ import annotations

import random
from decimal import ROUND_CEILING, Context, Decimal
from typing import Any

import ccxt
import pytest
from venue_harness import attach, context

from pytest_exchange_chaos.venues._book import Book
from pytest_exchange_chaos.venues._records import OrderRequest
from pytest_exchange_chaos.venues.binance import BinanceUsdmVenue
from pytest_exchange_chaos.venues.bybit import BybitVenue

ZERO = Decimal(0)
KEYS = {"apiKey": "test-key-0123456789", "secret": "test-secret-abcdef", "enableRateLimit": False}
SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "XRP/USDT:USDT")
# 3x, 7x and 15x give margins of 28 digits, whose sum depends on the order it is made in.
LEVERAGES = (3, 7, 10, 15, 20, 50)


def _from_scratch(book: Book) -> dict[str, Decimal]:
    """What the book computed on every request before it kept the margins as they change.

    Read from every order, not ``open_orders()``: listing the open orders lets go of the margin
    of any order closed behind the book's back, which would hide the very drift looked for."""
    margins: dict[str, Decimal] = {}
    for order in (order for order in book.all_orders() if order.is_open):
        if order.kind == "limit" and not order.reduce_only and order.price is not None:
            margin = order.remaining * order.price / book.leverage(order.symbol)
            margins[order.symbol] = margins.get(order.symbol, ZERO) + margin
    return margins


def _assert_margins_agree(book: Book) -> dict[str, Decimal]:
    kept = {symbol: book.open_order_margin(symbol) for symbol in book.instruments}
    total = book.account().open_order_initial_margin
    expected = _from_scratch(book)
    assert kept == {symbol: expected.get(symbol, ZERO) for symbol in book.instruments}
    assert total == sum(expected.values(), ZERO)
    return expected


# ----------------------------------------------------------- a random session through real ccxt


VENUES: dict[str, tuple[Any, Any]] = {
    "binance": (BinanceUsdmVenue, ccxt.binanceusdm),
    "bybit": (BybitVenue, ccxt.bybit),
}


class Session:
    """A bot doing a bit of everything on three symbols, through unmodified sync ccxt."""

    def __init__(self, venue_name: str, seed: int) -> None:
        venue_class, exchange_class = VENUES[venue_name]
        self.rng = random.Random(seed)
        self.venue = venue_class(context(seed), wallet_balance="60000")
        self.exchange = exchange_class(dict(KEYS))
        attach(self.exchange, self.venue)
        self.exchange.load_markets()
        self.placed: list[tuple[str, str]] = []
        self.done: dict[str, int] = {}

    @property
    def book(self) -> Book:
        book: Book = self.venue.book
        return book

    def _mark(self, symbol: str) -> Decimal:
        return self.book.mark(symbol)

    def _order_numbers(self, symbol: str, price: Decimal) -> tuple[float, float]:
        market = self.exchange.market(symbol)
        minimum_cost = Decimal(str(market["limits"]["cost"]["min"] or 5))
        step = Decimal(str(market["precision"]["amount"]))
        steps = (
            minimum_cost * Decimal(self.rng.choice((1.1, 1.7, 2.3, 4.1))) / price / step
        ).to_integral_value(ROUND_CEILING)
        amount = self.exchange.amount_to_precision(symbol, float(steps * step))
        return float(amount), float(self.exchange.price_to_precision(symbol, float(price)))

    def _try(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            result = call(*args, **kwargs)
        except ccxt.BaseError:
            return None
        self.done[what] = self.done.get(what, 0) + 1
        return result

    def step(self) -> None:
        rng = self.rng
        symbol = rng.choice(SYMBOLS)
        mark = self._mark(symbol)
        action = rng.choices(
            ("rest", "cross", "market", "ioc", "reduce", "cancel", "amend", "move", "leverage", "cancel_all"),
            weights=(30, 4, 4, 3, 3, 10, 6, 8, 5, 1),
        )[0]
        side = rng.choice(("buy", "sell"))
        away = Decimal(rng.choice(("0.01", "0.03", "0.07", "0.2")))
        if action in ("rest", "ioc"):
            price = mark * (1 - away) if side == "buy" else mark * (1 + away)
            amount, limit = self._order_numbers(symbol, price)
            params = {"timeInForce": "IOC"} if action == "ioc" else {}
            order = self._try(
                action, self.exchange.create_order, symbol, "limit", side, amount, limit, params
            )
            if order is not None:
                self.placed.append((order["id"], symbol))
        elif action == "cross":
            price = mark * (1 + away) if side == "buy" else mark * (1 - away)
            amount, limit = self._order_numbers(symbol, price)
            self._try(action, self.exchange.create_order, symbol, "limit", side, amount, limit)
        elif action == "market":
            amount, _ = self._order_numbers(symbol, mark)
            self._try(action, self.exchange.create_order, symbol, "market", side, amount)
        elif action == "reduce":
            price = mark * (1 - away) if side == "buy" else mark * (1 + away)
            amount, limit = self._order_numbers(symbol, price)
            params = {"reduceOnly": True}
            self._try(action, self.exchange.create_order, symbol, "limit", side, amount, limit, params)
        elif action in ("cancel", "amend") and self.placed:
            order_id, on = self.placed.pop(rng.randrange(len(self.placed)))
            if action == "cancel":
                self._try(action, self.exchange.cancel_order, order_id, on)
                return
            found = self.book.find(None, order_id=order_id)
            price = found.price or self._mark(on)
            price *= Decimal(rng.choice(("0.98", "0.995", "1.005", "1.02")))
            amount, limit = self._order_numbers(on, price)
            self._try(action, self.exchange.edit_order, order_id, on, "limit", found.side, amount, limit)
            self.placed.append((order_id, on))
        elif action == "move":
            moved = mark * (1 + Decimal(rng.choice(("-0.05", "-0.02", "-0.008", "0.008", "0.02", "0.05"))))
            self.venue.set_price(symbol, float(moved))
            self.done[action] = self.done.get(action, 0) + 1
        elif action == "leverage":
            self._try(action, self.exchange.set_leverage, rng.choice(LEVERAGES), symbol)
        elif action == "cancel_all":
            self._try(action, self.exchange.cancel_all_orders, symbol)


@pytest.mark.parametrize("venue_name", sorted(VENUES))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_margins_kept_match_a_recomputation_after_every_request(venue_name: str, seed: int) -> None:
    session = Session(venue_name, seed)
    most_resting = 0
    long_margins = 0
    for _ in range(300):
        session.step()
        expected = _assert_margins_agree(session.book)
        most_resting = max(most_resting, sum(order.is_open for order in session.book.all_orders()))
        long_margins += any(len(margin.as_tuple().digits) >= 20 for margin in expected.values())
    # The sequence did what it is for: orders rested and left in every way, leverages changed,
    # and the margins were often of the long kind whose sum depends on its order.
    assert most_resting >= 15
    for action in ("rest", "cancel", "amend", "move", "leverage", "market"):
        assert session.done.get(action, 0) >= 3, (action, session.done)
    assert long_margins >= 20


# ------------------------------------------------------------------------- the book on its own


def _place(book: Book, quantity: str, price: str, symbol: str = "BTCUSDT") -> str:
    return book.place(OrderRequest(symbol, "buy", "limit", quantity=quantity, price=price)).id


def test_a_cancel_in_the_middle_gives_the_old_sum_digit_for_digit() -> None:
    # At 3x these margins have 28 digits: added up in order, each addition rounded, the four
    # left after the cancel give ...334; added without rounding and rounded once, ...333.
    book = BinanceUsdmVenue(context(), wallet_balance="100000").book
    book.set_leverage("BTCUSDT", 3)
    ids = [
        _place(book, quantity, price)
        for quantity, price in [
            ("0.125", "57445.8"),
            ("0.004", "36091.4"),
            ("0.004", "54351.5"),
            ("0.507", "43831.8"),
            ("0.007", "39940.4"),
        ]
    ]
    book.cancel("BTCUSDT", order_id=ids[1])
    margin = book.open_order_margin("BTCUSDT")
    assert margin == Decimal("9966.812133333333333333333334")
    assert margin == _from_scratch(book)["BTCUSDT"]
    exact = ZERO
    for order in book.open_orders():
        assert order.price is not None
        exact = Context(prec=200).add(exact, order.remaining * order.price / 3)
    assert Context(prec=28).plus(exact) == Decimal("9966.812133333333333333333333")
    _assert_margins_agree(book)


def test_short_margins_are_kept_exactly_through_every_change() -> None:
    book = BinanceUsdmVenue(context(), wallet_balance="100000").book
    first = _place(book, "0.010", "50000.0")
    second = _place(book, "0.020", "49000.5")
    _place(book, "0.300", "2900.00", symbol="ETHUSDT")
    assert (
        book.open_order_margin("BTCUSDT")
        == Decimal("0.01") * Decimal("50000") / 20 + Decimal("0.02") * Decimal("49000.5") / 20
    )
    book.amend("BTCUSDT", book.find("BTCUSDT", order_id=first), quantity="0.030", price="50010.0")
    _assert_margins_agree(book)
    book.cancel("BTCUSDT", order_id=second)
    _assert_margins_agree(book)
    book.set_mark("BTCUSDT", "50000.0")  # the amended buy at 50,010 fills
    assert book.open_order_margin("BTCUSDT") == ZERO
    assert book.account().open_order_initial_margin == Decimal("0.300") * Decimal("2900.00") / 20
    _assert_margins_agree(book)


def test_a_leverage_change_reprices_that_symbols_orders_only() -> None:
    book = BinanceUsdmVenue(context(), wallet_balance="100000").book
    _place(book, "0.010", "50000.0")
    _place(book, "0.300", "2900.00", symbol="ETHUSDT")
    ether = book._reserves["ETHUSDT"]
    held = dict(ether.held)
    book.set_leverage("BTCUSDT", 7)
    assert book._reserves["ETHUSDT"] is ether and ether.held == held
    assert book.open_order_margin("BTCUSDT") == Decimal("0.010") * Decimal("50000.0") / 7
    _assert_margins_agree(book)


def test_an_order_closed_behind_the_books_back_lets_go_of_its_margin_at_the_next_listing() -> None:
    book = BybitVenue(context(), wallet_balance="100000").book
    order = book.find("BTCUSDT", order_id=_place(book, "0.010", "50000.0"))
    order.status = "canceled"
    assert book.open_orders() == []
    assert book.open_order_margin("BTCUSDT") == ZERO
    _assert_margins_agree(book)


def test_the_venues_cancel_through_the_book() -> None:
    venue = BybitVenue(context(), wallet_balance="100000")
    order = venue.book.find("BTCUSDT", order_id=_place(venue.book, "0.010", "50000.0"))
    venue.book.cancel_order(order, 1_700_000_000_000)
    assert (order.status, order.updated_ms) == ("canceled", 1_700_000_000_000)
    assert venue.book.open_order_margin("BTCUSDT") == ZERO
