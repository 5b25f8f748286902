"""Stream faults: what the exchange's websocket gateway does to a connected bot.

Scheduled like any fault, in a :class:`~pytest_exchange_chaos.Wave` or a
:class:`~pytest_exchange_chaos.Burst`, narrowed with ``stream=`` (a stream kind such as
``"user"``, ``"ticker"``, or ``"public"``/``"private"``)::

    Wave("30s", "2m", faults.stream.disconnect(1006), stream="user")
    Burst(3, faults.stream.drop(), stream="user")

Two families (see :attr:`StreamFault.per_message`):

- per message (``drop``, ``duplicate``, ``delay``): decided for each message the venue
  publishes on a matching connection, inside a wave's window (each with probability ``rate``)
  or for a burst's next ``count`` messages;
- per connection (``disconnect``, ``stall``, ``listen_key_expired``, ``forced_reconnect``): a
  wave hits every matching connection open when it starts and every one opened inside its
  window (a ``disconnect`` wave also fails new handshakes until it ends, so ccxt backs off
  and retries on the chaos clock); a burst hits the connection of its next ``count`` matching
  messages.

A stream fault never applies to an HTTP request, and an HTTP fault never to a stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from pytest_exchange_chaos._durations import Duration, parse_duration, shown
from pytest_exchange_chaos.faults._base import Fault, FaultContext
from pytest_exchange_chaos.outcome import Outcome

__all__ = [
    "StreamFault",
    "StreamFaultKind",
    "delay",
    "disconnect",
    "drop",
    "duplicate",
    "forced_reconnect",
    "listen_key_expired",
    "stall",
]

StreamFaultKind = Literal[
    "disconnect", "stall", "delay", "drop", "duplicate", "listen_key_expired", "forced_reconnect"
]

_PER_MESSAGE = frozenset({"delay", "drop", "duplicate"})

# Close codes a bot can meet: 1006 is aiohttp's own report of a connection lost without a close
# frame (no frame is ever sent with it); the others arrive in the server's close frame.
_CLOSE_CODES = (1000, 1001, 1006, 1008, 1011, 1012, 1013)


@dataclass(frozen=True)
class StreamFault(Fault):
    """A fault on a websocket stream. Build one with the functions of this module."""

    name: str
    kind: StreamFaultKind
    code: int | None = None
    """``disconnect`` and ``forced_reconnect``: the close code the bot's client reports."""
    seconds: float | None = None
    """``delay``: how late each message arrives; ``stall``: how long the stream stays silent
    (None: until the wave ends, or for the rest of the test in a burst)."""

    on_streams: ClassVar[bool] = True
    """Read by the schedule: a wave or burst with this fault matches stream messages only."""

    @property
    def per_message(self) -> bool:
        """Decided message by message (drop, duplicate, delay), rather than per connection."""
        return self.kind in _PER_MESSAGE

    def outcome(self, context: FaultContext) -> Outcome:
        raise TypeError(
            f"{self.describe()} is a stream fault and cannot answer the HTTP request "
            f"{context.request.method} {context.request.path}: schedule it in a Wave or Burst "
            "(it then applies to websocket streams only), or return an HTTP fault from the hook"
        )

    def describe(self) -> str:
        if self.kind == "disconnect":
            return f"stream disconnect (close {self.code})"
        if self.kind == "stall":
            return "stream stall" + (f" for {self.seconds:g}s" if self.seconds is not None else "")
        if self.kind == "delay":
            return f"stream messages {self.seconds:g}s late"
        if self.kind == "listen_key_expired":
            return "listenKey expired"
        if self.kind == "forced_reconnect":
            return f"forced reconnect (close {self.code})"
        return f"stream message {self.kind}ped" if self.kind == "drop" else "stream message duplicated"


def disconnect(code: int = 1006) -> StreamFault:
    """The connection drops. ``1006``: lost without a close frame (a network cut, what aiohttp
    reports for a dead TCP connection); ``1011``: the server closes with an internal error; any
    other close code the server may send (1000, 1001, 1008, 1012, 1013)."""
    if isinstance(code, bool) or not isinstance(code, int):
        raise TypeError(f"disconnect(code={shown(code)}): write a websocket close code, e.g. 1006 or 1011")
    if code not in _CLOSE_CODES:
        codes = ", ".join(str(c) for c in _CLOSE_CODES)
        raise ValueError(f"disconnect(code={code}): write one of the close codes {codes}")
    return StreamFault("stream_disconnect", "disconnect", code=code)


def stall(duration: Duration | None = None) -> StreamFault:
    """The socket stays open but nothing arrives: no data, no pong. Messages published meanwhile
    are lost (the gap a bot must reconcile over REST). ``duration`` (e.g. ``"90s"``) ends it
    early; without it, it lasts until the wave ends (a burst: until the test ends)."""
    seconds = None if duration is None else parse_duration(duration, what="stall duration")
    if seconds == 0:
        raise ValueError("stall(duration=0) stalls nothing: write a positive duration, e.g. '90s', or None")
    return StreamFault("stream_stall", "stall", seconds=seconds)


def delay(seconds: Duration) -> StreamFault:
    """Each message arrives ``seconds`` late (messages keep their order, as on one TCP stream)."""
    late = parse_duration(seconds, what="delay seconds")
    if late == 0:
        raise ValueError("delay(seconds=0) delays nothing: write a positive duration, e.g. '5s'")
    return StreamFault("stream_delay", "delay", seconds=late)


def drop() -> StreamFault:
    """The message is lost: the bot never sees it (a fill it learns of only over REST)."""
    return StreamFault("stream_drop", "drop")


def duplicate() -> StreamFault:
    """The message arrives twice."""
    return StreamFault("stream_duplicate", "duplicate")


def listen_key_expired() -> StreamFault:
    """Binance: the user data stream's listenKey expires. The venue sends ``listenKeyExpired``
    and then nothing more on that connection (the socket stays open); keeping the key alive
    fails from then on. Venues without listen keys are never hit (the schedule then fails the
    test as never fired)."""
    return StreamFault("stream_listen_key_expired", "listen_key_expired")


def forced_reconnect(code: int = 1000) -> StreamFault:
    """The server ends the connection as it does every 24 hours (Binance): a close frame with
    ``code``. Venues do this on their own at 24 h; the fault makes it happen now."""
    if isinstance(code, bool) or not isinstance(code, int) or code not in _CLOSE_CODES or code == 1006:
        raise ValueError(
            f"forced_reconnect(code={shown(code)}): write a close code a server sends, e.g. 1000"
        )
    return StreamFault("stream_forced_reconnect", "forced_reconnect", code=code)
