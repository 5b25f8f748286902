"""The in-process websocket: what ``session.ws_connect()`` returns for a simulated venue.

It behaves like aiohttp's ``ClientWebSocketResponse`` as ccxt.pro and hand-written aiohttp
bots use it (``receive()``, ``send_str()``, ``send_json()``, ``ping()``, ``pong()``,
``close()``, ``closed``, ``close_code``, ``exception()``, ``async for``), and reports the
ends of a connection exactly as aiohttp does: a close frame from the server is a ``CLOSE``
message carrying the code (then ``CLOSED`` once the client closed too); a connection lost
without one is a ``CLOSED`` message with ``close_code`` 1006.

Nothing here imports aiohttp at module level: the transport hands in aiohttp's message
classes, so the package still loads where aiohttp is missing.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_exchange_chaos.streams._hub import Connection

__all__ = ["ChaosWebSocket"]


class _Payload:
    """Where ccxt.pro looks for aiohttp's parsed-frame buffer
    (``connection._conn.protocol._payload._buffer``, a deque of ``(message, size)``): it drains
    what is already there without a task switch per message. Ours is that same deque."""

    def __init__(self) -> None:
        self._buffer: collections.deque[tuple[Any, int]] = collections.deque()


class _Protocol:
    def __init__(self, payload: _Payload) -> None:
        self._payload = payload


class _Conn:
    def __init__(self, payload: _Payload) -> None:
        self.protocol = _Protocol(payload)


class ChaosWebSocket:
    """The client end of one simulated connection. The server end is a
    :class:`~pytest_exchange_chaos.streams.Connection`, which feeds it."""

    def __init__(
        self,
        connection: Connection,
        loop: asyncio.AbstractEventLoop,
        *,
        message_class: Callable[[Any, Any, Any], Any],
        message_types: Any,
        autoclose: bool = True,
        autoping: bool = True,
    ) -> None:
        self._connection = connection
        self._loop = loop
        self._message = message_class
        self._types = message_types
        self._autoclose = autoclose
        self._autoping = autoping
        self._payload = _Payload()
        self._conn: _Conn | None = _Conn(self._payload)
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._closing = False
        self._close_code: int | None = None
        self._exception: BaseException | None = None

    # -- what aiohttp's ClientWebSocketResponse offers -----------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def close_code(self) -> int | None:
        return self._close_code

    @property
    def protocol(self) -> str | None:
        return None

    @property
    def compress(self) -> int:
        return 0

    @property
    def client_notakeover(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def exception(self) -> BaseException | None:
        return self._exception

    async def ping(self, message: bytes = b"") -> None:
        self._check_open("ping")
        self._connection._client_ping(bytes(message))

    async def pong(self, message: bytes = b"") -> None:
        self._check_open("pong")

    async def send_str(self, data: str, compress: int | None = None) -> None:
        if not isinstance(data, str):
            raise TypeError(f"data argument must be str ({type(data)!r})")
        self._check_open("send_str")
        self._connection._client_text(data)

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be byte-ish ({type(data)!r})")
        self._check_open("send_bytes")
        self._connection._client_text(bytes(data).decode("utf-8", errors="replace"))

    async def send_json(
        self, data: Any, compress: int | None = None, *, dumps: Callable[[Any], str] = json.dumps
    ) -> None:
        await self.send_str(dumps(data), compress=compress)

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        if self._closed:
            return False
        self._closed = True
        self._closing = True
        if self._close_code is None:
            self._close_code = code
        self._conn = None
        self._wake()
        self._connection._client_closed(code)
        return True

    async def receive(self, timeout: float | None = None) -> Any:
        types = self._types
        while True:
            if self._closed and not self._payload._buffer:
                return self._message(types.CLOSED, None, None)
            if self._closing and not self._payload._buffer:
                await self.close()
                return self._message(types.CLOSED, None, None)
            if not self._payload._buffer:
                if self._waiter is not None:
                    raise RuntimeError("Concurrent call to receive() is not allowed")
                self._waiter = self._loop.create_future()
                try:
                    if timeout:
                        await asyncio.wait_for(asyncio.shield(self._waiter), timeout)
                    else:
                        await self._waiter
                finally:
                    self._waiter = None
                continue
            message, _ = self._payload._buffer.popleft()
            if message.type == types.CLOSE:
                self._closing = True
                self._close_code = message.data
                if not self._closed and self._autoclose:
                    await self.close(code=message.data)
            elif message.type == types.PONG and self._autoping:
                continue
            return message

    async def receive_str(self, *, timeout: float | None = None) -> str:
        message = await self.receive(timeout)
        if message.type != self._types.TEXT:
            raise TypeError(f"Received message {message.type}:{message.data!r} is not WSMsgType.TEXT")
        return str(message.data)

    async def receive_bytes(self, *, timeout: float | None = None) -> bytes:
        message = await self.receive(timeout)
        if message.type != self._types.BINARY:
            raise TypeError(f"Received message {message.type}:{message.data!r} is not WSMsgType.BINARY")
        return bytes(message.data)

    async def receive_json(
        self, *, loads: Callable[[str], Any] = json.loads, timeout: float | None = None
    ) -> Any:
        return loads(await self.receive_str(timeout=timeout))

    def __aiter__(self) -> ChaosWebSocket:
        return self

    async def __anext__(self) -> Any:
        message = await self.receive()
        if message.type in (self._types.CLOSE, self._types.CLOSING, self._types.CLOSED):
            raise StopAsyncIteration
        return message

    async def __aenter__(self) -> ChaosWebSocket:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- fed by the server end (always on the socket's loop) -----------------------------------

    def _feed_text(self, text: str) -> None:
        self._push(self._message(self._types.TEXT, text, None), len(text))

    def _feed_pong(self, data: bytes) -> None:
        self._push(self._message(self._types.PONG, data, None), len(data))

    def _feed_close(self, code: int, reason: str) -> None:
        """The server's close frame."""
        self._push(self._message(self._types.CLOSE, code, reason), 2 + len(reason))

    def _lose(self) -> None:
        """The connection is lost without a close frame: what aiohttp reports as 1006."""
        if self._closed:
            return
        self._payload._buffer.clear()
        self._closed = True
        self._close_code = 1006
        self._conn = None
        self._wake()

    def _push(self, message: Any, size: int) -> None:
        if self._closed:
            return
        self._payload._buffer.append((message, size))
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _check_open(self, what: str) -> None:
        if self._closed or self._closing:
            # What aiohttp raises for a write on a closing connection.
            raise ConnectionResetError(f"Cannot {what}: the websocket is closing")
