"""httpx (sync and async clients), through ``respx``.

The venues answer at httpx's own ``HTTPTransport`` and ``AsyncHTTPTransport``, the transports
that talk to httpcore: a transport the bot wraps around them (retries, logging) still runs, and
httpx's client code all around is the real one. respx's default mocker sits one layer lower, in
httpcore's connection pools, where httpx must first turn its request into httpcore's and back;
answering a layer up costs half as much per request. A second router stays in the pools as the
backstop, for transports built on httpcore without ``HTTPTransport``: there we raise httpcore's
errors and httpx's own mapping turns them into the ``httpx.ConnectError`` or ``httpx.ReadTimeout``
the bot sees; at the transport we raise that very mapping's result.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

import httpcore
import httpx
import respx
from respx.mocks import AbstractRequestMocker, Mocker
from respx.models import AllMockedAssertionError, PassThrough

from pytest_exchange_chaos.clock import ChaosClock
from pytest_exchange_chaos.engine import ChaosEngine
from pytest_exchange_chaos.errors import UnservedRequestError
from pytest_exchange_chaos.outcome import ClientTimeouts, Outcome
from pytest_exchange_chaos.venues.base import ExchangeRequest

__all__ = ["HttpxTransport", "make_transport"]

# respx's PassThrough names the route that let a request through: the allow list, or another
# respx router further down that mocks the URL.
_ALLOWED_HOST = respx.Route().pass_through()
_ANOTHER_MOCK = respx.Route().pass_through()

# What httpx's transports make of httpcore's errors (the message kept, the original as the cause).
_HTTPX_ERRORS: dict[type[BaseException], type[httpx.TransportError]] = {
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
}


class _TransportMocker(AbstractRequestMocker):
    """respx's request mocker, patching httpx's own transports instead of httpcore's pools: the
    request and the response are httpx's already, so nothing is converted either way."""

    name = "exchange-chaos-httpx-transports"
    targets = ["httpx.HTTPTransport", "httpx.AsyncHTTPTransport"]
    target_methods = ["handle_request", "handle_async_request"]

    @classmethod
    def to_httpx_request(cls, **kwargs: Any) -> httpx.Request:
        request: httpx.Request = kwargs["request"]
        return request

    @classmethod
    def from_sync_httpx_response(
        cls, httpx_response: httpx.Response, target: Any, **kwargs: Any
    ) -> httpx.Response:
        return httpx_response

    @classmethod
    async def from_async_httpx_response(
        cls, httpx_response: httpx.Response, target: Any, **kwargs: Any
    ) -> httpx.Response:
        return httpx_response


# The async pools a bot's httpx.AsyncClient sends through (plain, or through a proxy). Their
# connections are patched by respx too, but a pool is always asked first.
_ASYNC_POOLS: tuple[type[Any], ...] = (httpcore.AsyncConnectionPool, httpcore.AsyncHTTPProxy)


class _RealIoWindow:
    """Opened by the router in httpcore's pools when it lets a request through to an allowed
    host (the transport router above it has let it through already, with no window to open);
    closed by the pool call once that request's body is read."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self.open = False

    def enter(self, clock: ChaosClock) -> None:
        # The pool's connection asks the router again: one window per pool call.
        if not self.open:
            self._stack.enter_context(clock.real_io())
            self.open = True

    def close(self) -> None:
        self._stack.close()


_window_of_this_call: contextvars.ContextVar[_RealIoWindow | None] = contextvars.ContextVar(
    "exchange_chaos_real_io_window", default=None
)

AsyncPoolCall = Callable[[Any, httpcore.Request], Awaitable[httpcore.Response]]


def _reading_passed_through_bodies(send: AsyncPoolCall) -> AsyncPoolCall:
    """On the virtual clock a loop with nothing ready jumps to its next timer: the client's own
    timeout while a real server is still answering. Keep the loop on real time from the moment
    the router lets a request through until its body is read, as the aiohttp transport does."""

    async def handle_async_request(pool: Any, request: httpcore.Request) -> httpcore.Response:
        window = _RealIoWindow()
        token = _window_of_this_call.set(window)
        try:
            response = await send(pool, request)
            if not window.open:  # answered by a venue or a mock: nothing real to wait for
                return response
            try:
                body = await response.aread()
            finally:
                await response.aclose()
        finally:
            _window_of_this_call.reset(token)
            window.close()
        return httpcore.Response(
            status=response.status, headers=response.headers, content=body, extensions=response.extensions
        )

    return handle_async_request


def timeouts(request: httpx.Request) -> ClientTimeouts:
    """httpx's per-phase timeouts; it has no total one (each read waits ``read`` afresh)."""
    timeout: dict[str, float | None] = request.extensions.get("timeout") or {}
    return ClientTimeouts(connect=timeout.get("connect"), read=timeout.get("read"))


def _header_dict(headers: httpx.Headers) -> dict[str, str]:
    # ``dict(headers.items())`` decodes through a property per name and value, a third of the
    # transport's cost per request; venues look headers up case-insensitively anyway.
    raw = headers.raw
    try:
        decoded = {name.decode("ascii"): value.decode("ascii") for name, value in raw}
    except UnicodeDecodeError:  # httpx's own fallback encodings
        return dict(headers.items())
    if len(set(map(str.lower, decoded))) != len(raw):  # repeated, in any case: httpx joins them
        return dict(headers.items())
    return decoded


def _network_error(outcome: Outcome, request: httpx.Request) -> BaseException:
    kind = outcome.network
    if kind == "unserved":
        return UnservedRequestError(outcome.message)
    if kind == "connection_reset":
        return httpcore.ConnectError("[Errno 104] Connection reset by peer")
    if kind == "connect_timeout":
        return httpcore.ConnectTimeout("timed out")
    if kind in ("read_timeout", "total_timeout"):
        return httpcore.ReadTimeout("The read operation timed out")
    # dns_failure: httpcore reports the resolver's gaierror as a ConnectError.
    return httpcore.ConnectError("[Errno -3] Temporary failure in name resolution")


def _response(outcome: Outcome) -> httpx.Response:
    assert outcome.status is not None
    # As bytes, which httpx keeps as they are (it encodes str ones as ASCII, the same bytes).
    headers = []
    sized = False
    for name, value in outcome.headers.items():
        headers.append((name.encode("ascii"), value.encode("ascii")))
        sized = sized or name.lower() == "content-length"
    # What ``content=`` would add, without reading the body into this response: respx hands
    # only its stream and headers on to httpcore, and httpx reads the body from there.
    if outcome.body and not sized:
        headers.append((b"Content-Length", str(len(outcome.body)).encode("ascii")))
    return httpx.Response(
        outcome.status,
        headers=headers,
        stream=httpx.ByteStream(outcome.body),
        # httpx derives a phrase from the status only when the server sent none, and knows
        # none for Cloudflare's 52x: carry the gateway's own, as a real response would.
        extensions={
            "reason_phrase": outcome.reason.encode("ascii", errors="replace"),
            "http_version": b"HTTP/1.1",
        },
    )


class _ChaosRouter(respx.MockRouter):
    """One router answering everything; it overrides the handlers rather than using a route with
    a side effect, because one side effect cannot both block (sync clients) and await (async
    ones), and respx tells the two apart only by which handler it calls."""

    def __init__(self, engine: ChaosEngine, *, at_transport: bool) -> None:
        using = _TransportMocker.name if at_transport else "httpcore"
        super().__init__(assert_all_called=False, assert_all_mocked=True, using=using)
        self._engine = engine
        self._at_transport = at_transport

    def handler(self, request: httpx.Request) -> httpx.Response:
        outcome = self._decide(request)
        if outcome.delay > 0:
            self._engine.clock.sleep(outcome.delay)
        return self._render(outcome, request)

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        outcome = self._decide(request)
        if outcome.delay > 0:
            # On the chaos clock's event loop this jumps ahead at once; it also lets the bot's
            # other tasks run meanwhile, as a real wait on the socket would.
            await asyncio.sleep(outcome.delay)
        return self._render(outcome, request)

    def _decide(self, request: httpx.Request) -> Outcome:
        url = str(request.url)
        if self._engine.passes_through(url):
            window = _window_of_this_call.get()
            if window is not None:
                window.enter(self._engine.clock)
            raise PassThrough(f"exchange-chaos lets {url} through", request=request, origin=_ALLOWED_HOST)
        if self._another_router_mocks(request):
            # Stepping aside lets the test's own respx mock answer the URLs it set up: from the
            # transport, down to httpcore where respx's routers are; among those, to the next.
            message = f"exchange-chaos defers {url} to the test's own respx mock"
            if self._at_transport:
                raise PassThrough(message, request=request, origin=_ANOTHER_MOCK)
            raise AllMockedAssertionError(message)
        exchange_request = ExchangeRequest(
            method=request.method.upper(),
            url=url,
            headers=_header_dict(request.headers),
            body=request.content,
            client="httpx",
        )
        return self._engine.handle(exchange_request, timeouts(request))

    def _another_router_mocks(self, request: httpx.Request) -> bool:
        routers = [router for mocker in Mocker.registry.values() for router in mocker.routers]
        for router in routers:
            if isinstance(router, _ChaosRouter):
                continue
            for route in router.routes:
                # A pass-through route would take the request to the network: the chaos test
                # answers it instead (a venue, or the guard).
                if route.is_pass_through:
                    continue
                pattern: Any = route.pattern
                if pattern is None or pattern.match(request):
                    return True
        return False

    def _render(self, outcome: Outcome, request: httpx.Request) -> httpx.Response:
        if outcome.network is not None:
            error = _network_error(outcome, request)
            as_httpx = _HTTPX_ERRORS.get(type(error)) if self._at_transport else None
            if as_httpx is not None:
                raise as_httpx(str(error)) from error
            raise error
        return _response(outcome)


class HttpxTransport:
    name = "httpx"

    def __init__(self, engine: ChaosEngine) -> None:
        self._engine = engine
        self._router = _ChaosRouter(engine, at_transport=True)
        self._backstop = _ChaosRouter(engine, at_transport=False)
        self._unwrap: list[tuple[type[Any], Any]] = []

    def start(self) -> None:
        self._backstop.start()
        self._router.start()
        if self._engine.clock.virtual:
            # Wrapped over respx's own patch, so it is undone before respx's. Always: a loopback
            # host (a bot's own test server) passes through without being allowed.
            for pool in _ASYNC_POOLS:
                send = pool.__dict__.get("handle_async_request")
                if send is None:  # a pool class this respx does not patch: nothing to wrap
                    continue
                self._unwrap.append((pool, send))
                pool.handle_async_request = _reading_passed_through_bodies(send)

    def stop(self) -> None:
        while self._unwrap:
            pool, send = self._unwrap.pop()
            pool.handle_async_request = send
        self._router.stop(quiet=True)
        self._backstop.stop(quiet=True)


def make_transport(engine: ChaosEngine) -> HttpxTransport:
    return HttpxTransport(engine)
