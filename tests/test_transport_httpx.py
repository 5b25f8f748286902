"""httpx through the plugin: a small REST client of the kind bots write, sync and async.

It talks to the Binance venue's real host and paths; faults come back as httpx's own
responses and exceptions, after httpx's own configured timeouts on the chaos clock.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpcore
import httpx
import pytest

from pytest_exchange_chaos import Burst, Wave, faults
from pytest_exchange_chaos.errors import UnservedRequestError
from pytest_exchange_chaos.transports.httpx import _header_dict

BASE = "https://fapi.binance.com"
TICKER = "/fapi/v1/ticker/price"
TIMEOUT = httpx.Timeout(5.0, connect=1.5, read=2.5)


def signed_order(side: str = "BUY") -> dict[str, str]:
    # The venue checks recvWindow against the (chaos) wall clock, not the signature.
    return {
        "symbol": "BTCUSDT",
        "side": side,
        "type": "MARKET",
        "quantity": "0.01",
        "timestamp": str(int(time.time() * 1000)),
        "signature": "0" * 64,
    }


class SyncRest:
    """The bot's own client: a thin wrapper, the way SDKs other than ccxt look."""

    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self.http = httpx.Client(base_url=BASE, timeout=TIMEOUT, transport=transport)

    def price(self) -> float:
        response = self.http.get(TICKER, params={"symbol": "BTCUSDT"})
        response.raise_for_status()
        return float(response.json()["price"])

    def order(self) -> httpx.Response:
        return self.http.post("/fapi/v1/order", data=signed_order(), headers={"X-MBX-APIKEY": "bot-key"})


class AsyncRest:
    def __init__(self) -> None:
        self.http = httpx.AsyncClient(base_url=BASE, timeout=TIMEOUT)

    async def price(self) -> float:
        response = await self.http.get(TICKER, params={"symbol": "BTCUSDT"})
        response.raise_for_status()
        return float(response.json()["price"])


@pytest.mark.exchange_chaos
def test_the_sync_client_reads_the_venue_and_places_an_order(exchange_chaos: Any) -> None:
    rest = SyncRest()
    assert rest.http.get("/fapi/v1/time").json()["serverTime"] > 0
    assert rest.price() == 60_000.0
    placed = rest.order()
    assert placed.status_code == 200
    assert placed.reason_phrase == "OK"
    assert placed.json()["orderId"]
    assert [(r.client, r.intent) for r in exchange_chaos.journal] == [
        ("httpx", "market_data"),
        ("httpx", "market_data"),
        ("httpx", "entry"),
    ]
    (position,) = exchange_chaos.venue("binanceusdm").positions()
    assert position.side == "long"


@pytest.mark.exchange_chaos(Wave(0, "2m", faults.bad_gateway(), endpoint="GET /fapi/v1/*"))
def test_a_wave_of_502s_then_calm(exchange_chaos: Any) -> None:
    rest = SyncRest()
    seen: list[object] = []
    for _ in range(6):
        try:
            seen.append(rest.price())
        except httpx.HTTPStatusError as error:
            seen.append((error.response.status_code, error.response.reason_phrase, error.response.text[:36]))
        time.sleep(30)  # the bot's poll interval: 3 minutes of chaos time, no wall time
    gateway = (502, "Bad Gateway", "<html>\r\n<head><title>502 Bad Gateway")
    assert seen == [gateway] * 4 + [60_000.0, 60_000.0]
    assert exchange_chaos.now() == 180


@pytest.mark.exchange_chaos(Burst(3, faults.cloudflare(524)))
def test_a_burst_of_cloudflare_errors_keeps_cloudflares_reason_phrase(exchange_chaos: Any) -> None:
    rest = SyncRest()
    statuses = [rest.http.get("/fapi/v1/time") for _ in range(4)]
    phrases = [(r.status_code, r.reason_phrase) for r in statuses]
    assert phrases == [(524, "A Timeout Occurred")] * 3 + [(200, "OK")]
    assert statuses[0].text == "error code: 524"


@pytest.mark.exchange_chaos
@pytest.mark.parametrize(
    ("fault", "error", "message", "waited"),
    [
        (faults.read_timeout(), httpx.ReadTimeout, "The read operation timed out", 2.5),
        (faults.latency(60), httpx.ReadTimeout, "The read operation timed out", 2.5),
        (faults.connect_timeout(), httpx.ConnectTimeout, "timed out", 1.5),
        (faults.connection_reset(), httpx.ConnectError, "[Errno 104] Connection reset by peer", 0),
        (faults.dns_failure(), httpx.ConnectError, "[Errno -3] Temporary failure in name resolution", 0),
    ],
    ids=["read-timeout", "latency", "connect-timeout", "reset", "dns"],
)
def test_network_faults_are_httpx_exceptions_after_httpx_timeouts(
    exchange_chaos: Any, fault: Any, error: type[httpx.TransportError], message: str, waited: float
) -> None:
    exchange_chaos.add(Burst(1, fault))
    rest = SyncRest()
    with pytest.raises(error) as caught:
        rest.price()
    assert type(caught.value) is error
    assert str(caught.value) == message
    # As httpx's transport maps it: httpcore's error of the same name is the cause.
    assert type(caught.value.__cause__).__name__ == error.__name__
    assert type(caught.value.__cause__).__module__.startswith("httpcore")
    assert caught.value.request.url == f"{BASE}{TICKER}?symbol=BTCUSDT"
    assert exchange_chaos.now() == waited
    assert rest.price() == 60_000.0


@pytest.mark.exchange_chaos(Burst(1, faults.latency(2)))
def test_latency_within_the_timeout_just_delays(exchange_chaos: Any) -> None:
    assert SyncRest().price() == 60_000.0
    assert exchange_chaos.now() == 2


@pytest.mark.exchange_chaos(Burst(1, faults.read_timeout()))
def test_a_custom_transport_is_intercepted_too(exchange_chaos: Any) -> None:
    # A bot that builds its own HTTPTransport (retries, limits): the venues answer there.
    rest = SyncRest(transport=httpx.HTTPTransport(retries=2))
    with pytest.raises(httpx.ReadTimeout):
        rest.price()
    assert rest.price() == 60_000.0


class RetryOn502(httpx.BaseTransport):
    """A bot's own transport around httpx's: it retries gateway errors before the bot sees them."""

    def __init__(self, attempts: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.attempts = attempts
        self.retried = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(self.attempts - 1):
            response = self.inner.handle_request(request)
            if response.status_code != 502:
                return response
            response.close()
            self.retried += 1
        return self.inner.handle_request(request)


@pytest.mark.exchange_chaos(Burst(2, faults.bad_gateway()))
def test_a_transport_the_bot_wraps_around_httpx_s_own_still_runs(exchange_chaos: Any) -> None:
    retrying = RetryOn502(attempts=3)
    rest = SyncRest(transport=retrying)
    assert rest.price() == 60_000.0
    assert retrying.retried == 2
    assert [r.status for r in exchange_chaos.journal] == [502, 502, 200]


class StraightToHttpcore(httpx.BaseTransport):
    """A transport built on httpcore without httpx's HTTPTransport, as some proxy plugins are."""

    def __init__(self) -> None:
        self.pool = httpcore.ConnectionPool()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        answer = self.pool.handle_request(
            httpcore.Request(
                method=request.method,
                url=httpcore.URL(
                    scheme=request.url.raw_scheme,
                    host=request.url.raw_host,
                    port=request.url.port,
                    target=request.url.raw_path,
                ),
                headers=request.headers.raw,
                content=request.stream,
                extensions=request.extensions,
            )
        )
        return httpx.Response(answer.status, headers=answer.headers, content=answer.read())


@pytest.mark.exchange_chaos(Burst(1, faults.connection_reset()))
def test_a_transport_built_on_httpcore_alone_is_answered_too(exchange_chaos: Any) -> None:
    rest = SyncRest(transport=StraightToHttpcore())
    with pytest.raises(httpcore.ConnectError, match="Connection reset by peer"):
        rest.price()  # httpcore's own error: this transport maps nothing
    assert rest.price() == 60_000.0
    assert [r.fault for r in exchange_chaos.journal] == ["connection_reset", None]


# The refused request is cleared below, so nothing reached the venues on purpose.
@pytest.mark.exchange_chaos(expect_requests=False)
def test_the_guard_refuses_an_unserved_host(exchange_chaos: Any) -> None:
    url = "https://api.kraken.com/0/public/Time"
    with httpx.Client() as client, pytest.raises(UnservedRequestError, match=re.escape(f"GET {url}")):
        client.get(url)
    # Caught here, but the plugin fails the test anyway: see test_guard.py for that half.
    exchange_chaos._engine.unserved.clear()


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave(start=0, duration=60, fault=faults.bad_gateway(), endpoint=f"GET {TICKER}"))
async def test_the_async_client_lives_through_a_wave_and_a_reset(exchange_chaos: Any) -> None:
    rest = AsyncRest()
    seen: list[object] = []
    async with rest.http:
        for attempt in range(5):
            if attempt == 3:
                exchange_chaos.add(Burst(1, faults.connection_reset()))
            try:
                seen.append(await rest.price())
            except httpx.HTTPStatusError as error:
                seen.append(error.response.reason_phrase)
            except httpx.ConnectError as error:
                seen.append(str(error))
            await asyncio.sleep(20)
    assert seen == [
        "Bad Gateway",
        "Bad Gateway",
        "Bad Gateway",
        "[Errno 104] Connection reset by peer",
        60_000.0,
    ]
    assert {r.client for r in exchange_chaos.journal} == {"httpx"}


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.read_timeout()))
async def test_async_timeouts_wait_on_the_chaos_clock(exchange_chaos: Any) -> None:
    rest = AsyncRest()
    loop = asyncio.get_running_loop()
    async with rest.http:
        started = loop.time()
        with pytest.raises(httpx.ReadTimeout):
            await rest.price()
        assert loop.time() - started == pytest.approx(2.5)
        assert exchange_chaos.now() == pytest.approx(2.5)
        exchange_chaos.add(Burst(1, faults.connect_timeout()))
        with pytest.raises(httpx.ConnectTimeout):
            await rest.price()
        assert exchange_chaos.now() == pytest.approx(4.0)
        assert await rest.price() == 60_000.0


@pytest.mark.asyncio
# The refused request is cleared below, so nothing reached the venues on purpose.
@pytest.mark.exchange_chaos(expect_requests=False)
async def test_the_async_guard_refuses_an_unserved_host(exchange_chaos: Any) -> None:
    async with httpx.AsyncClient() as client:
        url = "https://www.okx.com/api/v5/public/time"
        with pytest.raises(UnservedRequestError, match=re.escape(f"GET {url} (sent with httpx)")):
            await client.get(url)
    # Caught here, but the plugin fails the test anyway: see test_guard.py for that half.
    exchange_chaos._engine.unserved.clear()


@pytest.mark.parametrize(
    "raw",
    [
        [(b"Host", b"fapi.binance.com"), (b"X-MBX-APIKEY", b"bot-key"), (b"Content-Length", b"12")],
        [(b"Accept", b"*/*"), (b"accept", b"application/json")],  # repeated: httpx joins them
        [(b"X-Note", "caf\u00e9".encode("latin-1"))],  # not ASCII: httpx's own decoding
        [(b"X-Odd", b"a\x00b"), (b"X-Next", b"c")],  # a NUL must not shift the pairs
        [],
    ],
)
def test_request_headers_read_as_httpx_reads_them(raw: list[tuple[bytes, bytes]]) -> None:
    headers = httpx.Headers(raw)
    # Names keep the case the bot sent them in; venues look them up in any case.
    assert {name.lower(): value for name, value in _header_dict(headers).items()} == dict(headers.items())
