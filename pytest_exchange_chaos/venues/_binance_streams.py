"""Binance USD-M futures websocket streams, published from the book the REST side answers from.

Market streams (``<symbol>@ticker``, ``@markPrice[@1s]``, ``@kline_<interval>``, the depth
diffs ``@depth[@100ms|@500ms]`` and partial books ``@depth<5|10|20>[@100ms|@500ms]``, and the
``!ticker@arr``/``!markPrice@arr`` lists) on ``fstream.binance.com`` (``/market/ws/<n>`` or
``/public/ws/<n>`` for ccxt 4.5, ``/ws/<n>`` before), subscribed with
``{"method": "SUBSCRIBE"}``; the user data
stream (``/private/ws?listenKey=...``, or ``/ws/<listenKey>`` before ccxt 4.5) with
``ORDER_TRADE_UPDATE``, ``ALGO_UPDATE``, ``ACCOUNT_UPDATE`` and ``listenKeyExpired``.

What changed in the book is found by comparing it with what was last published, after each
REST request and price move while a connection is open (REST-only tests pay nothing): the
orders open last time and those placed since, the fills since, and the positions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from pytest_exchange_chaos.streams import (
    Connection,
    OrderFact,
    PositionFact,
    StreamMessage,
    StreamRefused,
    StreamServer,
)
from pytest_exchange_chaos.venues import _binance_market as market
from pytest_exchange_chaos.venues._binance_payloads import _STATUSES as _STATUS
from pytest_exchange_chaos.venues._binance_payloads import BINANCE_TYPES, algo_payload, fmt, plain
from pytest_exchange_chaos.venues._records import Fill, Order
from pytest_exchange_chaos.venues._stream_refusal import refuse_not_simulated

if TYPE_CHECKING:
    from pytest_exchange_chaos.streams import StreamHub
    from pytest_exchange_chaos.venues._book import Book
    from pytest_exchange_chaos.venues._instruments import Instrument
    from pytest_exchange_chaos.venues.base import Venue

__all__ = ["BINANCE_STREAM_HOSTS", "BinanceUsdmStreams"]

BINANCE_STREAM_HOSTS = frozenset({"fstream.binance.com", "fstream.binancefuture.com"})

ZERO = Decimal(0)
_USER = "user"
# An ORDER_TRADE_UPDATE's status (X) in ccxt's words (for the facts).
_CCXT_STATUS = {
    "NEW": "open",
    "PARTIALLY_FILLED": "open",
    "FILLED": "closed",
    "CANCELED": "canceled",
    "EXPIRED": "expired",
    "REJECTED": "rejected",
    "TRIGGERED": "closed",
    "FINISHED": "closed",
}
_MARKET_KINDS = {
    "ticker": "ticker",
    "miniTicker": "ticker",
    "markPrice": "markPrice",
    "kline": "kline",
    "depth": "depth",
}
# Binance's one-letter names for ticker_24hr()'s fields, in Binance's order.
_TICKER_FIELDS = {
    "p": "priceChange",
    "P": "priceChangePercent",
    "w": "weightedAvgPrice",
    "c": "lastPrice",
    "Q": "lastQty",
    "o": "openPrice",
    "h": "highPrice",
    "l": "lowPrice",
    "v": "volume",
    "q": "quoteVolume",
    "O": "openTime",
    "C": "closeTime",
    "F": "firstId",
    "L": "lastId",
    "n": "count",
}
_TICKER_EVENTS = {
    "ticker": ("24hrTicker", _TICKER_FIELDS),
    "miniTicker": ("24hrMiniTicker", {k: _TICKER_FIELDS[k] for k in "cohlvq"}),
}
# An ALGO_UPDATE's short names for algo_payload()'s fields.
_ALGO_FIELDS = {
    "caid": "clientAlgoId",
    "aid": "algoId",
    "at": "algoType",
    "o": "orderType",
    "s": "symbol",
    "S": "side",
    "ps": "positionSide",
    "f": "timeInForce",
    "q": "quantity",
    "ai": "actualOrderId",
    "ap": "actualPrice",
    "tp": "triggerPrice",
    "p": "price",
    "V": "selfTradePreventionMode",
    "wt": "workingType",
    "pm": "priceMatch",
    "cp": "closePosition",
    "R": "reduceOnly",
    "tt": "triggerTime",
}
# "" is the diff stream (@depth), the others the partial books (@depth5 ...).
_DEPTH_LEVELS = frozenset({"", "5", "10", "20"})
_DEPTH_SPEEDS = frozenset({"", "100ms", "500ms"})
# A diff keeps the levels REST's deepest snapshot shows in step: a bot that synced from any
# snapshot (ccxt asks for 1000) holds REST's book after every update.
_FULL_DEPTH = 1000


def _topic_kind(topic: str) -> tuple[str | None, str, str, str]:
    """``btcusdt@kline_1m`` -> (``BTCUSDT``, ``kline``, ``1m``, ``""``); ``btcusdt@depth5@100ms``
    -> (``BTCUSDT``, ``depth``, ``5``, ``100ms``); ``!markPrice@arr@1s`` -> (None, ``markPrice``,
    ``""``, ``1s``)."""
    head, _, rest = topic.partition("@")
    if head.startswith("!"):
        every, _, speed = rest.partition("@")
        return None, head[1:] if every == "arr" else "", "", speed
    channel, _, speed = rest.partition("@")
    detail = ""
    if channel.startswith("kline_"):
        channel, detail = "kline", channel[len("kline_") :]
    elif channel.startswith("depth"):
        channel, detail = "depth", channel[len("depth") :]
    return head.upper(), channel, detail, speed


def _not_simulated(topics: list[str]) -> str:
    return (
        f"stream(s) {', '.join(topics)} not simulated by pytest-exchange-chaos "
        "(ticker, miniTicker, markPrice, kline, depth are)"
    )


@dataclass
class _Depth:
    """What the depth streams last said of one instrument's book: its levels (price text ->
    quantity text, best first) and the update ids of that change (``U``, ``u``, ``pu``)."""

    bids: dict[str, str]
    asks: dict[str, str]
    first_id: int
    last_id: int
    previous_id: int


class BinanceUsdmStreams(StreamServer):
    """The websocket side of :class:`~pytest_exchange_chaos.venues.binance.BinanceUsdmVenue`."""

    hosts: ClassVar[frozenset[str]] = BINANCE_STREAM_HOSTS
    stream_kinds: ClassVar[frozenset[str]] = frozenset({*_MARKET_KINDS.values(), _USER})
    # "A single connection to stream.binance.com is only valid for 24 hours; expect to be
    # disconnected at the 24 hour mark."
    max_connection_age: ClassVar[float | None] = 24 * 3600.0
    forced_close_code: ClassVar[int] = 1000

    def __init__(self, venue: Venue, hub: StreamHub) -> None:
        super().__init__(venue, hub)
        self.book: Book = venue.book  # type: ignore[attr-defined]
        self.expired_keys: set[str] = set()
        # What was last published: orders by (channel, id) -> (status, executed, triggered),
        # the orders open then, how many orders and fills the book had, positions, marks.
        self._seen: dict[tuple[str, str], tuple[str, Decimal, bool]] = {}
        self._open_keys: set[tuple[str, str]] = set()
        self._order_count = len(self.book.orders)
        self._fill_count = len(self.book.fills)
        self._positions: dict[str, Decimal] = {i: self.book.position_qty(i) for i in self.book.instruments}
        self._marks: dict[str, Decimal] = dict(self.book.marks)
        self._depths: dict[str, _Depth] = {}
        for key, order in self.book.orders.items():
            self._remember(key, order)

    # -- handshake and requests ----------------------------------------------------------------

    def accept(self, connection: Connection) -> None:
        key = self._listen_key_in(connection)
        if key is None:
            named = self._streams_in(connection)
            unknown = [topic for topic in named if not self._known(topic)]
            if unknown:
                refuse_not_simulated(
                    connection, f"Binance USD-M stream(s) {', '.join(unknown)} named in the URL"
                )
                raise StreamRefused(400, _not_simulated(unknown))
            for topic in named:
                self._subscribe(connection, topic)
            return
        if key != getattr(self.venue, "_current_listen_key", None) or key in self.expired_keys:
            raise StreamRefused(
                400, f"Invalid listenKey {key[:6]}...: create one with POST /fapi/v1/listenKey"
            )
        if not any(c.private for c in self.connections):
            # Binance never replays what happened while no user stream was open.
            self._catch_up()
        connection.private = True
        connection.state["listen_key"] = key
        connection.subscribe(_USER, _USER)

    @staticmethod
    def _listen_key_in(connection: Connection) -> str | None:
        if "listenKey" in connection.query:
            return connection.query["listenKey"]
        last = connection.path.rstrip("/").rsplit("/", 1)[-1]
        # /ws/<listenKey> (ccxt before 4.5); /ws/<n> is a market stream's slot number, and
        # /ws/<symbol>@<stream> a raw stream.
        if connection.path.startswith("/ws/") and len(last) > 20 and not last.isdigit() and "@" not in last:
            return last
        return None

    @staticmethod
    def _streams_in(connection: Connection) -> list[str]:
        """The streams a URL names: ``/stream?streams=a/b`` (each message then wrapped as
        ``{"stream", "data"}``) or a raw ``/ws/<stream>``."""
        path = connection.path.rstrip("/")
        streams = connection.query.get("streams")
        if path.endswith("/stream") and streams:
            connection.state["combined"] = True
            return streams.split("/")
        last = path.rsplit("/", 1)[-1]
        return [last] if "@" in last else []

    def on_text(self, connection: Connection, text: str) -> None:
        try:
            request = json.loads(text)
        except ValueError:
            connection.reply({"error": {"code": 3, "msg": "Invalid JSON"}})
            return
        if not isinstance(request, dict):
            connection.reply({"error": {"code": 3, "msg": "Invalid JSON"}})
            return
        method = request.get("method")
        params = request.get("params") or []
        ident = request.get("id")
        if method == "SUBSCRIBE" and isinstance(params, list):
            unknown = [str(t) for t in params if not self._known(str(t))]
            if unknown:
                # Binance would accept them and send nothing; a bot waiting on a stream the
                # simulation does not publish would wait forever, so say so instead.
                connection.reply(
                    {"error": {"code": 2, "msg": f"Invalid request: {_not_simulated(unknown)}"}, "id": ident}
                )
                # ...and the test fails by name, whatever the bot does with the error.
                refuse_not_simulated(connection, f"Binance USD-M: SUBSCRIBE {', '.join(unknown)}")
                return
            connection.reply({"result": None, "id": ident})
            for topic in params:
                self._subscribe(connection, str(topic))
        elif method == "UNSUBSCRIBE" and isinstance(params, list):
            for topic in params:
                connection.unsubscribe(str(topic))
            connection.reply({"result": None, "id": ident})
        elif method == "LIST_SUBSCRIPTIONS":
            connection.reply({"result": sorted(t for t in connection.topics if t != _USER), "id": ident})
        else:
            connection.reply(
                {"error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"}, "id": ident}
            )

    def _known(self, topic: str) -> bool:
        symbol, channel, detail, speed = _topic_kind(topic)
        if channel not in _MARKET_KINDS or (symbol is not None and symbol not in self.book.instruments):
            return False
        if channel == "kline":
            return detail in market._INTERVAL_MS
        if channel == "depth":
            return symbol is not None and detail in _DEPTH_LEVELS and speed in _DEPTH_SPEEDS
        return True

    def _subscribe(self, connection: Connection, topic: str) -> None:
        """Subscribe to a topic :meth:`_known` accepted."""
        symbol, channel, detail, _ = _topic_kind(topic)
        connection.subscribe(topic, _MARKET_KINDS[channel])
        if channel == "depth":
            assert symbol is not None
            # A diff stream starts with nothing (the bot's snapshot is REST's); a partial book
            # is sent whole at once. The first subscriber brings the ids up to the book.
            changed = self._publish_depth(symbol, self._ms())
            if detail and not changed:
                depth = self._depths[symbol]
                message = self._depth_message(self.book.instruments[symbol], depth, int(detail), self._ms())
                connection.send(self._wrapped(connection, topic, message))
            return
        # Binance sends a stream's current state within a second of subscribing.
        connection.send(self._wrapped(connection, topic, self._market_message(topic)))

    def expire_listen_key(self, connection: Connection) -> StreamMessage | None:
        key = connection.state.get("listen_key")
        if not isinstance(key, str):
            return None
        self.expired_keys.add(key)
        if getattr(self.venue, "_current_listen_key", None) == key:
            # The next POST /fapi/v1/listenKey hands out a new key, as Binance does.
            self.venue._current_listen_key = None  # type: ignore[attr-defined]
        ms = self._ms()
        return StreamMessage(_USER, {"e": "listenKeyExpired", "E": ms, "listenKey": key}, private=True)

    # -- publishing ------------------------------------------------------------------------------

    def refresh(self) -> None:
        if any(c.private and c.open for c in self.connections):
            self._publish_user_data()
        else:
            self._catch_up()
        self._publish_market_data()

    def _catch_up(self) -> None:
        # No user stream open: what happens meanwhile is not sent, and not sent later either.
        self._seen.clear()
        self._open_keys.clear()
        for key, order in self.book.orders.items():
            self._remember(key, order)
        self._order_count = len(self.book.orders)
        self._fill_count = len(self.book.fills)
        self._positions = {i: self.book.position_qty(i) for i in self.book.instruments}

    def _remember(self, key: tuple[str, str], order: Order) -> None:
        self._seen[key] = (order.status, order.executed_qty, order.triggered)
        if order.is_open:
            self._open_keys.add(key)
        else:
            self._open_keys.discard(key)

    def _publish_user_data(self) -> None:
        book = self.book
        orders = book.orders
        changed: list[tuple[str, str]] = list(self._open_keys)
        if len(orders) != self._order_count:
            changed += [k for k in list(orders)[self._order_count :] if k not in self._seen]
            self._order_count = len(orders)
        fills = book.fills[self._fill_count :]
        self._fill_count = len(book.fills)
        filled_ids = {f.order_id for f in fills}
        ms = self._ms()
        for key in changed:
            order = orders.get(key)
            if order is None:
                continue
            before = self._seen.get(key)
            if before is None:
                self._publish_order(order, "NEW", ms, fresh=True)
            elif (
                (order.status, order.executed_qty, order.triggered) != before
                and order.id not in filled_ids
                and (order.channel == "algo" or order.status in ("canceled", "expired", "rejected"))
            ):
                self._publish_order(order, _STATUS[order.status], ms)
            self._remember(key, order)
        executed: dict[str, Decimal] = {}
        for fill in fills:
            order = orders.get(("regular", fill.order_id))
            if order is None:
                continue
            done = executed.get(
                order.id, order.executed_qty - sum(f.quantity for f in fills if f.order_id == order.id)
            )
            done += fill.quantity
            executed[order.id] = done
            self._publish_fill(order, fill, done, ms)
            self._remember(("regular", order.id), order)
        positions = {i: book.position_qty(i) for i in book.instruments}
        moved = [i for i, q in positions.items() if q != self._positions.get(i, ZERO)]
        self._positions = positions
        if moved or fills:
            self._publish_account(moved, ms)

    def _publish_order(self, order: Order, status: str, ms: int, *, fresh: bool = False) -> None:
        instrument = self.book.instruments[order.symbol]
        if order.channel == "algo":
            payload = self._algo_update(order, instrument, fresh=fresh, ms=ms)
            x_status = payload["o"]["X"]
        else:
            execution = "NEW" if fresh else status
            payload = self._order_update(order, instrument, execution, "NEW" if fresh else status, ms)
            x_status = payload["o"]["X"]
        fact = OrderFact(
            venue=self.venue.id,
            order_id=order.id,
            symbol=instrument.symbol,
            status=_CCXT_STATUS.get(x_status, "open"),
            filled=0.0 if fresh else float(order.executed_qty),
            amount=float(order.quantity),
            client_order_id=order.client_order_id,
            trigger=order.conditional and not order.triggered and x_status == "NEW",
        )
        self.publish(
            _USER, StreamMessage(_USER, payload, symbol=instrument.symbol, private=True, facts=(fact,))
        )

    def _publish_fill(self, order: Order, fill: Fill, executed: Decimal, ms: int) -> None:
        instrument = self.book.instruments[order.symbol]
        status = "FILLED" if executed >= order.quantity and order.quantity > 0 else "PARTIALLY_FILLED"
        if order.quantity == 0:  # a close-position order: done once it traded
            status = "FILLED"
        payload = self._order_update(order, instrument, "TRADE", status, ms, fill=fill, executed=executed)
        fact = OrderFact(
            venue=self.venue.id,
            order_id=order.id,
            symbol=instrument.symbol,
            status=_CCXT_STATUS[status],
            filled=float(executed),
            amount=float(order.quantity),
            client_order_id=order.client_order_id,
        )
        self.publish(
            _USER, StreamMessage(_USER, payload, symbol=instrument.symbol, private=True, facts=(fact,))
        )

    def _publish_account(self, moved: list[str], ms: int) -> None:
        book = self.book
        account = book.account()
        rows = []
        facts = []
        for instrument_id in moved:
            instrument = book.instruments[instrument_id]
            snapshot = book.position_snapshot(instrument_id)
            quantity = snapshot.quantity if snapshot is not None else ZERO
            rows.append(
                {
                    "s": instrument_id,
                    "pa": plain(quantity) if quantity else "0",
                    "ep": fmt(snapshot.entry_price, 8) if snapshot is not None else "0.0",
                    "bep": fmt(snapshot.break_even_price, 8) if snapshot is not None else "0",
                    "cr": "0",
                    "up": fmt(snapshot.unrealized_pnl, 8) if snapshot is not None else "0",
                    "mt": book.margin_mode(instrument_id),
                    "iw": "0",
                    "ps": "BOTH",
                }
            )
            facts.append(
                PositionFact(
                    venue=self.venue.id,
                    symbol=instrument.symbol,
                    contracts=float(abs(quantity)),
                    side=None if not quantity else ("long" if quantity > 0 else "short"),
                )
            )
        payload = {
            "e": "ACCOUNT_UPDATE",
            "E": ms,
            "T": ms,
            "a": {
                "m": "ORDER",
                "B": [
                    {
                        "a": account.asset,
                        "wb": fmt(account.wallet_balance, 8),
                        "cw": fmt(account.wallet_balance, 8),
                        "bc": "0",
                    }
                ],
                "P": rows,
            },
        }
        self.publish(_USER, StreamMessage(_USER, payload, private=True, facts=tuple(facts)))

    def _order_update(
        self,
        order: Order,
        instrument: Instrument,
        execution: str,
        status: str,
        ms: int,
        *,
        fill: Fill | None = None,
        executed: Decimal | None = None,
    ) -> dict[str, Any]:
        price_places = instrument.price_precision
        quantity_places = instrument.quantity_precision
        binance_type = BINANCE_TYPES[order.kind]
        done = order.executed_qty if executed is None else executed
        average = order.avg_price
        return {
            "e": "ORDER_TRADE_UPDATE",
            "E": ms,
            "T": ms,
            "o": {
                "s": instrument.id,
                "c": order.client_order_id,
                "S": order.side.upper(),
                "o": binance_type,
                "f": order.time_in_force,
                "q": fmt(order.quantity, quantity_places),
                "p": fmt(order.price or ZERO, price_places),
                "ap": fmt(average if done else ZERO, max(price_places, 5)),
                "sp": fmt(order.trigger_price or ZERO, price_places),
                "x": execution,
                "X": status,
                "i": int(order.id),
                "l": fmt(fill.quantity, quantity_places) if fill is not None else "0",
                "z": fmt(done if execution != "NEW" else ZERO, quantity_places),
                "L": fmt(fill.price, price_places) if fill is not None else "0",
                "N": fill.commission_asset if fill is not None else "USDT",
                "n": plain(fill.commission) if fill is not None else "0",
                "T": fill.time_ms if fill is not None else ms,
                "t": int(fill.id) if fill is not None and fill.id.isdigit() else 0,
                "b": "0",
                "a": "0",
                "m": fill.maker if fill is not None else False,
                "R": order.reduce_only,
                "wt": order.extra.get("workingType", "CONTRACT_PRICE"),
                "ot": binance_type,
                "ps": order.extra.get("positionSide", "BOTH"),
                "cp": order.close_position,
                "rp": plain(fill.realized_pnl) if fill is not None else "0",
                "pP": False,
                "si": 0,
                "ss": 0,
                "V": order.extra.get("selfTradePreventionMode", "EXPIRE_MAKER"),
                "pm": order.extra.get("priceMatch", "NONE"),
                "gtd": 0,
            },
        }

    def _algo_update(self, order: Order, instrument: Instrument, *, fresh: bool, ms: int) -> dict[str, Any]:
        # The order as /fapi/v1/algoOrder answers it, in the stream's short names.
        rest = algo_payload(order, instrument, self.book)
        child = self.book.orders.get(("regular", order.child_order_id)) if order.child_order_id else None
        update = {short: rest[name] for short, name in _ALGO_FIELDS.items()}
        update.update(
            X="NEW" if fresh else rest["algoStatus"],
            aq=fmt(child.executed_qty, instrument.quantity_precision) if child is not None else "0",
            act="0",
            pP=rest["priceProtect"],
            gtd=0,
            rm="",
        )
        return {"e": "ALGO_UPDATE", "T": ms, "E": ms, "o": update}

    def _publish_market_data(self) -> None:
        marks = self.book.marks
        moved = {i for i, mark in marks.items() if self._marks.get(i) != mark}
        if not moved:
            return
        self._marks = dict(marks)
        topics = {t for c in self.connections for t in c.topics if t != _USER}
        ms = self._ms()
        for topic in sorted(topics):
            symbol, channel, _, _ = _topic_kind(topic)
            if symbol is not None and symbol not in moved:
                continue
            if channel == "depth":
                assert symbol is not None
                self._publish_depth(symbol, ms)
                continue
            self._send_topic(topic, self._market_message(topic))

    def _send_topic(self, topic: str, message: StreamMessage) -> None:
        for connection in self.connections:
            if topic in connection.topics:
                connection.send(self._wrapped(connection, topic, message))

    def _publish_depth(self, instrument_id: str, ms: int) -> bool:
        """Bring the depth streams of one instrument up to its book: each of its diff and
        partial-book topics gets the change, if the book changed since they last heard.

        Update ids are REST's ``lastUpdateId`` for the moment (``/fapi/v1/depth`` then), so a
        bot's sync holds: a snapshot taken between two updates has ``U <= lastUpdateId <= u``
        on the next one, and each update's ``pu`` is the previous one's ``u``. Two changes in
        the same millisecond share that id (``pu == u``): ccxt applies both, in order."""
        instrument = self.book.instruments[instrument_id]
        snapshot = market.depth(self.book, instrument, _FULL_DEPTH, ms)
        bids = dict(snapshot["bids"])
        asks = dict(snapshot["asks"])
        update_id = int(snapshot["lastUpdateId"])
        depth = self._depths.get(instrument_id)
        if depth is None:
            self._depths[instrument_id] = _Depth(bids, asks, update_id, update_id, update_id)
            return False
        if bids == depth.bids and asks == depth.asks:
            return False
        # Levels that left the book are sent with a zero quantity: how a diff removes them.
        gone = fmt(ZERO, instrument.quantity_precision)
        changes = {
            "b": [[p, q] for p, q in bids.items()] + [[p, gone] for p in depth.bids if p not in bids],
            "a": [[p, q] for p, q in asks.items()] + [[p, gone] for p in depth.asks if p not in asks],
        }
        update_id = max(update_id, depth.last_id)
        depth.first_id, depth.previous_id = min(depth.last_id + 1, update_id), depth.last_id
        depth.last_id, depth.bids, depth.asks = update_id, bids, asks
        topics = {t for c in self.connections for t in c.topics if t.startswith(instrument_id.lower() + "@")}
        for topic in sorted(topics):
            _, channel, detail, _ = _topic_kind(topic)
            if channel == "depth":
                levels = int(detail) if detail else None
                self._send_topic(topic, self._depth_message(instrument, depth, levels, ms, changes))
        return True

    @staticmethod
    def _depth_message(
        instrument: Instrument,
        depth: _Depth,
        levels: int | None,
        ms: int,
        changes: dict[str, list[list[str]]] | None = None,
    ) -> StreamMessage:
        """A ``depthUpdate``: the diff ``changes`` (``levels`` None), or the top ``levels`` of
        the book (a partial-book stream, which carries the same ids)."""
        if levels is None:
            assert changes is not None
            bids, asks = changes["b"], changes["a"]
        else:
            bids = [[p, q] for p, q in list(depth.bids.items())[:levels]]
            asks = [[p, q] for p, q in list(depth.asks.items())[:levels]]
        payload = {
            "e": "depthUpdate",
            "E": ms,
            "T": ms,
            "s": instrument.id,
            "U": depth.first_id,
            "u": depth.last_id,
            "pu": depth.previous_id,
            "b": bids,
            "a": asks,
        }
        return StreamMessage("depth", payload, symbol=instrument.symbol)

    @staticmethod
    def _wrapped(connection: Connection, topic: str, message: StreamMessage) -> StreamMessage:
        if not connection.state.get("combined"):
            return message
        return StreamMessage(
            message.stream,
            {"stream": topic, "data": message.payload},
            symbol=message.symbol,
            facts=message.facts,
        )

    def _market_message(self, topic: str) -> StreamMessage:
        symbol, channel, interval, _ = _topic_kind(topic)
        ms = self._ms()
        instruments = (
            [self.book.instruments[symbol]] if symbol is not None else list(self.book.instruments.values())
        )
        rows = [self._market_row(instrument, channel, interval, ms) for instrument in instruments]
        if symbol is None:
            return StreamMessage(_MARKET_KINDS[channel], rows)
        return StreamMessage(_MARKET_KINDS[channel], rows[0], symbol=instruments[0].symbol)

    def _market_row(self, instrument: Instrument, channel: str, interval: str, ms: int) -> dict[str, Any]:
        book = self.book
        if channel in _TICKER_EVENTS:
            event, fields = _TICKER_EVENTS[channel]
            t = market.ticker_24hr(book, instrument, ms)
            return {"e": event, "E": ms, "s": instrument.id, **{k: t[name] for k, name in fields.items()}}
        if channel == "markPrice":
            p = market.premium_index(book, instrument, ms)
            return {
                "e": "markPriceUpdate",
                "E": ms,
                "s": instrument.id,
                "p": p["markPrice"],
                "ap": p["markPrice"],
                "P": p["estimatedSettlePrice"],
                "i": p["indexPrice"],
                "r": p["lastFundingRate"],
                "T": p["nextFundingTime"],
            }
        candles = market.klines(book, instrument, interval, 1, ms)
        assert candles, "a kline topic's interval is checked on subscribing"
        c = candles[-1]
        return {
            "e": "kline",
            "E": ms,
            "s": instrument.id,
            "k": {
                "t": c[0],
                "T": c[6],
                "s": instrument.id,
                "i": interval,
                "f": 0,
                "L": 0,
                "o": c[1],
                "c": c[4],
                "h": c[2],
                "l": c[3],
                "v": c[5],
                "n": c[8],
                "x": False,
                "q": c[7],
                "V": c[9],
                "Q": c[10],
                "B": "0",
            },
        }

    def _ms(self) -> int:
        return int(self.venue.context.wall_time() * 1000)
