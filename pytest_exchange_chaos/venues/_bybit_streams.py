"""Bybit v5 websocket messages, built from the same book the REST side answers from.

Public streams (``/v5/public/linear``): ``tickers.<id>``, ``kline.<interval>.<id>``,
``orderbook.<depth>.<id>``. Private stream (``/v5/private``, after ``op: auth``): ``order``,
``execution``, ``position``, ``wallet``. Every data row reuses the REST payload functions of
:mod:`._bybit_payloads` and :mod:`._bybit_market`, so what ``watch_orders`` says about an order
is what ``fetch_order`` says about it, field for field, plus the ``category`` the stream adds.

Pure: nothing here opens a socket or reads a clock; the caller passes the exchange's time.
:class:`BybitChanges` tells what changed in the book since it last looked, which is what the
private topics publish.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pytest_exchange_chaos.streams import (
    Connection,
    OrderFact,
    PositionFact,
    StreamHub,
    StreamMessage,
    StreamRefused,
    StreamServer,
)
from pytest_exchange_chaos.venues import _bybit_market as market
from pytest_exchange_chaos.venues import _bybit_payloads as payloads
from pytest_exchange_chaos.venues._book import Book
from pytest_exchange_chaos.venues._instruments import Instrument
from pytest_exchange_chaos.venues._records import Fill, Order
from pytest_exchange_chaos.venues._stream_refusal import refuse_not_simulated
from pytest_exchange_chaos.venues.base import Venue

if TYPE_CHECKING:
    from pytest_exchange_chaos.venues.bybit import BybitVenue

__all__ = [
    "BYBIT_STREAM_HOSTS",
    "PRIVATE_PATH",
    "PRIVATE_TOPICS",
    "PUBLIC_PATHS",
    "BybitChanges",
    "BybitStreams",
    "auth_reply",
    "execution_message",
    "kline_message",
    "order_fact",
    "order_message",
    "orderbook_message",
    "pong_reply",
    "position_fact",
    "position_message",
    "signature_ok",
    "subscribe_reply",
    "ticker_message",
    "wallet_message",
]

BYBIT_STREAM_HOSTS = frozenset(
    {
        "stream.bybit.com",
        "stream.bytick.com",
        "stream-testnet.bybit.com",
        "stream-testnet.bytick.com",
        "stream-demo.bybit.com",
        "stream-demo.bytick.com",
    }
)
PRIVATE_PATH = "/v5/private"
PUBLIC_PATHS = frozenset({"/v5/public/linear", "/v5/public/spot", "/v5/public/inverse", "/v5/public/option"})
PRIVATE_TOPICS = frozenset({"order", "execution", "position", "wallet"})
LINEAR_PATH = "/v5/public/linear"
# Bybit's other public gateways: the venue lists linear USDT contracts only, so a subscription
# there would otherwise be answered with the perpetual's data under the spot pair's name.
_UNSIMULATED_PATHS = {
    "/v5/public/spot": "spot",
    "/v5/public/inverse": "inverse",
    "/v5/public/option": "option",
}
# Topics Bybit publishes that the simulation does not: refused by name (and the test fails),
# where a topic Bybit itself does not know gets Bybit's own "Invalid topic".
_UNSIMULATED_PUBLIC = frozenset(
    {
        "publicTrade",
        "liquidation",
        "allLiquidation",
        "tickers_lt",
        "kline_lt",
        "lt",
        "insurance",
        "priceLimit",
        "adlAlert",
    }
)
_UNSIMULATED_PRIVATE = frozenset({"greeks", "dcp", "stopOrder", "execution.fast", "outboundAccountInfo"})
# What ccxt's watch_order_book may ask for on linear contracts (its own check lets 1, 50, 200,
# 1000 through; Bybit serves 1, 50, 200 and 500).
ORDERBOOK_DEPTHS = frozenset({1, 50, 200, 500, 1000})


# ------------------------------------------------------------------------------ control replies


def subscribe_reply(req_id: Any, conn_id: str, *, private: bool, error: str | None = None) -> dict[str, Any]:
    """Bybit's answer to ``op: subscribe``: public streams say ``ret_msg: subscribe``."""
    reply: dict[str, Any] = {
        "success": error is None,
        "ret_msg": error if error is not None else ("" if private else "subscribe"),
        "conn_id": conn_id,
        "op": "subscribe",
    }
    if req_id is not None:
        reply["req_id"] = str(req_id)
    return reply


def auth_reply(conn_id: str, *, error: str | None = None) -> dict[str, Any]:
    return {"success": error is None, "ret_msg": error or "", "op": "auth", "conn_id": conn_id}


def pong_reply(req_id: Any, conn_id: str, server_ms: int, *, private: bool) -> dict[str, Any]:
    """The private stream answers ``op: ping`` with ``op: pong``, the public ones echo the ping."""
    if private:
        return {"req_id": str(req_id or ""), "op": "pong", "args": [str(server_ms)], "conn_id": conn_id}
    return {"success": True, "ret_msg": "pong", "conn_id": conn_id, "req_id": str(req_id or ""), "op": "ping"}


def signature_ok(api_key: object, expires: object, signature: object, server_ms: int) -> str | None:
    """Why an ``op: auth`` is refused, or None. Only the shape is checked: the secret is a dummy,
    but an expired ``expires`` (a clock behind the venue's) is refused as Bybit refuses it."""
    if not isinstance(api_key, str) or not api_key:
        return "Request not authorized"
    try:
        expires_ms = int(str(expires))
    except ValueError:
        return "Params Error"
    if expires_ms <= server_ms:
        return "Params Error"
    if not isinstance(signature, str) or len(signature) != len(_hex_hmac("", "")):
        return "Error sign, please check your signature generation algorithm."
    return None


def _hex_hmac(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------------- public data


def ticker_message(book: Book, instrument: Instrument, server_ms: int) -> dict[str, Any]:
    """A ``tickers`` snapshot: ccxt reads it whole, so every update is sent as one."""
    return {
        "topic": f"tickers.{instrument.id}",
        "type": "snapshot",
        "data": market.ticker(book, instrument, server_ms),
        "cs": server_ms // 7,
        "ts": server_ms,
    }


def kline_message(book: Book, instrument: Instrument, interval: str, server_ms: int) -> dict[str, Any]:
    """The running candle at the mark (flat, like the REST klines), not yet confirmed."""
    interval_ms = market.INTERVAL_MS[interval]
    start = server_ms // interval_ms * interval_ms
    _, open_, high, low, close, volume, turnover = market.kline(book, instrument, interval_ms, 1, server_ms)[
        0
    ]
    return {
        "topic": f"kline.{interval}.{instrument.id}",
        "data": [
            {
                "start": start,
                "end": start + interval_ms - 1,
                "interval": interval,
                "open": open_,
                "close": close,
                "high": high,
                "low": low,
                "volume": volume,
                "turnover": turnover,
                "confirm": False,
                "timestamp": server_ms,
            }
        ],
        "ts": server_ms,
        "type": "snapshot",
    }


def orderbook_message(book: Book, instrument: Instrument, depth: int, server_ms: int) -> dict[str, Any]:
    """A full ``orderbook`` snapshot around the mark: ccxt resets its book on each one."""
    levels = market.orderbook(book, instrument, depth, server_ms)
    return {
        "topic": f"orderbook.{depth}.{instrument.id}",
        "type": "snapshot",
        "ts": server_ms,
        "data": {
            "s": instrument.id,
            "b": levels["b"],
            "a": levels["a"],
            "u": levels["u"],
            "seq": levels["seq"],
        },
        "cts": server_ms,
    }


# -------------------------------------------------------------------------------- private data


def _private(topic: str, rows: list[dict[str, Any]], server_ms: int, sequence: int) -> dict[str, Any]:
    return {"id": f"{sequence:x}-chaos-{topic}", "topic": topic, "creationTime": server_ms, "data": rows}


def order_message(
    venue: BybitVenue, orders: Iterable[Order], server_ms: int, sequence: int
) -> dict[str, Any]:
    """The ``order`` topic: each order as ``/v5/order/realtime`` shows it, with its category."""
    book = venue.book
    rows = [
        {"category": "linear", **payloads.order_payload(order, book.instruments[order.symbol], book)}
        for order in orders
    ]
    return _private("order", rows, server_ms, sequence)


def execution_message(
    venue: BybitVenue, fills: Iterable[tuple[int, Fill]], server_ms: int, sequence: int
) -> dict[str, Any]:
    """The ``execution`` topic: each fill as ``/v5/execution/list`` shows it (``seq`` numbered
    the same way), with its category."""
    book = venue.book
    rows = []
    for seq, fill in fills:
        order = book.orders.get(("regular", fill.order_id))
        row = payloads.execution(fill, order, book.instruments[fill.symbol], book, seq)
        rows.append({"category": "linear", **row, "isLeverage": "0"})
    return _private("execution", rows, server_ms, sequence)


def position_message(
    venue: BybitVenue, instruments: Iterable[Instrument], server_ms: int, sequence: int
) -> dict[str, Any]:
    """The ``position`` topic: each position as ``/v5/position/list`` shows it (a closed one
    with size 0 and no side), with the stream's ``entryPrice`` next to REST's ``avgPrice``."""
    rows = []
    for instrument in instruments:
        row = venue._position_row(instrument)
        rows.append({"category": "linear", **row, "entryPrice": row["avgPrice"]})
    return _private("position", rows, server_ms, sequence)


def wallet_message(book: Book, server_ms: int, sequence: int) -> dict[str, Any]:
    """The ``wallet`` topic: the unified account as ``/v5/account/wallet-balance`` shows it."""
    return _private("wallet", payloads.wallet_balance(book)["list"], server_ms, sequence)


# ---------------------------------------------------------------------------- what changed


@dataclass
class _Seen:
    order: Order
    signature: tuple[object, ...]


def _signature(order: Order) -> tuple[object, ...]:
    return (
        order.status,
        order.executed_qty,
        order.quantity,
        order.price,
        order.trigger_price,
        order.triggered,
    )


def _position_signature(book: Book, instrument_id: str) -> tuple[Decimal, Decimal] | None:
    position = book.positions.get(instrument_id)
    return None if position is None else (position.quantity, position.entry_price)


class BybitChanges:
    """What changed in a Bybit book since the last look: the orders to publish on ``order``,
    the fills on ``execution``, the symbols on ``position``, and whether the ``wallet`` moved.

    Orders are compared by status, fill, size and prices rather than by update time: on the
    chaos clock an order can be placed and filled in the same millisecond.
    """

    def __init__(self, book: Book) -> None:
        self._book = book
        self._order_count = len(book.orders)
        self._open: dict[tuple[str, str], _Seen] = {
            key: _Seen(order, _signature(order)) for key, order in book.orders.items() if order.is_open
        }
        self._fill_count = len(book.fills)
        self._positions = {symbol: _position_signature(book, symbol) for symbol in book.positions}

    def take(self) -> tuple[list[Order], list[tuple[int, Fill]], list[str], bool]:
        """(changed orders, new fills with their execution ``seq``, instrument ids whose position
        changed, whether anything touched the wallet), and remember this state."""
        book = self._book
        changed: list[Order] = []
        fresh: set[tuple[str, str]] = set()
        # New orders: the book's dict keeps insertion order, so they are its last entries.
        new_count = len(book.orders) - self._order_count
        for key, order in _last(book.orders, new_count) if new_count > 0 else ():
            changed.append(order)
            fresh.add(key)
            if order.is_open:
                self._open[key] = _Seen(order, _signature(order))
        self._order_count = len(book.orders)
        for key, seen in list(self._open.items()):
            order = seen.order
            if key not in fresh and (signature := _signature(order)) != seen.signature:
                changed.append(order)
                seen.signature = signature
            if not order.is_open:
                del self._open[key]
        fills = [(seq, fill) for seq, fill in enumerate(book.fills[self._fill_count :], self._fill_count + 1)]
        self._fill_count = len(book.fills)
        moved = []
        for symbol in {*self._positions, *book.positions}:
            now = _position_signature(book, symbol)
            if self._positions.get(symbol) != now:
                moved.append(symbol)
            if now is None:
                self._positions.pop(symbol, None)
            else:
                self._positions[symbol] = now
        moved.sort()
        return changed, fills, moved, bool(changed or fills or moved)


def _last(orders: dict[tuple[str, str], Order], count: int) -> list[tuple[tuple[str, str], Order]]:
    # From the end: a long session's book holds many orders, a request adds a few.
    return list(itertools.islice(reversed(orders.items()), count))[::-1]


# ------------------------------------------------------------------------------ the facts

# ccxt's parse_order_status for Bybit's words: what the bot's ccxt makes of each status.
_CCXT_STATUS = {
    "Created": "open",
    "New": "open",
    "PartiallyFilled": "open",
    "Untriggered": "open",
    "Triggered": "open",
    "Active": "open",
    "Filled": "closed",
    "PartiallyFilledCanceled": "closed",
    "Cancelled": "canceled",
    "Deactivated": "canceled",
    "Rejected": "rejected",
}


def order_fact(row: Mapping[str, Any], instrument: Instrument) -> OrderFact:
    """What an ``order`` row tells the bot, read from the row itself (what was sent)."""
    return OrderFact(
        venue="bybit",
        order_id=str(row["orderId"]),
        symbol=instrument.symbol,
        status=_CCXT_STATUS.get(row["orderStatus"], "open"),
        filled=float(row["cumExecQty"]),
        amount=float(row["qty"]),
        client_order_id=row["orderLinkId"] or None,
        trigger=row["orderStatus"] == "Untriggered",
    )


def position_fact(row: Mapping[str, Any], instrument: Instrument) -> PositionFact:
    size = float(row["size"])
    side: Literal["long", "short"] | None = None
    if size:
        side = "long" if row["side"] == "Buy" else "short"
    return PositionFact(venue="bybit", symbol=instrument.symbol, contracts=size, side=side)


# ----------------------------------------------------------------------------- the server


def _one_symbol(book: Book, payload: Mapping[str, Any]) -> str | None:
    """The unified symbol of a private message whose rows all concern one instrument (what a
    schedule's ``symbol=`` matches), else None."""
    ids = {row["symbol"] for row in payload["data"]}
    return book.instruments[ids.pop()].symbol if len(ids) == 1 else None


def _head(topic: str, *, private: bool) -> str:
    """The stream a topic names: ``publicTrade`` of ``publicTrade.BTCUSDT``; on the private
    gateway ``execution.fast`` stays whole (it is a stream of its own)."""
    if private and topic.startswith("execution.fast"):
        return "execution.fast"
    return topic.split(".", 1)[0]


_PUBLIC_KINDS = {"tickers": "tickers", "kline": "kline", "orderbook": "orderbook"}


class BybitStreams(StreamServer):
    """Bybit v5's websocket gateway over the Bybit venue's book.

    Public connections (``/v5/public/linear``) subscribe to ``tickers.<id>``,
    ``kline.<interval>.<id>`` and ``orderbook.<depth>.<id>``; each gets a snapshot at once and
    another whenever the mark moves (or a fill changes the day's volume). The private connection
    (``/v5/private``) authenticates with ``op: auth`` and subscribes to ``order``, ``execution``,
    ``position`` and ``wallet``: nothing is sent on subscribing (Bybit sends no snapshot there),
    then every change of the book after a REST request or a ``set_price`` is published.

    The spot, inverse and option gateways accept the handshake but refuse every subscription,
    as do topics Bybit publishes and the simulation does not (``publicTrade``, ``liquidation``):
    the bot's ccxt raises, and the test fails naming what it asked for.
    """

    hosts = BYBIT_STREAM_HOSTS
    stream_kinds: ClassVar[frozenset[str]] = frozenset({*_PUBLIC_KINDS.values(), *PRIVATE_TOPICS})

    def __init__(self, venue: Venue, hub: StreamHub) -> None:
        super().__init__(venue, hub)
        from pytest_exchange_chaos.venues.bybit import BybitVenue

        if not isinstance(venue, BybitVenue):
            raise TypeError(f"BybitStreams serves a BybitVenue, not {type(venue).__name__}")
        self.bybit: BybitVenue = venue
        self._changes = BybitChanges(venue.book)
        self._sequence = 0
        # Per instrument, what its public topics last showed: the mark and the day's volume.
        self._shown: dict[str, tuple[Decimal, Decimal]] = {}

    # -- plumbing -----------------------------------------------------------------------------

    def _server_ms(self) -> int:
        return int(self.venue.context.wall_time() * 1000)

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence

    @staticmethod
    def _conn_id(connection: Connection) -> str:
        return f"chaos{connection.id:06d}-{connection.path.rsplit('/', 1)[-1]}"

    # -- the handshake and what the bot sends -------------------------------------------------

    def accept(self, connection: Connection) -> None:
        if connection.path != PRIVATE_PATH and connection.path not in PUBLIC_PATHS:
            raise StreamRefused(404, f"Bybit has no websocket stream at {connection.path}")

    def on_text(self, connection: Connection, text: str) -> None:
        conn_id = self._conn_id(connection)
        private = connection.path == PRIVATE_PATH
        try:
            request = json.loads(text)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            connection.reply({"success": False, "ret_msg": "error:request not json", "conn_id": conn_id})
            return
        op = request.get("op")
        req_id = request.get("req_id")
        args = request.get("args")
        if op == "ping":
            connection.reply(pong_reply(req_id, conn_id, self._server_ms(), private=private))
        elif op == "auth" and private:
            self._auth(connection, args if isinstance(args, list) else [], conn_id)
        elif op == "subscribe":
            self._subscribe(
                connection, args if isinstance(args, list) else [], req_id, conn_id, private=private
            )
        elif op == "unsubscribe":
            for topic in args if isinstance(args, list) else []:
                connection.unsubscribe(str(topic))
            reply = {"success": True, "ret_msg": "", "conn_id": conn_id, "op": "unsubscribe"}
            if req_id is not None:
                reply["req_id"] = str(req_id)
            connection.reply(reply)
        else:
            connection.reply(
                {
                    "success": False,
                    "ret_msg": f"error:invalid op {op}",
                    "conn_id": conn_id,
                    "request": request,
                }
            )

    def _auth(self, connection: Connection, args: list[Any], conn_id: str) -> None:
        api_key, expires, signature = ([*args, None, None, None])[:3]
        problem = signature_ok(api_key, expires, signature, self._server_ms())
        if problem is None:
            connection.private = True
            connection.state["authenticated"] = True
        connection.reply(auth_reply(conn_id, error=problem))

    def _subscribe(
        self, connection: Connection, topics: list[Any], req_id: Any, conn_id: str, *, private: bool
    ) -> None:
        gateway = _UNSIMULATED_PATHS.get(connection.path)
        if gateway is not None:
            self._refuse(
                connection,
                req_id,
                conn_id,
                [str(t) for t in topics],
                f"exchange-chaos does not simulate Bybit {gateway} streams ({connection.path}); "
                f"the linear ones are at {LINEAR_PATH}",
                f"Bybit {gateway} streams ({connection.path})",
            )
            return
        unsimulated = [str(t) for t in topics if self._unsimulated(str(t), private=private)]
        if unsimulated:
            names = ", ".join(sorted({_head(t, private=private) for t in unsimulated}))
            published = (
                f"order, execution, position and wallet on {PRIVATE_PATH}"
                if private
                else f"tickers, kline and orderbook on {LINEAR_PATH}"
            )
            self._refuse(
                connection,
                req_id,
                conn_id,
                unsimulated,
                f"exchange-chaos does not simulate Bybit's {names} stream ({', '.join(unsimulated)}); "
                f"it publishes {published}",
                f"Bybit's {names} stream",
            )
            return
        kinds: dict[str, str] = {}
        for raw in topics:
            topic = str(raw)
            kind = self._kind(topic, private=private)
            if kind is None:
                connection.reply(
                    subscribe_reply(req_id, conn_id, private=private, error=f"Invalid topic :[{topic}]")
                )
                return
            kinds[topic] = kind
        if private and not connection.state.get("authenticated"):
            connection.reply(subscribe_reply(req_id, conn_id, private=True, error="Request not authorized"))
            return
        for topic, kind in kinds.items():
            connection.subscribe(topic, kind)
        connection.reply(subscribe_reply(req_id, conn_id, private=private))
        server_ms = self._server_ms()
        if private:
            return
        for topic in kinds:
            connection.send(self._public(topic, server_ms))
            # What every subscriber has now: the next refresh publishes only a change.
            self._shown[topic.rsplit(".", 1)[-1]] = self._public_state(topic.rsplit(".", 1)[-1])

    def _refuse(
        self,
        connection: Connection,
        req_id: Any,
        conn_id: str,
        topics: list[str],
        message: str,
        what: str,
    ) -> None:
        private = connection.path == PRIVATE_PATH
        connection.reply(subscribe_reply(req_id, conn_id, private=private, error=message))
        refuse_not_simulated(connection, f"{what}: subscribe {', '.join(topics) or '(no topic)'}")

    @staticmethod
    def _unsimulated(topic: str, *, private: bool) -> bool:
        if private:
            return topic not in PRIVATE_TOPICS and (
                _head(topic, private=True) in _UNSIMULATED_PRIVATE
                # Bybit's per-category private topics (order.linear, execution.spot...)
                or topic.split(".", 1)[0] in PRIVATE_TOPICS
            )
        return topic.split(".", 1)[0] in _UNSIMULATED_PUBLIC

    def _kind(self, topic: str, *, private: bool) -> str | None:
        if private:
            return topic if topic in PRIVATE_TOPICS else None
        parts = topic.split(".")
        kind = _PUBLIC_KINDS.get(parts[0])
        if kind is None or parts[-1] not in self.bybit.book.instruments:
            return None
        if kind == "tickers" and len(parts) == 2:
            return kind
        if kind == "kline" and len(parts) == 3 and parts[1] in market.INTERVAL_MS:
            return kind
        if (
            kind == "orderbook"
            and len(parts) == 3
            and parts[1].isdigit()
            and int(parts[1]) in ORDERBOOK_DEPTHS
        ):
            return kind
        return None

    # -- publishing ----------------------------------------------------------------------------

    def _public(self, topic: str, server_ms: int) -> StreamMessage:
        book = self.bybit.book
        parts = topic.split(".")
        instrument = book.instruments[parts[-1]]
        if parts[0] == "tickers":
            payload = ticker_message(book, instrument, server_ms)
        elif parts[0] == "kline":
            payload = kline_message(book, instrument, parts[1], server_ms)
        else:
            # Bybit's deepest linear book is 500 levels; ccxt may ask for 1000.
            payload = orderbook_message(book, instrument, min(int(parts[1]), 500), server_ms)
            payload["topic"] = topic
        return StreamMessage(_PUBLIC_KINDS[parts[0]], payload, symbol=instrument.symbol)

    def refresh(self) -> None:
        connections = self.connections  # the hub calls only while one is open
        server_ms = self._server_ms()
        self._refresh_private(server_ms)
        topics = {
            topic
            for connection in connections
            if connection.path != PRIVATE_PATH
            for topic in connection.topics
        }
        if topics:
            self._refresh_public(topics, server_ms)

    def _refresh_private(self, server_ms: int) -> None:
        orders, fills, moved, touched = self._changes.take()
        if not touched:
            return
        venue = self.bybit
        book = venue.book
        if orders:
            payload = order_message(venue, orders, server_ms, self._next())
            facts = tuple(order_fact(row, book.instruments[row["symbol"]]) for row in payload["data"])
            symbol = _one_symbol(book, payload)
            self.publish("order", StreamMessage("order", payload, symbol=symbol, private=True, facts=facts))
        if fills:
            payload = execution_message(venue, fills, server_ms, self._next())
            symbol = _one_symbol(book, payload)
            self.publish("execution", StreamMessage("execution", payload, symbol=symbol, private=True))
        if moved:
            instruments = [book.instruments[symbol] for symbol in moved]
            payload = position_message(venue, instruments, server_ms, self._next())
            held = tuple(position_fact(row, book.instruments[row["symbol"]]) for row in payload["data"])
            symbol = _one_symbol(book, payload)
            self.publish(
                "position", StreamMessage("position", payload, symbol=symbol, private=True, facts=held)
            )
        self.publish(
            "wallet", StreamMessage("wallet", wallet_message(book, server_ms, self._next()), private=True)
        )

    def _public_state(self, instrument_id: str) -> tuple[Decimal, Decimal]:
        book = self.bybit.book
        return book.marks[instrument_id], book.stats[instrument_id].volume

    def _refresh_public(self, topics: set[str], server_ms: int) -> None:
        by_instrument: dict[str, list[str]] = {}
        for topic in topics:
            by_instrument.setdefault(topic.rsplit(".", 1)[-1], []).append(topic)
        for instrument_id, wanted in by_instrument.items():
            shown = self._public_state(instrument_id)
            if self._shown.get(instrument_id) == shown:
                continue
            self._shown[instrument_id] = shown
            for topic in sorted(wanted):
                self.publish(topic, self._public(topic, server_ms))
