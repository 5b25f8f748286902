"""The stream hub: one per chaos session, it owns every simulated websocket connection.

The transport asks it to open a connection (``ws_connect`` to a host a venue's stream server
serves); the venue's :class:`StreamServer` accepts it, answers what the bot sends and publishes
messages; the hub delivers them on the chaos clock, through the stream faults the test
scheduled, and records everything (:class:`~pytest_exchange_chaos.streams.StreamRecord`) for
the verdicts and the report.

Pure like the engine: no pytest, no aiohttp (the transport hands in aiohttp's message classes).
"""

from __future__ import annotations

import asyncio
import importlib
import math
import random
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from pytest_exchange_chaos.faults.stream import StreamFault
from pytest_exchange_chaos.schedule import Burst, ScheduleTally, Wave
from pytest_exchange_chaos.streams._model import (
    Fact,
    OrderFact,
    PositionFact,
    StreamCall,
    StreamEventKind,
    StreamMessage,
    StreamRecord,
    StreamRefused,
)
from pytest_exchange_chaos.streams._socket import ChaosWebSocket
from pytest_exchange_chaos.venues.base import Venue

if TYPE_CHECKING:
    from pytest_exchange_chaos.engine import ChaosEngine

__all__ = ["Connection", "StreamHub", "StreamServer", "stream_server_class"]

# The venues the plugin ships, and where their stream servers live (imported on first use).
_BUILTIN_SERVERS: dict[str, tuple[str, str]] = {
    "binanceusdm": ("pytest_exchange_chaos.venues._binance_streams", "BinanceUsdmStreams"),
    "bybit": ("pytest_exchange_chaos.venues._bybit_streams", "BybitStreams"),
}


def stream_server_class(venue: Venue) -> type[StreamServer] | None:
    """The stream server of ``venue``: its ``stream_server_class`` attribute if it has one (a
    venue of your own), else the plugin's own for the venues it ships, else None (no streams)."""
    own = getattr(venue, "stream_server_class", None)
    if own is not None:
        return own  # type: ignore[no-any-return]
    where = _BUILTIN_SERVERS.get(venue.id)
    if where is None:
        return None
    try:
        module = importlib.import_module(where[0])
    except ModuleNotFoundError:
        return None
    found = getattr(module, where[1], None)
    return found if isinstance(found, type) and issubclass(found, StreamServer) else None


class StreamServer(ABC):
    """A venue's websocket side. Subclass it for a venue, and say where it is (see
    ``README-for-venues.md`` next to this module).

    One instance per venue per test, created when the bot first connects to one of ``hosts``.
    It publishes from the same venue object (the same book) the REST side answers from.
    """

    hosts: ClassVar[frozenset[str]]
    """Every websocket host this venue answers for (production, testnet, demo)."""
    max_connection_age: ClassVar[float | None] = None
    """Seconds after which the venue ends every connection on its own (Binance: 24 h)."""
    forced_close_code: ClassVar[int] = 1000
    """The close code it sends when it does (and for ``faults.stream.forced_reconnect()``)."""

    def __init__(self, venue: Venue, hub: StreamHub) -> None:
        self.venue = venue
        self.hub = hub

    @property
    def connections(self) -> list[Connection]:
        """This venue's open connections."""
        return [c for c in self.hub.connections if c.server is self and c.open]

    def accept(self, connection: Connection) -> None:
        """The handshake: read ``connection.path``/``query``, set what is known already
        (``connection.private``, ``connection.subscribe(...)`` for a URL that names its streams,
        such as Binance's listenKey URL), or raise :class:`StreamRefused`."""
        return

    @abstractmethod
    def on_text(self, connection: Connection, text: str) -> None:
        """A text frame from the bot (subscribe, auth, an application-level ping): answer with
        ``connection.reply(...)`` and ``connection.subscribe(topic, stream)``."""

    def refresh(self) -> None:
        """The venue's state may have changed (after every REST request it answered and every
        ``set_price``, while a connection is open): publish what changed with :meth:`publish`."""
        return

    def expire_listen_key(self, connection: Connection) -> StreamMessage | None:
        """``faults.stream.listen_key_expired()``: invalidate the key this connection listens with
        and return the message announcing it, or None if the venue has no listen keys."""
        return None

    @classmethod
    def hands_out_listen_keys(cls) -> bool:
        """Whether the venue's user streams listen with a key it can expire (it overrides
        :meth:`expire_listen_key`): only there does ``faults.stream.listen_key_expired()`` strike."""
        return cls.expire_listen_key is not StreamServer.expire_listen_key

    def on_close(self, connection: Connection) -> None:
        """The connection ended (either side)."""
        return

    def publish(self, topic: str, message: StreamMessage) -> int:
        """Send ``message`` to every open connection subscribed to ``topic``; returns how many."""
        return self.hub.publish(self, topic, message)


class Connection:
    """The server end of one websocket, as a venue's :class:`StreamServer` sees it."""

    def __init__(
        self, hub: StreamHub, server: StreamServer, number: int, url: str, headers: Mapping[str, str]
    ) -> None:
        self.hub = hub
        self.server = server
        self.id = number
        self.venue: str = server.venue.id
        self.url = url
        parts = urlsplit(url)
        self.host = (parts.hostname or "").lower()
        self.path = parts.path or "/"
        self.query: dict[str, str] = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.headers = dict(headers)
        self.opened_at = hub.now()
        self.closed_at: float | None = None
        self.close_code: int | None = None
        self.private = False
        """Set by the venue once the connection carries account data (listenKey, auth)."""
        self.topics: dict[str, str] = {}
        """Venue topic name -> stream kind, for every topic the connection receives."""
        self.state: dict[str, Any] = {}
        """The venue's own notes about this connection."""
        self.socket: ChaosWebSocket | None = None
        self.closed_by_bot = False
        self._stalled_until: float | None = None
        self._silenced = False
        self._last_when = 0.0
        # What the venue sent while accepting (a stream named in the URL answers at once): it
        # goes out once the handshake is done.
        self._handshake_sends: list[tuple[StreamMessage, bool]] = []

    # -- for the venue -------------------------------------------------------------------------

    @property
    def open(self) -> bool:
        return self.closed_at is None

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self.topics.values())

    def subscribe(self, topic: str, stream: str) -> None:
        """The connection now receives ``topic`` (the venue's name for it), of stream kind
        ``stream`` (what ``stream=`` matches)."""
        new = topic not in self.topics
        self.topics[topic] = stream
        if new and self.socket is not None:  # during the handshake, recorded once connected
            self.hub._record(self, "subscribed", stream=stream, detail=topic)
            self.hub._on_subscribed(self)

    def unsubscribe(self, topic: str) -> None:
        self.topics.pop(topic, None)

    def reply(self, payload: Any) -> None:
        """Answer the bot (a subscription ack, an auth result, a pong text): sent at once, lost
        only if the connection is stalled or closed; message faults do not touch replies."""
        message = payload if isinstance(payload, StreamMessage) else StreamMessage("reply", payload)
        if self.socket is None:
            self._handshake_sends.append((message, True))
        else:
            self.hub._send(self, message, reply=True)

    def send(self, message: StreamMessage) -> None:
        """Deliver one message to this connection alone, through the stream faults."""
        if self.socket is None:
            self._handshake_sends.append((message, False))
        else:
            self.hub._deliver(self, message)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """The venue closes the connection with a close frame."""
        self.hub._close(self, code, reason=reason, fault=None)

    def stalled(self) -> bool:
        until = self._stalled_until
        return until is not None and self.hub.now() < until

    def __repr__(self) -> str:
        return f"<Connection {self.id} {self.venue} {self.path} topics={sorted(self.topics)}>"

    # -- from the bot's socket -------------------------------------------------------------------

    def _client_text(self, text: str) -> None:
        if not self.open:
            return
        self.hub._record(self, "received", detail=text[:200])
        self.server.on_text(self, text)

    def _client_ping(self, data: bytes) -> None:
        if self.open and not self.stalled() and self.socket is not None:
            self.hub._schedule(self, self.socket._feed_pong, data, delay=0.0)

    def _client_closed(self, code: int) -> None:
        if self.open:
            self.closed_by_bot = True
            self.hub._ended(self, code, detail="closed by the bot")


class StreamHub:
    """Every simulated websocket of one chaos session (see the module docstring)."""

    _hubs: ClassVar[weakref.WeakKeyDictionary[Any, StreamHub]] = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, engine: ChaosEngine) -> StreamHub:
        """The session's hub, created on first use."""
        hub = cls._hubs.get(engine)
        if hub is None:
            hub = cls._hubs[engine] = cls(engine)
        return hub

    @classmethod
    def existing(cls, engine: ChaosEngine) -> StreamHub | None:
        """The session's hub if the bot ever opened a stream (or a verdict asked), else None."""
        return cls._hubs.get(engine)

    def __init__(self, engine: ChaosEngine) -> None:
        self.engine = engine
        self.records: list[StreamRecord] = []
        self.connections: list[Connection] = []
        self.servers: dict[str, StreamServer] = {}
        # A schedule's own draws, seeded from the session's: the same seed repeats them.
        self._rng = random.Random(engine.rng.getrandbits(64))
        self._classes: dict[str, tuple[Venue, type[StreamServer]]] = {}
        for venue in engine.venues:
            server_class = stream_server_class(venue)
            if server_class is not None:
                for host in server_class.hosts:
                    self._classes.setdefault(host.lower(), (venue, server_class))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self._burst_seen: dict[int, int] = {}
        self._armed: set[int] = set()
        self._kinds_by_url: dict[str, frozenset[str]] = {}
        self._undo: list[Callable[[], None]] = []
        self._closed = False
        self._watch_requests()

    # -- reading -------------------------------------------------------------------------------

    def now(self) -> float:
        return self.engine.clock.now()

    def serves(self, url: str) -> bool:
        return (urlsplit(url).hostname or "").lower() in self._classes

    def records_for(self, venue: str | None = None, connection: int | None = None) -> list[StreamRecord]:
        return [
            r
            for r in self.records
            if (venue is None or r.venue == venue) and (connection is None or r.connection == connection)
        ]

    def delivered(self, venue: str | None = None) -> list[StreamRecord]:
        """Every message the bot's clients received, in order of arrival."""
        rows = [r for r in self.records if r.event == "delivered" and (venue is None or r.venue == venue)]
        return sorted(rows, key=lambda r: r.t)

    def facts_seen(self, venue: str) -> tuple[dict[str, OrderFact], dict[str, PositionFact]]:
        """The bot's view from its streams: the last delivered fact per order id and per symbol."""
        orders: dict[str, OrderFact] = {}
        positions: dict[str, PositionFact] = {}
        for record in self.delivered(venue):
            facts: Iterable[Fact] = record.message.facts if record.message is not None else ()
            for fact in facts:
                if isinstance(fact, OrderFact):
                    orders[fact.order_id] = fact
                else:
                    positions[fact.symbol] = fact
        return orders, positions

    def outages(self) -> list[tuple[str, int, float, float | None, str]]:
        """``(venue, connection, from, to, why)`` spans when a connection was stalled, silenced or
        down until the next one: the report's stream lane."""
        spans: list[tuple[str, int, float, float | None, str]] = []
        stall_start: dict[int, tuple[float, str]] = {}
        for r in self.records:
            if r.event == "stalled":
                stall_start[r.connection] = (r.t, r.fault or "stall")
            elif r.event == "stall_ended" and r.connection in stall_start:
                start, why = stall_start.pop(r.connection)
                spans.append((r.venue, r.connection, start, r.t, why))
            elif r.event == "closed" and r.code != 1000:
                later = [
                    c
                    for c in self.connections
                    if c.venue == r.venue and c.opened_at >= r.t and c.id != r.connection
                ]
                back = min((c.opened_at for c in later), default=None)
                spans.append((r.venue, r.connection, r.t, back, f"closed {r.code}"))
            elif r.event == "listen_key_expired":
                spans.append((r.venue, r.connection, r.t, None, "listenKey expired"))
        for number, (start, why) in stall_start.items():
            venue = next(c.venue for c in self.connections if c.id == number)
            spans.append((venue, number, start, None, why))
        return spans

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per venue, JSON-ready counts for a report: connections opened, handshakes refused,
        closes by code, messages delivered/dropped/lost, faults by name, and the outages."""
        venues: dict[str, dict[str, Any]] = {}
        for record in self.records:
            entry = venues.setdefault(
                record.venue,
                {
                    "connections": 0,
                    "refused": 0,
                    "closes": {},
                    "delivered": 0,
                    "dropped": 0,
                    "lost": 0,
                    "faults": {},
                    "outages": [],
                },
            )
            if record.event == "connected":
                entry["connections"] += 1
            elif record.event == "refused":
                entry["refused"] += 1
            elif record.event == "closed" and record.code is not None:
                entry["closes"][str(record.code)] = entry["closes"].get(str(record.code), 0) + 1
            elif record.event in ("delivered", "dropped", "lost"):
                entry[record.event] += 1
            if record.fault is not None and record.event != "lost":
                entry["faults"][record.fault] = entry["faults"].get(record.fault, 0) + 1
        for venue, connection, start, end, why in self.outages():
            if venue in venues:
                venues[venue]["outages"].append(
                    {"connection": connection, "from": start, "to": end, "why": why}
                )
        return venues

    # -- the transport's side -------------------------------------------------------------------

    def connect(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        message_class: Callable[[Any, Any, Any], Any],
        message_types: Any,
        autoclose: bool = True,
        autoping: bool = True,
    ) -> ChaosWebSocket:
        """Open a connection for ``ws_connect(url)``: raises :class:`StreamRefused` when the venue
        or a disconnect wave refuses the handshake."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        host = (urlsplit(url).hostname or "").lower()
        venue, server_class = self._classes[host]
        server = self.servers.get(venue.id)
        if server is None:
            server = self.servers[venue.id] = server_class(venue, self)
            self._watch_prices(venue)
        connection = Connection(self, server, len(self.connections) + 1, url, headers)
        try:
            server.accept(connection)
        except StreamRefused as refused:
            self._record(connection, "refused", code=refused.status, detail=refused.message)
            raise
        refusing = self._handshake_fault(connection)
        if refusing is not None:
            self._record(connection, "refused", fault=refusing.name, detail=refusing.describe())
            raise StreamRefused(503, f"{refusing.describe()}: the venue's stream gateway is down")
        socket = ChaosWebSocket(
            connection,
            loop,
            message_class=message_class,
            message_types=message_types,
            autoclose=autoclose,
            autoping=autoping,
        )
        connection.socket = socket
        self.connections.append(connection)
        self._record(connection, "connected", detail=url.split("?")[0])
        for topic, stream in connection.topics.items():
            self._record(connection, "subscribed", stream=stream, detail=topic)
        if connection.topics:
            self._kinds_by_url[url.split("?")[0]] = connection.kinds
        self._arm_waves()
        self._apply_connection_waves(connection, at_open=True)
        sends, connection._handshake_sends = connection._handshake_sends, []
        for message, is_reply in sends:
            if is_reply:
                self._send(connection, message, reply=True)
            else:
                self._deliver(connection, message)
        if server.max_connection_age is not None:
            self._timers.append(
                loop.call_later(server.max_connection_age, self._forced_close, connection, None)
            )
        return socket

    def refresh(self) -> None:
        """After a REST request or a price move: every venue with an open connection publishes
        what changed. Nothing to do (and nothing paid) while no stream is open."""
        for server in self.servers.values():
            # A connection the venue or a fault cut still counts: what it would have carried
            # while the bot was away is lost, and the report says so.
            if any(c.server is server and (c.open or not c.closed_by_bot) for c in self.connections):
                server.refresh()
        self._arm_waves()  # waves the test added since (controller.add)

    def close(self) -> None:
        """The session ends: timers stop, every connection still open is cut."""
        self._closed = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for connection in self.connections:
            if connection.open:
                connection.closed_at = self.now()
                if connection.socket is not None:
                    connection.socket._lose()
        while self._undo:
            self._undo.pop()()
        # Kept in the registry: the verdicts and the report read the records after the session.

    # -- publishing ------------------------------------------------------------------------------

    def publish(self, server: StreamServer, topic: str, message: StreamMessage) -> int:
        sent = 0
        for connection in self.connections:
            if connection.server is server and connection.open and topic in connection.topics:
                self._deliver(connection, message)
                sent += 1
        if not sent:
            self._lost_while_down(server, topic, message)
        return sent

    def _lost_while_down(self, server: StreamServer, topic: str, message: StreamMessage) -> None:
        # The bot's last connection for this topic was cut (by a fault or the venue) and it has
        # not reconnected: the message is lost, and the report counts what the outage cost.
        last = next((c for c in reversed(self.connections) if c.server is server and topic in c.topics), None)
        if last is not None and not last.open and not last.closed_by_bot:
            self._record(last, "lost", message=message, detail="down")

    def _deliver(self, connection: Connection, message: StreamMessage) -> None:
        if not connection.open:
            return
        if connection.stalled() or (connection._silenced and message.private):
            self._record(
                connection, "lost", message=message, detail="stalled" if connection.stalled() else "silenced"
            )
            return
        fault = self._decide_message(connection, message)
        if fault is None:
            self._send(connection, message)
        elif fault.kind == "drop":
            self._record(connection, "dropped", message=message, fault=fault.name)
        elif fault.kind == "duplicate":
            self._send(connection, message)
            self._send(connection, message, fault=fault.name)
        elif fault.kind == "delay":
            assert fault.seconds is not None
            self._send(connection, message, fault=fault.name, delay=fault.seconds)
        else:
            # A burst of a per-connection fault: it strikes on this message, which is lost.
            self._record(connection, "lost", message=message, fault=fault.name)
            self._apply(connection, fault, until=math.inf)

    def _send(
        self,
        connection: Connection,
        message: StreamMessage,
        *,
        fault: str | None = None,
        delay: float = 0.0,
        reply: bool = False,
    ) -> None:
        if not connection.open or connection.socket is None:
            return
        if reply and connection.stalled():
            self._record(connection, "lost", message=message, detail="stalled")
            return
        socket = connection.socket
        text = message.text()

        def arrive(_: object) -> None:
            # Recorded when it reaches the bot's socket, not when sent: a message still on its
            # way when the connection drops, or when the test ends, never reached the bot.
            if socket.closed or not connection.open:
                self._record(
                    connection, "lost", message=message, fault=fault, detail="connection ended first"
                )
                return
            socket._feed_text(text)
            self._record(connection, "delivered", message=message, fault=fault)

        self._schedule(connection, arrive, None, delay=delay)

    def _schedule(
        self, connection: Connection, feed: Callable[[Any], None], data: Any, *, delay: float
    ) -> float:
        """Hand ``data`` to the socket ``delay`` seconds from now on the chaos clock, never before
        what was sent earlier (one TCP stream keeps its order). Returns the delay it got."""
        loop = self._loop
        assert loop is not None
        now = loop.time()
        when = max(now + delay, connection._last_when)
        connection._last_when = when
        on_loop = _running_loop() is loop
        if when <= now:
            (loop.call_soon if on_loop else loop.call_soon_threadsafe)(feed, data)
        elif on_loop:
            self._timers.append(loop.call_at(when, feed, data))
        else:
            loop.call_soon_threadsafe(lambda: self._timers.append(loop.call_at(when, feed, data)))
        return when - now

    # -- faults ----------------------------------------------------------------------------------

    def _stream_schedules(self) -> list[tuple[Wave | Burst, ScheduleTally]]:
        return [
            (tally.schedule, tally)
            for tally in self.engine.schedule.tallies()
            if isinstance(tally.schedule.fault, StreamFault)
        ]

    def _call(self, connection: Connection, message: StreamMessage | None) -> StreamCall:
        kinds = connection.kinds or self._kinds_by_url.get(connection.url.split("?")[0], frozenset())
        stream = message.stream if message is not None else next(iter(sorted(kinds)), "")
        private = message.private if message is not None else connection.private
        return StreamCall(
            venue=connection.venue,
            intent="account" if private else "market_data",
            endpoint=f"WS {connection.path}",
            symbol=message.symbol if message is not None else None,
            stream=stream,
            private=private,
            kinds=frozenset({stream}) if message is not None else kinds,
        )

    def _matches(self, schedule: Wave | Burst, call: StreamCall) -> bool:
        matcher = schedule.matcher
        if matcher.intent is not None and call.intent not in matcher.intent:
            return False
        if matcher.venue is not None and call.venue not in matcher.venue:
            return False
        if matcher.symbol is not None and call.symbol not in matcher.symbol:
            return False
        if matcher.endpoint is not None:
            return False  # an HTTP endpoint never names a stream
        return stream_covers(matcher.stream, private=call.private, kinds=call.kinds or {call.stream})

    @staticmethod
    def _count_match(tally: ScheduleTally, now: float) -> None:
        tally.matched += 1
        if tally.first_match is None:
            tally.first_match = now
        tally.last_match = now

    def _decide_message(self, connection: Connection, message: StreamMessage) -> StreamFault | None:
        now = self.now()
        call = self._call(connection, message)
        chosen: StreamFault | None = None
        for schedule, tally in self._stream_schedules():
            fault = schedule.fault
            assert isinstance(fault, StreamFault)
            if not self._matches(schedule, call):
                continue
            self._count_match(tally, now)
            if fault.kind == "listen_key_expired" and not _has_listen_key(connection):
                continue  # nothing to expire: it must not count as struck
            if isinstance(schedule, Wave):
                if not fault.per_message or not schedule.start <= now < schedule.end:
                    continue
                tally.in_window += 1
                if chosen is not None:
                    tally.shadowed += 1
                    continue
                if schedule.limit is not None and tally.fired >= schedule.limit:
                    continue
                if schedule.rate < 1.0 and self._rng.random() >= schedule.rate:
                    continue
                tally.fired += 1
                chosen = fault
                continue
            tally.in_window += 1
            if chosen is not None:
                tally.shadowed += 1
                continue
            key = id(schedule)
            self._burst_seen[key] = self._burst_seen.get(key, 0) + 1
            if self._burst_seen[key] > schedule.after and tally.fired < schedule.count:
                tally.fired += 1
                chosen = fault
        return chosen

    def _connection_waves(self) -> list[tuple[Wave, ScheduleTally, StreamFault]]:
        waves = []
        for schedule, tally in self._stream_schedules():
            fault = schedule.fault
            if isinstance(schedule, Wave) and isinstance(fault, StreamFault) and not fault.per_message:
                waves.append((schedule, tally, fault))
        return waves

    def _arm_waves(self) -> None:
        """Timers at each per-connection wave's start (schedules added mid-test included)."""
        loop = self._loop
        if loop is None or self._closed:
            return
        now = self.now()
        for wave, _, _ in self._connection_waves():
            if id(wave) in self._armed:
                continue
            self._armed.add(id(wave))
            if wave.start > now:
                self._timers.append(loop.call_later(wave.start - now, self._wave_starts, wave))

    def _wave_starts(self, wave: Wave) -> None:
        for connection in list(self.connections):
            if connection.open:
                self._hit(connection, wave)

    def _handshake_fault(self, connection: Connection) -> StreamFault | None:
        """A disconnect wave in progress refuses new handshakes that it matches."""
        now = self.now()
        for wave, tally, fault in self._connection_waves():
            if fault.kind != "disconnect" or not wave.start <= now < wave.end:
                continue
            call = self._call(connection, None)
            if not self._matches(wave, call):
                continue
            self._count_match(tally, now)
            tally.in_window += 1
            if wave.limit is not None and tally.fired >= wave.limit:
                continue
            if wave.rate < 1.0 and self._rng.random() >= wave.rate:
                continue
            tally.fired += 1
            return fault
        return None

    def _apply_connection_waves(self, connection: Connection, *, at_open: bool) -> None:
        now = self.now()
        for wave, _, fault in self._connection_waves():
            if fault.kind == "forced_reconnect" or not wave.start <= now < wave.end:
                continue  # a forced reconnect strikes once, when its wave starts
            if at_open and fault.kind == "disconnect":
                continue  # decided at the handshake
            self._hit(connection, wave)

    def _on_subscribed(self, connection: Connection) -> None:
        self._kinds_by_url[connection.url.split("?")[0]] = connection.kinds
        self._apply_connection_waves(connection, at_open=False)

    def _hit(self, connection: Connection, wave: Wave) -> None:
        fault = wave.fault
        assert isinstance(fault, StreamFault)
        tally = next(t for s, t in self._stream_schedules() if s is wave)
        if not connection.open or not self._matches(wave, self._call(connection, None)):
            return
        hits: set[int] = connection.state.setdefault("_exchange_chaos_waves", set())
        if id(wave) in hits:
            return
        now = self.now()
        self._count_match(tally, now)
        tally.in_window += 1
        if wave.limit is not None and tally.fired >= wave.limit:
            return
        if wave.rate < 1.0 and self._rng.random() >= wave.rate:
            return
        if fault.kind == "listen_key_expired" and not _has_listen_key(connection):
            return
        if self._apply(connection, fault, until=wave.end):
            hits.add(id(wave))
            tally.fired += 1

    def _apply(self, connection: Connection, fault: StreamFault, *, until: float) -> bool:
        """Strike ``connection`` with a per-connection fault: False when nothing happened."""
        if not connection.open:
            return False
        if fault.kind == "disconnect":
            assert fault.code is not None
            self._close(connection, fault.code, reason="", fault=fault)
        elif fault.kind == "forced_reconnect":
            self._forced_close(connection, fault)
        elif fault.kind == "stall":
            end = until if fault.seconds is None else min(until, self.now() + fault.seconds)
            connection._stalled_until = end
            self._record(connection, "stalled", fault=fault.name, detail=fault.describe())
            if end != math.inf and self._loop is not None:
                self._timers.append(self._loop.call_later(end - self.now(), self._stall_ends, connection))
        elif fault.kind == "listen_key_expired":
            notice = connection.server.expire_listen_key(connection)
            if notice is None:
                return False
            self._record(connection, "listen_key_expired", fault=fault.name, detail=fault.describe())
            self._send(connection, notice, fault=fault.name)
            connection._silenced = True
        return True

    def _stall_ends(self, connection: Connection) -> None:
        if connection.open:
            self._record(connection, "stall_ended")

    def _forced_close(self, connection: Connection, fault: StreamFault | None) -> None:
        if connection.open:
            code = (
                fault.code
                if fault is not None and fault.code is not None
                else connection.server.forced_close_code
            )
            self._close(connection, code, reason="forced reconnect", fault=fault)

    def _close(self, connection: Connection, code: int, *, reason: str, fault: StreamFault | None) -> None:
        if not connection.open or connection.socket is None:
            return
        socket = connection.socket
        if code == 1006:
            # No close frame: the client learns only that the connection is gone.
            self._loop_call(socket._lose)
        else:
            self._loop_call(lambda: socket._feed_close(code, reason))
        self._ended(connection, code, fault=fault, detail=reason or (fault.describe() if fault else ""))

    def _loop_call(self, fn: Callable[[], None]) -> None:
        loop = self._loop
        assert loop is not None
        (loop.call_soon if _running_loop() is loop else loop.call_soon_threadsafe)(fn)

    def _ended(
        self, connection: Connection, code: int, *, fault: StreamFault | None = None, detail: str = ""
    ) -> None:
        connection.closed_at = self.now()
        connection.close_code = code
        self._record(connection, "closed", code=code, fault=fault.name if fault else None, detail=detail)
        connection.server.on_close(connection)

    def _watch_requests(self) -> None:
        # Whatever client sent it (aiohttp, requests, httpx), a request the venue just executed
        # reaches its streams as it happens: a fill, a cancel, a new order.
        self._undo.append(self.engine.after_each_request(self.refresh))

    # -- prices moved by the test ----------------------------------------------------------------

    def _watch_prices(self, venue: Venue) -> None:
        # set_price is called on the venue object itself (controller.venue(...)): while streams
        # run, the same call publishes what the move changed (a triggered stop, a new mark).
        self._undo.append(venue.when_price_moves(self.refresh))

    # -- records -----------------------------------------------------------------------------------

    def _record(
        self,
        connection: Connection,
        event: StreamEventKind,
        *,
        stream: str | None = None,
        symbol: str | None = None,
        code: int | None = None,
        fault: str | None = None,
        detail: str = "",
        message: StreamMessage | None = None,
        t: float | None = None,
    ) -> None:
        if message is not None:
            stream = stream or message.stream
            symbol = symbol or message.symbol
        self.records.append(
            StreamRecord(
                t=self.now() if t is None else t,
                venue=connection.venue,
                connection=connection.id,
                event=event,
                stream=stream,
                symbol=symbol,
                code=code,
                fault=fault,
                detail=detail,
                message=message,
            )
        )


def stream_covers(wanted: frozenset[str] | None, *, private: bool, kinds: Iterable[str]) -> bool:
    """Whether a schedule's ``stream=`` takes in a stream of these kinds, private or public."""
    if wanted is None or "*" in wanted:
        return True
    if ("private" in wanted and private) or ("public" in wanted and not private):
        return True
    return not wanted.isdisjoint(kinds)


def _has_listen_key(connection: Connection) -> bool:
    """A private connection whose venue can expire its key (Binance's user stream; Bybit has
    none): only there does a listenKey expiry strike."""
    return connection.private and type(connection.server).hands_out_listen_keys()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    return asyncio._get_running_loop()
