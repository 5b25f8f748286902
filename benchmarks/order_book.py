"""Section 5: what placing an order costs as the book fills up with resting orders.

A grid or market-making bot keeps hundreds to thousands of limit orders resting. For each
simulated venue (Binance USD-M and Bybit), a chaos session starts with 10, 100, 1,000 or 10,000
limit buys resting far below the mark, placed straight into the venue's book (setting them up
through ccxt would only make the run longer), then real, unmodified sync ccxt places limit buys
that rest too, one at a time. Only ``create_order`` is timed; each order is cancelled in the book
right after, untimed, so the book keeps its size. A second line times ``Book.place`` alone, the
same way, where a cost that grows with the book is not hidden under ccxt's. The baseline is the
same venue with 10 resting orders, measured in the same interleaved rounds: the target is that
placing an order costs about the same with 10,000 orders resting as with 10.

Run on its own with ``python benchmarks/order_book.py [--quick]`` or as a section of ``run.py``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

import ccxt
from harness import Result, Section, chaos_session, interleave, paired_ratio, perf_counter

from pytest_exchange_chaos.venues._book import Book
from pytest_exchange_chaos.venues._records import OrderRequest

__all__ = ["run"]

SIZES = (10, 100, 1_000, 10_000)
RATIO_TARGET = 1.5
SYMBOL = "BTC/USDT:USDT"
INSTRUMENT = "BTCUSDT"
WARMUP = 20
# An order placed into the book alone takes some 20 µs: enough of them per side that a busy
# machine's hiccups do not decide the ratio.
BOOK_ALONE_FACTOR = 30
KEYS: dict[str, Any] = {
    "apiKey": "bench-key-0123456789",
    "secret": "bench-secret-abcdef",
    "enableRateLimit": False,
}
# Room for 10,000 resting orders' margin (about 6 USDT each at 20x): the default 10,000 USDT
# wallet would refuse the 1,700th.
WALLET = Decimal(10_000_000)


@dataclass(frozen=True)
class Venue:
    name: str
    venue_id: str
    ccxt_class: Any


VENUES = (
    Venue("binance", "binanceusdm", ccxt.binanceusdm),
    Venue("bybit", "bybit", ccxt.bybit),
)


@dataclass
class Markets:
    markets: Any
    currencies: Any


def capture(venue: Venue) -> Markets:
    """The markets ccxt loads from the venue, loaded once: no side pays for them."""
    with chaos_session():
        exchange = venue.ccxt_class(dict(KEYS))
        try:
            exchange.load_markets()
            return Markets(copy.deepcopy(exchange.markets), copy.deepcopy(exchange.currencies))
        finally:
            exchange.session.close()


def _resting_price(book: Book, index: int) -> Decimal:
    """Half the mark, then a tick lower for every order: every price rests, few repeat."""
    instrument = book.instrument(INSTRUMENT)
    half = (book.mark(INSTRUMENT) / 2).quantize(instrument.tick_size)
    return half - (index % 5_000) * instrument.tick_size


def _quantity(book: Book, price: Decimal) -> Decimal:
    """The smallest quantity whose notional clears the instrument's minimum at ``price``."""
    instrument = book.instrument(INSTRUMENT)
    steps = (instrument.min_notional / price / instrument.step_size).to_integral_value(ROUND_CEILING)
    return max(steps * instrument.step_size, instrument.min_qty)


def fill_book(book: Book, resting: int) -> None:
    book.wallet_balance = WALLET
    for index in range(resting):
        price = _resting_price(book, index)
        order = book.place(
            OrderRequest(INSTRUMENT, "buy", "limit", quantity=str(_quantity(book, price)), price=str(price))
        )
        assert order.is_open, order


def _through_ccxt(venue: Venue, markets: Markets, resting: int, orders: int) -> float:
    """Seconds spent in ccxt's ``create_order`` for ``orders`` orders with ``resting`` on the book."""
    with chaos_session() as chaos:
        book: Book = chaos.venue(venue.venue_id).book  # type: ignore[attr-defined]
        fill_book(book, resting)
        exchange = venue.ccxt_class(dict(KEYS))
        exchange.set_markets(copy.deepcopy(markets.markets), copy.deepcopy(markets.currencies))
        price = _resting_price(book, 0)
        amount = float(_quantity(book, price))
        spent = 0.0
        try:
            for index in range(WARMUP + orders):
                start = perf_counter()
                placed = exchange.create_order(SYMBOL, "limit", "buy", amount, float(price))
                if index >= WARMUP:
                    spent += perf_counter() - start
                book.cancel(INSTRUMENT, order_id=placed["id"])
        finally:
            exchange.session.close()
        assert len(book.open_orders(INSTRUMENT)) == resting
        return spent


def _book_alone(venue: Venue, resting: int, orders: int) -> float:
    """Seconds spent in ``Book.place`` alone: without ccxt's and the HTTP layer's few hundred
    microseconds around it, a cost that grows with the book shows sooner."""
    with chaos_session() as chaos:
        book: Book = chaos.venue(venue.venue_id).book  # type: ignore[attr-defined]
        fill_book(book, resting)
        price = _resting_price(book, 0)
        request = OrderRequest(
            INSTRUMENT, "buy", "limit", quantity=str(_quantity(book, price)), price=str(price)
        )
        spent = 0.0
        for index in range(WARMUP + orders):
            start = perf_counter()
            placed = book.place(request)
            if index >= WARMUP:
                spent += perf_counter() - start
            book.cancel(INSTRUMENT, order_id=placed.id)
        assert len(book.open_orders(INSTRUMENT)) == resting
        return spent


def _result(name: str, samples: dict[str, list[float]], orders: int, sizes: tuple[int, ...]) -> Result:
    per_order = {size: statistics.median(samples[str(size)]) / orders * 1e6 for size in sizes}
    smallest, largest = sizes[0], sizes[-1]
    ratio = paired_ratio(samples[str(largest)], samples[str(smallest)])
    return Result(
        f"{name}: per order with {largest:,} resting / with {smallest:,}",
        ratio,
        "x",
        target=f"<= {RATIO_TARGET}",
        met=ratio <= RATIO_TARGET,
        detail=", ".join(f"{size:,}: {per_order[size]:.1f} µs" for size in sizes),
    )


def run(
    *, orders: int, rounds: int, progress: Callable[[str], None], sizes: tuple[int, ...] = SIZES
) -> Section:
    """``orders`` placed through ccxt per side, ``BOOK_ALONE_FACTOR`` times as many into the book
    alone."""
    alone = orders * BOOK_ALONE_FACTOR
    section = Section(
        f"5. Order book: cost per placed order with {', '.join(f'{size:,}' for size in sizes)} "
        f"orders resting ({orders:,} through ccxt and {alone:,} into the book alone per side, "
        f"{rounds} interleaved rounds)"
    )
    for venue in VENUES:

        def report(step: str, venue: Venue = venue) -> None:
            progress(f"{venue.name}: {step}")

        markets = capture(venue)
        ccxt_sides: list[tuple[str, Callable[[], float]]] = [
            (
                str(size),
                lambda venue=venue, markets=markets, size=size: _through_ccxt(venue, markets, size, orders),
            )
            for size in sizes
        ]
        section.add(
            _result(
                f"{venue.name}, ccxt create_order",
                interleave(ccxt_sides, rounds, progress=report),
                orders,
                sizes,
            )
        )
        book_sides: list[tuple[str, Callable[[], float]]] = [
            (str(size), lambda venue=venue, size=size: _book_alone(venue, size, alone)) for size in sizes
        ]
        section.add(
            _result(
                f"{venue.name}, Book.place alone",
                interleave(book_sides, rounds, progress=report),
                alone,
                sizes,
            )
        )
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer orders and rounds: a first look")
    args = parser.parse_args(argv)

    def progress(step: str) -> None:
        print(f"  [order book] {step}", file=sys.stderr, flush=True)

    section = run(orders=100 if args.quick else 300, rounds=3 if args.quick else 7, progress=progress)
    print(section.title)
    for result in section.results:
        print(f"  {result.name}  {result.formatted_value()}  {result.target}  {result.detail}")
    missed = [r for r in section.results if r.met is False]
    for result in missed:
        print(
            f"target missed: {result.name}: {result.formatted_value()} (target {result.target})",
            file=sys.stderr,
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
