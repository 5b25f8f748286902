"""Websocket streams on the simulated venues (ccxt.pro's ``watch_*``, or any aiohttp bot).

How it fits together:

- ``transports/aiohttp.py`` answers ``session.ws_connect(url)`` for a host a venue's stream
  server serves with a :class:`ChaosWebSocket` (no socket is opened); every other websocket
  host is refused by the guard.
- :class:`StreamHub` (one per chaos session, ``StreamHub.of(engine)``) owns the connections:
  it asks the venue's :class:`StreamServer` to accept each one, passes it what the bot sends,
  delivers what the venue publishes on the chaos clock (so ccxt's keepalive and reconnect
  backoff run on it too), applies the stream faults the test scheduled
  (``faults.stream.*`` in a ``Wave``/``Burst`` with ``stream=``), and records every event
  as a :class:`StreamRecord` (``hub.records``).
- After every REST request the transport answered, and every ``set_price``, the hub calls
  ``server.refresh()`` on venues with an open connection: the venue publishes what changed in
  its book (a fill, a triggered stop, a new mark), so REST and streams tell the same story.
- Messages carry :class:`OrderFact`/:class:`PositionFact`: ``hub.facts_seen(venue)`` is the
  bot's view from what it was actually delivered, for ``assert_state_reconciled()``.

Adding a venue's streams: see ``README-for-venues.md`` in this package.
"""

from __future__ import annotations

from pytest_exchange_chaos.streams._hub import Connection, StreamHub, StreamServer, stream_server_class
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

__all__ = [
    "ChaosWebSocket",
    "Connection",
    "Fact",
    "OrderFact",
    "PositionFact",
    "StreamCall",
    "StreamEventKind",
    "StreamHub",
    "StreamMessage",
    "StreamRecord",
    "StreamRefused",
    "StreamServer",
    "stream_server_class",
]
