"""aiohttp (async ccxt's client), through aioresponses with our compatibility layer."""

from __future__ import annotations

import asyncio
import errno
import json
import re
import socket
from collections.abc import Callable
from typing import Any
from unittest.mock import patch
from urllib.parse import urlencode

import aiohttp
from aioresponses import aioresponses
from aioresponses.core import RequestMatch
from yarl import URL

from pytest_exchange_chaos._network_guard import refuse_websocket
from pytest_exchange_chaos.engine import ChaosEngine, may_be_loopback
from pytest_exchange_chaos.errors import UnservedRequestError
from pytest_exchange_chaos.outcome import ClientTimeouts, Outcome
from pytest_exchange_chaos.streams import StreamHub, StreamRefused
from pytest_exchange_chaos.transports._aiohttp_compat import build_client_response, connection_key
from pytest_exchange_chaos.transports._ccxt_throttle import accelerate_ccxt_throttler
from pytest_exchange_chaos.venues.base import ExchangeRequest

__all__ = ["AiohttpTransport", "make_transport"]

_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
_EVERY_URL = re.compile(r".*")


def _body_bytes(kwargs: dict[str, Any]) -> bytes:
    if kwargs.get("json") is not None:
        return json.dumps(kwargs["json"]).encode()
    data = kwargs.get("data")
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, dict):
        return urlencode(data).encode()
    return b""


def _is_websocket(url: Any) -> bool:
    return str(url)[:6].lower().startswith(("ws://", "wss://"))


def _timeouts(timeout: Any) -> ClientTimeouts:
    if isinstance(timeout, (int, float)):
        return ClientTimeouts(total=float(timeout))
    if isinstance(timeout, aiohttp.ClientTimeout):
        connects = [t for t in (timeout.connect, timeout.sock_connect) if t is not None]
        return ClientTimeouts(
            connect=min(connects) if connects else None, read=timeout.sock_read, total=timeout.total
        )
    return ClientTimeouts()


def _network_error(outcome: Outcome, url: URL) -> BaseException:
    kind = outcome.network
    if kind == "unserved":
        return UnservedRequestError(outcome.message)
    if kind == "connection_reset":
        return aiohttp.ClientOSError(errno.ECONNRESET, outcome.message)
    if kind == "connect_timeout":
        return aiohttp.ConnectionTimeoutError(f"Connection timeout to host {url}")
    if kind == "read_timeout":
        return aiohttp.SocketTimeoutError(outcome.message)
    if kind == "total_timeout":
        return asyncio.TimeoutError()
    # dns_failure: what aiohttp's resolver raises for a name that does not resolve
    os_error = socket.gaierror(socket.EAI_AGAIN, outcome.message)
    return aiohttp.ClientConnectorDNSError(connection_key(url), os_error)


class _VenueMatch(RequestMatch):
    """Matches every URL for one HTTP method and lets the engine answer."""

    def __init__(self, method: str, engine: ChaosEngine) -> None:
        super().__init__(_EVERY_URL, method=method, repeat=True)
        self._engine = engine

    async def build_response(self, url: URL, **kwargs: Any) -> Any:
        method = self.method.upper()
        request = ExchangeRequest(
            method=method,
            url=str(url),
            headers={str(k): str(v) for k, v in (kwargs.get("headers") or {}).items()},
            body=_body_bytes(kwargs),
            client="aiohttp",
        )
        outcome = self._engine.handle(request, _timeouts(kwargs.get("timeout")))
        if outcome.delay > 0:
            await asyncio.sleep(outcome.delay)
        if outcome.network is not None:
            # Raised, not returned: aioresponses only raises Exception subclasses it is handed,
            # and the guard's error is deliberately not one.
            raise _network_error(outcome, url)
        assert outcome.status is not None
        return build_client_response(
            method,
            url,
            status=outcome.status,
            reason=outcome.reason,
            headers=outcome.headers,
            body=outcome.body,
            request_headers=request.headers,
            loop=asyncio.get_running_loop(),
        )


class _Unretained(list[Any]):
    """A list that keeps nothing appended to it."""

    def append(self, item: Any) -> None:
        pass


class _ChaosAioresponses(aioresponses):
    def __init__(self, engine: ChaosEngine) -> None:
        super().__init__()
        self._engine = engine

        # A plain function, not aioresponses' autospec'd mock: a bot's own aioresponses started
        # inside the test autospecs what it finds, and cannot autospec a mock (InvalidSpecError).
        async def _request(session: Any, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
            return await self._request_mock(session, method, url, *args, **kwargs)

        self.patcher = patch("aiohttp.client.ClientSession._request", new=_request)
        self.undo_throttler: Callable[[], None] | None = None

    async def _request_mock(
        self, orig_self: aiohttp.ClientSession, method: str, url: Any, *args: Any, **kwargs: Any
    ) -> Any:
        # A session-wide timeout is what the client honours when the call passes none.
        if self.undo_throttler is None and self._engine.clock.virtual:
            # Async ccxt is imported by now if it is the one sending; see _ccxt_throttle.
            self.undo_throttler = accelerate_ccxt_throttler()
        websocket = _is_websocket(url)
        if (self._engine.allowed_hosts or may_be_loopback(str(url))) and self._engine.passes_through(
            str(orig_self._build_url(url))
        ):
            with self._engine.clock.real_io():
                response = await self.patcher.temp_original(orig_self, method, url, *args, **kwargs)
                if websocket:
                    return response  # the upgraded connection is the websocket: no body to read
                # Read the body while still marked as real I/O: the bot reads it later, when the
                # virtual clock would no longer wait for the socket.
                await response.read()
                return response
        if websocket:
            # ws_connect() to a host no venue streams from (served ones never get here).
            refused = refuse_websocket(self._engine, str(orig_self._build_url(url)), "aiohttp ws_connect")
            # An Exception, unlike a refused HTTP request: ccxt.pro dials from a task of its own
            # and passes on only Exceptions, so a BaseException would end that task silently and
            # leave the bot's watch_* waiting forever. The refusal is recorded: the test fails.
            raise RefusedWebsocketError(str(refused)) from None
        if kwargs.get("timeout") in (None, aiohttp.helpers.sentinel):
            kwargs["timeout"] = orig_self.timeout
        return await super()._request_mock(orig_self, method, url, *args, **kwargs)

    def start(self) -> None:
        super().start()
        # aioresponses keeps every response it served until stop(), only to close them then; a
        # long chaos test would hold thousands (several KiB each). The bot has read them.
        self._responses = _Unretained()

    def _build_request_call(self, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
        # aioresponses deep-copies every request's arguments into an ever-growing log; the
        # engine's journal already records each request, so skip that cost.
        return None


class RefusedWebsocketError(aiohttp.ClientConnectionError):
    """``ws_connect()`` to a host no simulated venue streams from: what the bot's aiohttp raises
    (ccxt.pro: ``NetworkError``); the test fails by name at its end whatever the bot did with it."""


_HANDSHAKE_ROUND_TRIP = 0.1


def _handshake_error(url: str, refused: StreamRefused) -> aiohttp.WSServerHandshakeError:
    """What aiohttp raises when the server answers the upgrade with an error status."""
    from multidict import CIMultiDict, CIMultiDictProxy

    target = URL(url)
    info = aiohttp.RequestInfo(target, "GET", CIMultiDictProxy(CIMultiDict()), target)
    return aiohttp.WSServerHandshakeError(info, (), status=refused.status, message=refused.message)


def _patch_ws_connect(engine: ChaosEngine) -> Callable[[], None]:
    """Answer ``session.ws_connect()`` to a host a venue streams from with an in-process socket
    (ccxt.pro opens every stream this way, on the session it uses for REST). Anything else
    goes on to aiohttp, whose handshake request the guard then refuses or lets through."""
    original = aiohttp.ClientSession._ws_connect

    async def _ws_connect(session: aiohttp.ClientSession, url: Any, **kwargs: Any) -> Any:
        target = session._build_url(url)
        if kwargs.get("params"):
            target = target.extend_query(kwargs["params"])
        full = str(target)
        hub = StreamHub.of(engine)
        if not hub.serves(full) or engine.passes_through(full):
            return await original(session, url, **kwargs)
        headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items()}
        try:
            return hub.connect(
                full,
                headers,
                message_class=aiohttp.WSMessage,
                message_types=aiohttp.WSMsgType,
                autoclose=kwargs.get("autoclose", True),
                autoping=kwargs.get("autoping", True),
            )
        except StreamRefused as refused:
            # A refusal is an answer from the server: it takes a round trip. Without one, a
            # client that redials at once (ccxt before 4.5 has no dial backoff) would redial
            # forever at the same instant of the chaos clock.
            await asyncio.sleep(_HANDSHAKE_ROUND_TRIP)
            raise _handshake_error(full, refused) from None

    aiohttp.ClientSession._ws_connect = _ws_connect  # type: ignore[method-assign,assignment]

    def undo() -> None:
        aiohttp.ClientSession._ws_connect = original  # type: ignore[method-assign]

    return undo


class AiohttpTransport:
    name = "aiohttp"

    def __init__(self, engine: ChaosEngine) -> None:
        self._engine = engine
        self._mock = _ChaosAioresponses(engine)
        self._undo_ws: Callable[[], None] | None = None

    def start(self) -> None:
        self._mock.start()
        for method in _METHODS:
            self._mock._matches[f"exchange-chaos {method}"] = _VenueMatch(method, self._engine)
        self._undo_ws = _patch_ws_connect(self._engine)

    def stop(self) -> None:
        hub = StreamHub.existing(self._engine)
        if hub is not None:
            hub.close()
        if self._undo_ws is not None:
            self._undo_ws()
            self._undo_ws = None
        self._mock.stop()
        if self._mock.undo_throttler is not None:
            self._mock.undo_throttler()


def make_transport(engine: ChaosEngine) -> AiohttpTransport:
    return AiohttpTransport(engine)
