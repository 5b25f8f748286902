"""``assert_state_reconciled()``: does the bot's view of its orders and positions match the venue?

The bot's view of an order is the last thing about it that reached the bot: a stream message
its client was actually delivered (a dropped one, or one still delayed when the test ends,
never reached it), or a REST answer (an order placement, a lookup or listing of the symbol's
orders). A stream message says what it says (its facts: status and filled amount); a REST
answer showed the venue's state of its moment, so it is current unless the order changed
after it. Positions likewise, for the symbols a position update reached the bot about.

Orders are checked on a venue once an order update reached the bot from it, positions once a
position update did: a bot that never watched them has no stream view to be wrong about.
Pure: no pytest, no client.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_exchange_chaos._durations import format_clock
from pytest_exchange_chaos.journal import JournalRecord
from pytest_exchange_chaos.streams import OrderFact, PositionFact, StreamRecord
from pytest_exchange_chaos.venues.base import Venue

__all__ = ["RestReads", "Verdict", "reconcile"]


@dataclass(frozen=True)
class RestReads:
    """A venue's REST endpoints that show the bot the state of its orders and positions."""

    orders: frozenset[str]
    """``GET`` paths answering with orders or their fills (lookups, listings)."""
    positions: frozenset[str]
    placement_shows_state: bool
    """Whether an order placement's answer carries the order's status and fill (Binance's
    ``RESULT`` answers, which ccxt asks for, do; Bybit's carry only the ids)."""


REST_READS: dict[str, RestReads] = {
    "bybit": RestReads(
        orders=frozenset({"/v5/order/realtime", "/v5/order/history", "/v5/execution/list"}),
        positions=frozenset({"/v5/position/list"}),
        placement_shows_state=False,
    ),
    "binanceusdm": RestReads(
        orders=frozenset(
            {
                "/fapi/v1/order",
                "/fapi/v1/openOrder",
                "/fapi/v1/openOrders",
                "/fapi/v1/allOrders",
                "/fapi/v1/userTrades",
                "/fapi/v1/algoOrder",
                "/fapi/v1/openAlgoOrders",
                "/fapi/v1/allAlgoOrders",
            }
        ),
        positions=frozenset(
            {"/fapi/v2/positionRisk", "/fapi/v3/positionRisk", "/fapi/v2/account", "/fapi/v3/account"}
        ),
        placement_shows_state=True,
    ),
}
# A venue of your own: only its stream messages count, REST reads are not known.
_NO_READS = RestReads(frozenset(), frozenset(), placement_shows_state=False)
_CCXT_WORDS = {
    "new": "open",
    "partially_filled": "open",
    "filled": "closed",
    "canceled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
    "triggered": "triggered",
}


@dataclass(frozen=True)
class _View:
    """The last thing that reached the bot about one order or position."""

    at: float
    """When it reached the bot (chaos-clock seconds)."""
    source: str
    """``stream``, or the REST endpoint that answered."""
    as_of: float
    """The venue's state it shows is the state at this time."""
    fact: OrderFact | PositionFact | None = None
    """What a stream message (or a placement answer without state) said; None for a REST answer,
    which showed the state of its moment."""

    def newer_than(self, other: _View | None) -> bool:
        # On a tie the stream wins: it was published after the request the REST answer is for.
        return other is None or (self.at, self.source == "stream") > (other.at, other.source == "stream")


def _latest(*views: _View | None) -> _View | None:
    best: _View | None = None
    for view in views:
        if view is not None and view.newer_than(best):
            best = view
    return best


@dataclass
class Verdict:
    problems: list[str]
    checked: int
    delivered: int
    """Stream messages delivered to the bot, of any kind."""
    kinds: list[str]
    """The stream kinds those were."""


class _LastReads:
    """The last acknowledged REST read per symbol (the key None: one covering every symbol)."""

    def __init__(self, records: Iterable[JournalRecord], paths: frozenset[str], now: float) -> None:
        self._last: dict[str | None, _View] = {}
        for record in records:
            if record.method == "GET" and record.path in paths and record.answered_at <= now:
                view = _View(record.answered_at, record.endpoint, record.t)
                if view.newer_than(self._last.get(record.symbol)):
                    self._last[record.symbol] = view

    def covering(self, symbol: str) -> _View | None:
        return _latest(self._last.get(None), self._last.get(symbol))


def reconcile(
    venues: Sequence[Venue], records: Sequence[StreamRecord], journal: Sequence[JournalRecord], now: float
) -> Verdict:
    """Compare the bot's view with every venue's state at ``now``."""
    # Replies (acks, pongs) tell nothing about orders or positions: only published messages.
    delivered = [
        r
        for r in records
        if r.event == "delivered" and r.t <= now and r.message is not None and r.stream != "reply"
    ]
    kinds = sorted({r.stream for r in delivered if r.stream})
    problems: list[str] = []
    checked = 0
    for venue in venues:
        book = getattr(venue, "book", None)
        if book is None:
            continue
        order_views: dict[str, _View] = {}
        position_views: dict[str, _View] = {}
        for record in delivered:
            if record.venue != venue.id:
                continue
            assert record.message is not None
            for fact in record.message.facts:
                if isinstance(fact, OrderFact):
                    order_views[fact.order_id] = _View(record.t, "stream", record.t, fact)
                elif isinstance(fact, PositionFact):
                    position_views[fact.symbol] = _View(record.t, "stream", record.t, fact)
        acknowledged = [r for r in journal if r.venue == venue.id and r.accepted]
        reads = REST_READS.get(venue.id, _NO_READS)
        if order_views:
            found, count = _orders(venue, book, order_views, acknowledged, reads, now)
            problems += found
            checked += count
        if position_views:
            found, count = _positions(venue, book, position_views, acknowledged, reads, now)
            problems += found
            checked += count
    return Verdict(problems, checked, len(delivered), kinds)


def _chaos_seconds(venue: Venue, wall_ms: int) -> float:
    return wall_ms / 1000 - (venue.context.wall_time() - venue.context.now())


def _find(book: Any, order_id: str) -> Any:
    for channel in ("regular", "algo"):
        order = book.orders.get((channel, order_id))
        if order is not None:
            return order
    return None


def _placements(
    records: Iterable[JournalRecord], reads: RestReads, now: float, venue: str
) -> dict[str, _View]:
    views: dict[str, _View] = {}
    for record in records:
        if (
            record.order_id is None
            or record.method == "GET"
            or record.intent in ("cancel", "account", "market_data")
            or record.answered_at > now
            or record.order_id in views
        ):
            continue
        fact = None
        if not reads.placement_shows_state:
            # The answer says the order exists, nothing more: the bot can only believe it open.
            fact = OrderFact(venue, record.order_id, record.symbol or "", "open", 0.0, 0.0)
        views[record.order_id] = _View(record.answered_at, record.endpoint, record.t, fact)
    return views


def _orders(
    venue: Venue,
    book: Any,
    stream_views: dict[str, _View],
    acknowledged: list[JournalRecord],
    reads: RestReads,
    now: float,
) -> tuple[list[str], int]:
    placed = _placements(acknowledged, reads, now, venue.id)
    last_reads = _LastReads(acknowledged, reads.orders, now)
    problems = []
    checked = 0
    for order_id in sorted({*stream_views, *placed}, key=lambda i: (stream_views.get(i) or placed[i]).at):
        order = _find(book, order_id)
        if order is None:
            continue
        instrument = book.instruments[order.symbol]
        placement = placed.get(order_id)
        if placement is not None and placement.fact is not None and order_id in stream_views:
            # An answer without the order's state tells less than any stream message about it,
            # whichever came first.
            placement = None
        view = _latest(stream_views.get(order_id), placement, last_reads.covering(instrument.symbol))
        assert view is not None
        checked += 1
        filled = float(order.executed_qty)
        status = _CCXT_WORDS.get(order.status, order.status)
        amount = f" {_number(float(order.quantity))}" if order.quantity else ""
        kind = order.kind.replace("_", " ")
        where = f"order {order_id} ({order.side} {kind}{amount} {instrument.symbol} on {venue.id})"
        changed = _chaos_seconds(venue, order.updated_ms)
        venue_says = f"{status}, filled {_number(filled)} (since {format_clock(changed)})"
        if isinstance(view.fact, OrderFact):
            seen = view.fact
            if (seen.status == "open") == order.is_open and abs(seen.filled - filled) <= 1e-9 * max(
                1.0, filled
            ):
                continue
            source = "stream message" if view.source == "stream" else f"answer to {view.source}"
            problems.append(
                f"- {where}: the bot last heard {seen.status}, filled {_number(seen.filled)} ({source} at "
                f"{format_clock(view.at)}); the exchange: {venue_says}"
            )
        elif changed > view.as_of + 0.001:
            problems.append(
                f"- {where}: the bot last saw it in the answer to {view.source} at {format_clock(view.at)}, "
                f"and no update reached it after it changed; the exchange: {venue_says}"
            )
    return problems, checked


def _signed(fact: PositionFact) -> float:
    if fact.side is None:
        return fact.contracts
    return abs(fact.contracts) if fact.side == "long" else -abs(fact.contracts)


def _positions(
    venue: Venue,
    book: Any,
    stream_views: dict[str, _View],
    acknowledged: list[JournalRecord],
    reads: RestReads,
    now: float,
) -> tuple[list[str], int]:
    last_reads = _LastReads(acknowledged, reads.positions, now)
    problems = []
    checked = 0
    for symbol, stream_view in sorted(stream_views.items()):
        try:
            instrument = book.instrument(symbol)
        except Exception:  # a symbol this book does not list: nothing to compare with
            continue
        checked += 1
        held = float(book.position_qty(instrument.id))
        fills = [fill.time_ms for fill in book.fills if fill.symbol == instrument.id]
        changed = _chaos_seconds(venue, fills[-1]) if fills else 0.0
        view = _latest(stream_view, last_reads.covering(instrument.symbol))
        assert view is not None
        where = f"position {instrument.symbol} on {venue.id}"
        venue_says = f"{_side(held)} (since {format_clock(changed)})"
        if isinstance(view.fact, PositionFact):
            seen = _signed(view.fact)
            if abs(seen - held) <= 1e-9 * max(1.0, abs(held)):
                continue
            problems.append(
                f"- {where}: the bot last heard {_side(seen)} (stream message at {format_clock(view.at)}); "
                f"the exchange: {venue_says}"
            )
        elif changed > view.as_of + 0.001:
            problems.append(
                f"- {where}: the bot last saw it in the answer to {view.source} at {format_clock(view.at)}, "
                f"and no update reached it after it changed; the exchange: {venue_says}"
            )
    return problems, checked


def _number(value: float) -> str:
    return f"{value:g}"


def _side(contracts: float) -> str:
    if contracts == 0:
        return "flat"
    return f"{'long' if contracts > 0 else 'short'} {_number(abs(contracts))}"
