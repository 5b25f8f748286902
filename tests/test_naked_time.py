"""Naked time: every interval a position spent without a covering stop, over the chaos clock.

The bots below are real, unmodified ccxt; the check is ``assert_positions_protected(
max_unprotected=...)``, which fails on any such interval longer than allowed, closed or still
open, where the final state alone (``assert_positions_protected()``) sees nothing wrong.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import ccxt
import pytest
from venue_harness import ALGO_STOPS, context

from pytest_exchange_chaos import Budget, Burst, Wave, faults
from pytest_exchange_chaos.naked_time import UnprotectedInterval, clock_time, format_span
from pytest_exchange_chaos.venues._errors import BookError
from pytest_exchange_chaos.venues._records import OrderRequest
from pytest_exchange_chaos.venues.binance import BinanceUsdmVenue
from pytest_exchange_chaos.venues.bybit import BybitVenue

SYMBOL = "BTC/USDT:USDT"
TRAIL = {"callbackRate": 1, "reduceOnly": True}
# A conditional reduce-only stop below a long on Bybit, the same request on every ccxt version.
STOP_BELOW = {"triggerDirection": "descending", "reduceOnly": True}


async def place_with_retries(place: Any, exchange: Any, *, tries: int, wait_ms: int) -> Any:
    """What a careful bot does with a stop: retry network errors, waiting between tries."""
    for attempt in range(tries):
        try:
            return await place()
        except ccxt.NetworkError:
            if attempt + 1 == tries:
                raise
            await exchange.sleep(wait_ms)
    raise AssertionError("unreachable")


async def trail_and_tighten(binance: Any) -> None:
    """Open a long with a trailing stop, and a minute later replace the stop: cancel first,
    then place the new one, retrying 10 s apart (the new one meets three 502s)."""
    await binance.load_markets()
    await binance.create_order(SYMBOL, "market", "buy", 0.01)
    stop = await binance.create_order(SYMBOL, "TRAILING_STOP_MARKET", "sell", 0.01, None, TRAIL)
    await binance.sleep(60_000)
    await binance.cancel_order(stop["id"], SYMBOL, {"trigger": True} if ALGO_STOPS else {})

    async def tighter() -> Any:
        return await binance.create_order(
            SYMBOL, "TRAILING_STOP_MARKET", "sell", 0.01, None, {**TRAIL, "callbackRate": 0.5}
        )

    await place_with_retries(tighter, binance, tries=5, wait_ms=10_000)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(3, faults.bad_gateway(), intent="stop_loss", after=1))
async def test_a_trailing_stop_replaced_through_faults_leaves_the_position_naked_meanwhile(
    exchange_chaos: Any, binance: Any
) -> None:
    await trail_and_tighten(binance)
    # The end state is fine: a trailing stop covers the position.
    exchange_chaos.assert_positions_protected()
    intervals = exchange_chaos.unprotected_intervals()
    replaced = [i for i in intervals if i.start >= 60]
    assert len(replaced) == 1
    (gap,) = replaced
    assert (gap.venue, gap.symbol, gap.side, gap.size) == ("binanceusdm", SYMBOL, "long", 0.01)
    assert gap.end is not None and gap.seconds == pytest.approx(30, abs=1)
    with pytest.raises(AssertionError) as caught:
        exchange_chaos.assert_positions_protected(max_unprotected="10s")
    message = str(caught.value)
    assert "positions unprotected for longer than 10s (max_unprotected='10s'):" in message
    assert re.search(
        r"- long 0\.01 BTC/USDT:USDT on binanceusdm unprotected for 30\.\d+s "
        r"\(from 00:01:00\.\d+ to 00:01:3[01]\.\d+\)",
        message,
    ), message
    assert "positions left without a protective stop" not in message
    exchange_chaos.assert_positions_protected(max_unprotected="1m")
    exchange_chaos.assert_positions_protected(max_unprotected=Budget(seconds=60))
    # A Budget's attempts bound the stop-loss operations sent while the position was naked.
    exchange_chaos.assert_positions_protected(max_unprotected=Budget(attempts=4, seconds=60))
    with pytest.raises(
        AssertionError,
        match=r"broke the attempts of max_unprotected=Budget\(attempts=3, seconds=60\.0\):\n- stop-loss sell 0\.01 .* took 4 attempts",
    ):
        exchange_chaos.assert_positions_protected(max_unprotected=Budget(attempts=3, seconds=60))
    # within= takes a Budget too: the first stop came at once, its replacement took 4 attempts.
    exchange_chaos.assert_positions_protected(within=Budget(attempts=4, seconds=5))
    with pytest.raises(AssertionError, match=r"stop-loss sell 0\.01 .* took 4 attempts"):
        exchange_chaos.assert_positions_protected(within=Budget(attempts=3, seconds=5))


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave(start=0, duration="4h12m", fault=faults.bad_gateway(), intent="stop_loss"))
async def test_a_stop_that_took_four_hours_of_retries_fails_max_unprotected(
    exchange_chaos: Any, bybit: Any
) -> None:
    await bybit.load_markets()
    await bybit.create_order(SYMBOL, "market", "buy", 0.01)

    async def stop() -> Any:
        return await bybit.create_order(
            SYMBOL, "market", "sell", 0.01, None, {"triggerPrice": 55_000, **STOP_BELOW}
        )

    await place_with_retries(stop, bybit, tries=300, wait_ms=60_000)
    exchange_chaos.assert_positions_protected()
    with pytest.raises(AssertionError) as caught:
        exchange_chaos.assert_positions_protected(max_unprotected="30s")
    message = str(caught.value)
    assert re.search(
        r"- long 0\.01 BTC/USDT:USDT on bybit unprotected for 4h12m\d\ds "
        r"\(from 00:00:0\d\.\d+ to 04:12:\d\d\.\d+\)",
        message,
    ), message
    exchange_chaos.assert_positions_protected(max_unprotected="5h")


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_a_position_still_naked_at_the_end_counts_up_to_the_check(
    exchange_chaos: Any, binance: Any
) -> None:
    await binance.load_markets()
    await binance.create_order(SYMBOL, "market", "buy", 0.01)
    await binance.sleep(45_000)
    (interval,) = exchange_chaos.unprotected_intervals()
    assert interval.end is None and interval.seconds == pytest.approx(45, abs=0.5)
    with pytest.raises(AssertionError) as caught:
        exchange_chaos.assert_positions_protected(max_unprotected="30s")
    message = str(caught.value)
    # Both what is wrong now and for how long it has been.
    assert "positions left without a protective stop:" in message
    assert re.search(
        r"unprotected for 45s \(from 00:00:00\.\d+, still unprotected at 00:00:45\.\d+\)", message
    )


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_always_protected_bots_pass_on_both_venues(
    exchange_chaos: Any, binance: Any, bybit: Any
) -> None:
    await binance.load_markets()
    await bybit.load_markets()
    # Binance: the stop follows the entry at once; Bybit: the stop-loss comes with the entry.
    await binance.create_order(SYMBOL, "market", "buy", 0.01)
    await binance.create_order(SYMBOL, "TRAILING_STOP_MARKET", "sell", 0.01, None, TRAIL)
    await bybit.create_order(SYMBOL, "market", "buy", 0.01, None, {"stopLoss": {"triggerPrice": 55_000}})
    await binance.sleep(3_600_000)
    exchange_chaos.assert_positions_protected(max_unprotected="1s")
    (gap,) = exchange_chaos.unprotected_intervals()
    # The one request between the entry and its stop: ccxt's rate limiter spaces them.
    assert gap.venue == "binanceusdm" and gap.seconds < 0.5
    # Bybit's attached stop-loss: never naked, not even for an instant.
    assert exchange_chaos.venue("bybit").unprotected_intervals() == []


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_a_position_grown_past_its_stop_is_naked_until_covered_again_and_a_close_ends_it(
    exchange_chaos: Any, bybit: Any
) -> None:
    await bybit.load_markets()
    await bybit.create_order(SYMBOL, "market", "buy", 0.01)
    await bybit.create_order(SYMBOL, "market", "sell", 0.01, None, {"triggerPrice": 55_000, **STOP_BELOW})
    await bybit.sleep(10_000)
    await bybit.create_order(SYMBOL, "market", "buy", 0.01)  # scales in: the stop covers half
    await bybit.sleep(20_000)
    await bybit.create_order(SYMBOL, "market", "sell", 0.01, None, {"triggerPrice": 54_000, **STOP_BELOW})
    await bybit.sleep(5_000)
    grown = exchange_chaos.venue("bybit").unprotected_intervals()[-1]
    assert (grown.size, grown.end is not None) == (0.02, True)
    assert grown.seconds == pytest.approx(20, abs=0.5)
    # The first stop triggers: 0.01 left, covered by the second one.
    venue = exchange_chaos.venue("bybit")
    venue.set_price(SYMBOL, 54_500)
    assert [p.contracts for p in venue.positions()] == [0.01]
    assert len(venue.unprotected_intervals()) == 2  # the entry's first moments, and the scale-in
    # Scaled in again past the one stop left, and closed 7 s later: the close ends the interval.
    await bybit.create_order(SYMBOL, "market", "buy", 0.01)
    await bybit.sleep(7_000)
    await bybit.create_order(SYMBOL, "market", "sell", 0.02, None, {"reduceOnly": True})
    assert venue.positions() == []
    await bybit.sleep(60_000)
    last = venue.unprotected_intervals()[-1]
    assert last.end is not None and last.seconds == pytest.approx(7, abs=1.5)
    exchange_chaos.assert_positions_protected(max_unprotected="21s")
    with pytest.raises(AssertionError, match="unprotected for 2"):
        exchange_chaos.assert_positions_protected(max_unprotected="10s")


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_max_unprotected_with_no_position_ever_opened_checked_nothing(
    exchange_chaos: Any, binance: Any
) -> None:
    await binance.load_markets()
    await binance.fetch_balance()
    exchange_chaos.assert_positions_protected()  # the final state: nothing open, as before
    with pytest.raises(AssertionError) as caught:
        exchange_chaos.assert_positions_protected(max_unprotected="30s")
    message = str(caught.value)
    assert "assert_positions_protected(max_unprotected='30s') checked nothing" in message
    assert "no position was opened on binanceusdm" in message
    with pytest.raises(AssertionError, match=r"within=10\) checked nothing"):
        exchange_chaos.assert_positions_protected(within=10)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(expect_requests=False)
async def test_a_budget_without_seconds_is_refused_with_what_to_write(exchange_chaos: Any) -> None:
    for argument in ("within", "max_unprotected"):
        with pytest.raises(ValueError, match=rf"{argument}=Budget\(seconds=30\) or {argument}='30s'"):
            exchange_chaos.assert_positions_protected(**{argument: Budget(attempts=5)})
    with pytest.raises(TypeError, match=r"max_unprotected=\[30\]\): write seconds"):
        exchange_chaos.assert_positions_protected(max_unprotected=[30])
    with pytest.raises(ValueError, match="max_unprotected='soon' is not a duration"):
        exchange_chaos.assert_positions_protected(max_unprotected="soon")


# ------------------------------------------------------------ the book, step by step on a clock


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _venue(kind: type[Any] = BinanceUsdmVenue) -> tuple[Any, Clock]:
    clock = Clock()
    base = context()
    venue = kind(
        type(base)(now=clock, wall_time=lambda: 1_700_000_000 + clock.t, rng=base.rng, seed=base.seed)
    )
    return venue, clock


def _spans(venue: Any) -> list[tuple[float, float | None, float]]:
    return [(i.start, i.end, i.size) for i in venue.unprotected_intervals()]


def test_cancel_and_replace_counts_the_gap_and_the_same_instant_counts_nothing() -> None:
    venue, clock = _venue()
    book = venue.book
    book.place(OrderRequest("BTCUSDT", "buy", "market", quantity="0.01"))
    stop: dict[str, Any] = {
        "kind": "trailing_stop_market",
        "quantity": "0.01",
        "reduce_only": True,
        "callback_rate": "1",
    }
    first = book.place(OrderRequest("BTCUSDT", "sell", **stop))
    clock.t = 10
    book.cancel("BTCUSDT", order_id=first.id)
    second = book.place(OrderRequest("BTCUSDT", "sell", **stop))
    assert _spans(venue) == []  # replaced within the instant
    clock.t = 20
    book.cancel("BTCUSDT", order_id=second.id)
    clock.t = 24.5
    book.place(OrderRequest("BTCUSDT", "sell", **stop))
    assert _spans(venue) == [(20, 24.5, 0.01)]
    assert venue.positions_opened() == 1


def test_a_stop_that_triggers_and_leaves_the_rest_naked_and_a_flip_is_a_new_position() -> None:
    venue, clock = _venue()
    book = venue.book
    book.place(OrderRequest("BTCUSDT", "buy", "market", quantity="0.02"))
    book.place(
        OrderRequest(
            "BTCUSDT", "sell", "stop_market", quantity="0.01", trigger_price="55000", reduce_only=True
        )
    )
    book.place(
        OrderRequest(
            "BTCUSDT", "sell", "stop_market", quantity="0.01", trigger_price="50000", reduce_only=True
        )
    )
    clock.t = 5
    # The bot moves the lower stop: cancelled, and its replacement never comes.
    lower = [o for o in book.open_orders("BTCUSDT") if o.trigger_price == 50000]
    book.cancel("BTCUSDT", order_id=lower[0].id)
    clock.t = 8
    book.set_mark("BTCUSDT", "54900")  # the upper stop fills: 0.01 left, still naked
    assert book.positions["BTCUSDT"].quantity == Decimal("0.01")
    clock.t = 12
    (naked,) = venue.unprotected_intervals()
    assert (naked.start, naked.end, naked.size, naked.seconds) == (5, None, 0.02, 7)
    # Sold through to a short: the long's interval ends, the short's begins.
    book.place(OrderRequest("BTCUSDT", "sell", "market", quantity="0.03"))
    clock.t = 15
    long_, short = venue.unprotected_intervals()
    assert (long_.side, long_.end, short.side, short.start, short.end, short.size) == (
        "long",
        12,
        "short",
        12,
        None,
        0.02,
    )
    assert short.opened_at == 12 and long_.opened_at == 0
    assert venue.positions_opened() == 2


def test_bybits_stop_loss_on_the_position_counts_and_removing_it_does_not() -> None:
    venue, clock = _venue(BybitVenue)
    book = venue.book
    book.place(OrderRequest("BTCUSDT", "buy", "market", quantity="0.01"))
    venue._set_protection("BTCUSDT", "StopLoss", "55000", size=None)
    clock.t = 30
    venue._set_protection("BTCUSDT", "StopLoss", "0", size=None)  # a zero trigger removes it
    clock.t = 40
    assert _spans(venue) == [(30, None, 0.01)]


def test_the_interval_reads_as_a_trader_says_it() -> None:
    interval = UnprotectedInterval("binanceusdm", SYMBOL, "long", 0.01, 18_000, 18_900, 34_020, 15_120)
    assert interval.describe() == (
        "long 0.01 BTC/USDT:USDT on binanceusdm unprotected for 4h12m (from 05:15:00 to 09:27:00)"
    )
    still = UnprotectedInterval("bybit", SYMBOL, "short", 0.5, 0, 1.25, None, 61.5)
    assert still.describe() == (
        "short 0.5 BTC/USDT:USDT on bybit unprotected for 1m01.5s (from 00:00:01.25, still unprotected at 00:01:02.75)"
    )
    spans = (0, 0.105, 30.44, 59.99, 60.35, 90, 150.5, 3599.96, 3600, 3661.4)
    assert [format_span(s) for s in spans] == [
        "0s",
        "0.105s",
        "30.4s",
        "1m",
        "1m00.4s",
        "1m30s",
        "2m30.5s",
        "1h00m",
        "1h00m",
        "1h01m01s",
    ]
    assert clock_time(3600 * 27 + 0.5) == "27:00:00.5"


def _naked_from_scratch(venue: Any) -> set[str]:
    """The positions the controller's final-state rule calls unprotected, from every open order."""
    naked = set()
    for position in venue.positions():
        closing = "sell" if position.side == "long" else "buy"
        stops = [
            o
            for o in venue.open_orders(position.symbol)
            if o.intent == "stop_loss" and o.side == closing and (o.reduce_only or o.close_position)
        ]
        covered = sum(o.amount for o in stops if not o.close_position)
        if not (any(o.close_position for o in stops) or covered >= position.contracts - 1e-12):
            naked.add(position.symbol)
    return naked


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", [BinanceUsdmVenue, BybitVenue])
def test_the_tracked_state_agrees_with_every_open_order_read_afresh(kind: type[Any], seed: int) -> None:
    import random

    draw = random.Random(seed)
    venue, clock = _venue(kind)
    book = venue.book
    marks = {"BTCUSDT": 60_000, "ETHUSDT": 3_000}
    seen = {"naked": 0, "covered": 0}
    for _ in range(250):
        symbol = draw.choice(list(marks))
        side = draw.choice(["buy", "sell"])
        size = {"BTCUSDT": "0.01", "ETHUSDT": "0.1"}[symbol]
        mark = marks[symbol]
        away = 1 + draw.choice([-1, 1]) * draw.uniform(0.005, 0.05)
        trigger = str(round(mark * away, 1 if symbol == "BTCUSDT" else 2))
        step = draw.random()
        try:
            if step < 0.3:
                book.place(
                    OrderRequest(symbol, side, "market", quantity=size, reduce_only=draw.random() < 0.2)
                )
            elif step < 0.65:
                book.place(
                    OrderRequest(
                        symbol,
                        side,
                        draw.choice(["stop_market", "trailing_stop_market"]),
                        quantity=None if (close := draw.random() < 0.3) else size,
                        trigger_price=trigger,
                        callback_rate="1",
                        reduce_only=not close,
                        close_position=close,
                        spawns_order_on_trigger=draw.random() < 0.5,
                    )
                )
            elif step < 0.85:
                orders = book.open_orders(symbol)
                if orders:
                    book.cancel_order(draw.choice(orders), 0)
            else:
                marks[symbol] = round(mark * away, 1)
                book.set_mark(symbol, str(marks[symbol]))
        except BookError:  # a refused order changes nothing
            pass
        clock.t += draw.choice([0, 0, 0.0004, 1, 7])
        open_spans = {book.instruments[span.symbol].symbol for span in book.unprotected() if span.end is None}
        assert open_spans == _naked_from_scratch(venue)
        seen["naked"] += len(open_spans)
        seen["covered"] += len(venue.positions()) - len(open_spans)
    assert venue.positions_opened() > 3
    assert min(seen.values()) > 20, seen


# ------------------------------------------------------------- the report, the summary, the timeline

LATE_STOP_SUITE = """
import ccxt
import pytest

from pytest_exchange_chaos import Burst, faults

SYMBOL = "BTC/USDT:USDT"


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(count=3, fault=faults.bad_gateway(), intent="stop_loss"))
async def test_the_stop_comes_a_minute_late(binance):
    await binance.load_markets()
    await binance.create_order(SYMBOL, "market", "buy", 0.01)
    for _ in range(5):
        try:
            await binance.create_order(SYMBOL, "STOP_MARKET", "sell", 0.01, None, {"stopPrice": 55000, "reduceOnly": True})
            break
        except ccxt.NetworkError:
            await binance.sleep(20_000)
    await binance.create_order("ETH/USDT:USDT", "market", "sell", 0.1)
    await binance.sleep(90_000)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_no_position(binance):
    await binance.fetch_time()
"""


def test_the_report_summary_and_timeline_show_each_positions_time_without_a_stop(
    chaos_pytester: pytest.Pytester,
) -> None:
    import json
    from pathlib import Path

    import jsonschema

    chaos_pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text(encoding="utf-8"))
    chaos_pytester.makepyfile(test_suite=LATE_STOP_SUITE)
    result = chaos_pytester.runpytest("--chaos-report=report.json", "--chaos-timeline=timeline.svg")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "unprotected positions (time without a covering stop-loss): 2",
            "  test_suite.py::test_the_stop_comes_a_minute_late: short 0.1 ETH/USDT:USDT on binanceusdm "
            "unprotected for 1m30.*, still unprotected at the end",
            "  test_suite.py::test_the_stop_comes_a_minute_late: long 0.01 BTC/USDT:USDT on binanceusdm "
            "unprotected for 1m00.*",
        ]
    )
    document = json.loads((chaos_pytester.path / "report.json").read_text(encoding="utf-8"))
    schema = json.loads(
        (Path(__file__).parents[1] / "docs" / "reference" / "report.schema.json").read_text(encoding="utf-8")
    )
    jsonschema.validate(document, schema, cls=jsonschema.Draft202012Validator)
    tests = {t["nodeid"].split("::")[1]: t for t in document["tests"]}
    assert tests["test_no_position"]["unprotected"] == []
    long_, short = tests["test_the_stop_comes_a_minute_late"]["unprotected"]
    assert (long_["symbol"], long_["side"], long_["size"], long_["still_unprotected"]) == (
        "BTC/USDT:USDT",
        "long",
        0.01,
        False,
    )
    assert long_["seconds"] == pytest.approx(60, abs=1) and len(long_["intervals"]) == 1
    assert long_["text"].startswith("long 0.01 BTC/USDT:USDT on binanceusdm unprotected for 1m00")
    assert short["still_unprotected"] and short["intervals"][0]["end"] is None
    svg = (chaos_pytester.path / "timeline.svg").read_text(encoding="utf-8")
    assert ">no stop</text>" in svg and "position without a stop" in svg
    assert "<title>long 0.01 BTC/USDT:USDT on binanceusdm unprotected for 1m00" in svg
