"""requests (sync ccxt's client), through the ``responses`` library.

``responses`` patches ``HTTPAdapter.send``, the one place every ``requests`` call goes through,
whatever session or adapter the bot built. What comes back is what requests itself would
produce: a ``requests.Response`` with the gateway's reason phrase, or the exception requests
raises for that failure, wrapping the urllib3 error it wraps in real life (ccxt's sync ``fetch``
sorts failures by class and by message, so both must be right).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

import requests
import responses
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPResponse, HTTPSConnectionPool
from urllib3._collections import HTTPHeaderDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util import Timeout

from pytest_exchange_chaos.engine import ChaosEngine
from pytest_exchange_chaos.errors import UnservedRequestError
from pytest_exchange_chaos.outcome import ClientTimeouts, Outcome
from pytest_exchange_chaos.venues.base import ExchangeRequest

__all__ = ["RequestsTransport", "make_transport"]


def timeouts(timeout: Any) -> ClientTimeouts:
    """requests' ``timeout=``: one number for connect and read, a (connect, read) pair, or
    urllib3's Timeout. requests has no total timeout: each read waits afresh."""
    if timeout is None:
        return ClientTimeouts()
    if isinstance(timeout, Timeout):
        connect, read = timeout.connect_timeout, timeout.read_timeout
        return ClientTimeouts(
            connect=float(connect) if isinstance(connect, (int, float)) else None,
            read=float(read) if isinstance(read, (int, float)) else None,
        )
    if isinstance(timeout, tuple):
        connect, read = timeout
        return ClientTimeouts(
            connect=None if connect is None else float(connect), read=None if read is None else float(read)
        )
    return ClientTimeouts(connect=float(timeout), read=float(timeout))


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    # A generator or file body: requests streams it; the venue only needs the form or JSON,
    # which ccxt and bots always send as bytes or str.
    return b""


def _pool(url: str) -> HTTPConnectionPool:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https":
        return HTTPSConnectionPool(host, parts.port or 443)
    return HTTPConnectionPool(host, parts.port or 80)


def _connection(url: str) -> HTTPConnection:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https":
        return HTTPSConnection(host, parts.port or 443)
    return HTTPConnection(host, parts.port or 80)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def network_error(
    outcome: Outcome, request: requests.PreparedRequest, timeouts: ClientTimeouts
) -> BaseException:
    """What ``HTTPAdapter.send`` raises for this failure, built from the same urllib3 parts."""
    kind = outcome.network
    url = str(request.url)
    if kind == "unserved":
        return UnservedRequestError(outcome.message)
    if kind == "connection_reset":
        # The peer resets the established connection while requests waits for the answer.
        reset = ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
        return requests.exceptions.ConnectionError(
            ProtocolError("Connection aborted.", reset), request=request
        )
    if kind == "connect_timeout":
        reason = ConnectTimeoutError(
            _connection(url),
            f"Connection to {urlsplit(url).hostname} timed out. (connect timeout={timeouts.connect})",
        )
        return requests.exceptions.ConnectTimeout(
            MaxRetryError(_pool(url), _path(url), reason), request=request
        )
    if kind in ("read_timeout", "total_timeout"):
        read = timeouts.read if timeouts.read is not None else timeouts.total
        return requests.exceptions.ReadTimeout(
            ReadTimeoutError(_pool(url), url, f"Read timed out. (read timeout={read})"), request=request
        )
    # dns_failure: urllib3 reports the resolver's gaierror, requests wraps it as ConnectionError.
    gaierror = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    reason = NameResolutionError(urlsplit(url).hostname or "", _connection(url), gaierror)
    return requests.exceptions.ConnectionError(MaxRetryError(_pool(url), _path(url), reason), request=request)


def _raw_response(outcome: Outcome, method: str) -> HTTPResponse:
    assert outcome.status is not None
    headers = HTTPHeaderDict()
    for key, value in outcome.headers.items():
        headers.add(key, value)
    # requests reads cookies from the original response's ``msg``; responses does the same.
    original = HTTPResponse(body=BytesIO(), msg=headers, preload_content=False)  # type: ignore[arg-type]
    return HTTPResponse(
        body=BytesIO(outcome.body),
        headers=headers,
        status=outcome.status,
        # Set explicitly: urllib3 leaves the reason None for codes http.client does not know
        # (Cloudflare's 52x), and ccxt concatenates it into its error messages.
        reason=outcome.reason,
        preload_content=False,
        original_response=original,  # type: ignore[arg-type]
        request_method=method,
    )


class _VenueResponse(responses.BaseResponse):
    """Matches every request and lets the engine answer it."""

    def __init__(self, engine: ChaosEngine) -> None:
        super().__init__("*", "http://exchange-chaos.invalid/")
        self._engine = engine

    def matches(self, request: requests.PreparedRequest) -> tuple[bool, str]:
        return True, ""

    def get_response(self, request: requests.PreparedRequest) -> HTTPResponse:
        method = str(request.method or "GET").upper()
        client_timeouts = timeouts(getattr(request, "req_kwargs", {}).get("timeout"))
        exchange_request = ExchangeRequest(
            method=method,
            url=str(request.url),
            headers={str(k): str(v) for k, v in request.headers.items()},
            body=_body_bytes(request.body),
            client="requests",
        )
        outcome = self._engine.handle(exchange_request, client_timeouts)
        if outcome.delay > 0:
            self._engine.clock.sleep(outcome.delay)
        if outcome.network is not None:
            raise network_error(outcome, request, client_timeouts)
        return _raw_response(outcome, method)


class _ChaosRequestsMock(responses.RequestsMock):
    def __init__(self, engine: ChaosEngine, real_send: Callable[..., Any]) -> None:
        super().__init__(assert_all_requests_are_fired=False, real_adapter_send=real_send)
        self._engine = engine

    def _on_request(self, adapter: HTTPAdapter, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        if self._engine.passes_through(str(request.url)):
            send: Callable[..., Any] = self._real_send
            return send(adapter, request, **{k: v for k, v in kwargs.items() if k != "retries"})
        try:
            return super()._on_request(adapter, request, **kwargs)
        finally:
            # responses logs every call, request and response, for its ``calls`` API; nobody
            # reads this mock's log, and a long chaos test would hold thousands of them.
            self._calls.reset()
            for match in self.registered():
                match.calls.reset()


class RequestsTransport:
    name = "requests"

    def __init__(self, engine: ChaosEngine) -> None:
        self._engine = engine
        self._undo: list[Callable[[], None]] = []

    def start(self) -> None:
        # What HTTPAdapter.send is now, not responses' import-time original: an outer mock the
        # bot started before the test keeps answering the hosts we let through.
        mock = _ChaosRequestsMock(self._engine, HTTPAdapter.send)
        mock.add(_VenueResponse(self._engine))
        mock.start()
        self._undo.append(mock.stop)
        ours = HTTPAdapter.send
        # A bot's own responses mock started inside the test sends what it passes through to
        # responses' "real" send, captured when responses was imported: the network. Point it
        # at ours instead, so pass-through lands in the chaos venues (or the guard).
        self._replace(_mock_defaults(), "real_adapter_send", ours)
        self._replace_attr(responses.mock, "_real_send", ours)

    def stop(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _replace(self, mapping: dict[str, Any], key: str, value: Any) -> None:
        original = mapping[key]
        mapping[key] = value
        self._undo.append(lambda: mapping.__setitem__(key, original))

    def _replace_attr(self, owner: Any, name: str, value: Any) -> None:
        original = getattr(owner, name)
        setattr(owner, name, value)
        self._undo.append(lambda: setattr(owner, name, original))


def _mock_defaults() -> dict[str, Any]:
    defaults = responses.RequestsMock.__init__.__kwdefaults__
    assert defaults is not None, "responses.RequestsMock takes real_adapter_send as a keyword"
    return defaults


def make_transport(engine: ChaosEngine) -> RequestsTransport:
    return RequestsTransport(engine)
