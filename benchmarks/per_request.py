"""Section 1: what one request costs through the plugin, against the bare mocking libraries.

Three clients, each with the same calls on every side:

- ``ccxt async``: ``binanceusdm.create_order`` over aiohttp; bare side aioresponses;
- ``ccxt sync``: ``binanceusdm.create_order`` over requests; bare side responses;
- ``httpx``: a small REST client posting an order; bare side respx.

The plugin side answers with the simulated exchange (no fault active: the order is validated,
filled, journalled). The bare side answers every call with the plugin's own reply to the same
order, captured once, so both sides parse the same bytes. The floor replaces the ccxt
instance's ``fetch`` with a function returning that reply already parsed: no HTTP layer at all.
Rate limiting is off on every side (it would only measure ccxt's sleeps).
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import ccxt
import ccxt.async_support as ccxt_async
import httpx
import responses
import respx
from aioresponses import aioresponses
from harness import Result, Section, chaos_session, interleave, median, paired_ratio, perf_counter

__all__ = ["run"]

SYMBOL = "BTC/USDT:USDT"
AMOUNT = 0.01
KEYS: dict[str, Any] = {
    "apiKey": "bench-key-0123456789",
    "secret": "bench-secret-abcdef",
    "enableRateLimit": False,
}
BASE = "https://fapi.binance.com"
ORDER_URL = re.compile(r"^https://fapi\.binance\.com/fapi/v1/order(\?.*)?$")
JSON_HEADERS = {"Content-Type": "application/json"}
WARMUP = 25
RATIO_TARGET = 1.25


@dataclass
class Fixtures:
    """Captured once from the plugin: the markets ccxt loads and the replies to one order."""

    markets: Any
    currencies: Any
    ccxt_reply: bytes
    httpx_reply: bytes


def _side(index: int) -> str:
    return "buy" if index % 2 == 0 else "sell"


def _ccxt_exchange(fixtures: Fixtures, module: Any) -> Any:
    exchange = module.binanceusdm(dict(KEYS))
    exchange.set_markets(copy.deepcopy(fixtures.markets), copy.deepcopy(fixtures.currencies))
    return exchange


def _order_form() -> dict[str, str]:
    # The venue checks recvWindow against the (chaos) wall clock, not the signature.
    return {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "MARKET",
        "quantity": "0.010",
        "timestamp": str(int(time.time() * 1000)),
        "signature": "0" * 64,
    }


class RestClient:
    """The kind of thin client bots write when they do not use ccxt."""

    def __init__(self) -> None:
        self.http = httpx.Client(base_url=BASE, timeout=httpx.Timeout(5.0))

    def order(self, side: str) -> dict[str, Any]:
        form = _order_form()
        form["side"] = side.upper()
        response = self.http.post("/fapi/v1/order", data=form, headers={"X-MBX-APIKEY": "bot-key"})
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def close(self) -> None:
        self.http.close()


def capture() -> Fixtures:
    with chaos_session():
        exchange = ccxt.binanceusdm(dict(KEYS))
        try:
            exchange.load_markets()
            exchange.create_order(SYMBOL, "market", "buy", AMOUNT)
            ccxt_reply = str(exchange.last_http_response).encode()
            markets, currencies = copy.deepcopy(exchange.markets), copy.deepcopy(exchange.currencies)
        finally:
            exchange.session.close()
        client = RestClient()
        try:
            httpx_reply = client.http.post(
                "/fapi/v1/order", data=_order_form(), headers={"X-MBX-APIKEY": "bot-key"}
            ).content
        finally:
            client.close()
    json.loads(ccxt_reply)
    json.loads(httpx_reply)
    return Fixtures(markets, currencies, ccxt_reply, httpx_reply)


# -- ccxt async over aiohttp ---------------------------------------------------------------------


_NEEDS_STREAM_WRITER = "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters


class _SentRequestWriter:
    output_size = 0
    buffer_size = 0


class _Aiohttp314Response(aiohttp.ClientResponse):
    """aioresponses 0.7.9 omits the ``stream_writer`` aiohttp 3.14 requires: the shim a user of
    bare aioresponses on aiohttp 3.14 needs too. A plain ClientResponse on older aiohttp."""

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        if _NEEDS_STREAM_WRITER:
            kwargs.setdefault("stream_writer", _SentRequestWriter())
        super().__init__(method, url, **kwargs)


async def _ccxt_async_calls(exchange: Any, n: int) -> float:
    try:
        for index in range(WARMUP):
            await exchange.create_order(SYMBOL, "market", _side(index), AMOUNT)
        start = perf_counter()
        for index in range(n):
            await exchange.create_order(SYMBOL, "market", _side(index), AMOUNT)
        return perf_counter() - start
    finally:
        await exchange.close()


def ccxt_async_sides(fixtures: Fixtures, n: int) -> list[tuple[str, Callable[[], float]]]:
    def plugin() -> float:
        with chaos_session():
            return asyncio.run(_ccxt_async_calls(_ccxt_exchange(fixtures, ccxt_async), n))

    def bare() -> float:
        with aioresponses() as mock:
            mock.post(ORDER_URL, body=fixtures.ccxt_reply, repeat=True, response_class=_Aiohttp314Response)
            return asyncio.run(_ccxt_async_calls(_ccxt_exchange(fixtures, ccxt_async), n))

    def floor() -> float:
        async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
            return json.loads(fixtures.ccxt_reply)

        exchange = _ccxt_exchange(fixtures, ccxt_async)
        exchange.fetch = fetch
        return asyncio.run(_ccxt_async_calls(exchange, n))

    return [("plugin", plugin), ("bare", bare), ("floor", floor)]


# -- ccxt sync over requests ---------------------------------------------------------------------


def _ccxt_sync_calls(exchange: Any, n: int) -> float:
    try:
        for index in range(WARMUP):
            exchange.create_order(SYMBOL, "market", _side(index), AMOUNT)
        start = perf_counter()
        for index in range(n):
            exchange.create_order(SYMBOL, "market", _side(index), AMOUNT)
        return perf_counter() - start
    finally:
        exchange.session.close()


def ccxt_sync_sides(fixtures: Fixtures, n: int) -> list[tuple[str, Callable[[], float]]]:
    def plugin() -> float:
        with chaos_session():
            return _ccxt_sync_calls(_ccxt_exchange(fixtures, ccxt), n)

    def bare() -> float:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            mock.add(responses.POST, ORDER_URL, body=fixtures.ccxt_reply, content_type="application/json")
            return _ccxt_sync_calls(_ccxt_exchange(fixtures, ccxt), n)

    def floor() -> float:
        def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
            return json.loads(fixtures.ccxt_reply)

        exchange = _ccxt_exchange(fixtures, ccxt)
        exchange.fetch = fetch
        return _ccxt_sync_calls(exchange, n)

    return [("plugin", plugin), ("bare", bare), ("floor", floor)]


# -- a small httpx client ------------------------------------------------------------------------


def _httpx_calls(n: int) -> float:
    client = RestClient()
    try:
        for index in range(WARMUP):
            client.order(_side(index))
        start = perf_counter()
        for index in range(n):
            client.order(_side(index))
        return perf_counter() - start
    finally:
        client.close()


def httpx_sides(fixtures: Fixtures, n: int) -> list[tuple[str, Callable[[], float]]]:
    def plugin() -> float:
        with chaos_session():
            return _httpx_calls(n)

    def bare() -> float:
        with respx.mock(assert_all_called=False) as mock:
            mock.post(url__regex=ORDER_URL.pattern).mock(
                return_value=httpx.Response(200, content=fixtures.httpx_reply, headers=JSON_HEADERS)
            )
            return _httpx_calls(n)

    return [("plugin", plugin), ("bare", bare)]


CLIENTS: list[tuple[str, str, Callable[[Fixtures, int], list[tuple[str, Callable[[], float]]]]]] = [
    ("ccxt async (aiohttp)", "aioresponses", ccxt_async_sides),
    ("ccxt sync (requests)", "responses", ccxt_sync_sides),
    ("httpx client", "respx", httpx_sides),
]


def run(*, n: int, rounds: int, progress: Callable[[str], None]) -> Section:
    section = Section(f"1. Per-request cost ({n:,} calls per side, {rounds} interleaved rounds)")
    fixtures = capture()
    for client, bare_name, make_sides in CLIENTS:

        def report(step: str, client: str = client) -> None:
            progress(f"{client}: {step}")

        samples = interleave(make_sides(fixtures, n), rounds, progress=report)
        per_call = {side: median(times) / n * 1e6 for side, times in samples.items()}
        ratio = paired_ratio(samples["plugin"], samples["bare"])
        detail = f"plugin {per_call['plugin']:.0f} µs, {bare_name} {per_call['bare']:.0f} µs per call"
        if "floor" in samples:
            detail += f", floor {per_call['floor']:.0f} µs"
        section.add(
            Result(
                f"{client}: plugin / bare {bare_name}",
                ratio,
                "x",
                target=f"<= {RATIO_TARGET}",
                met=ratio <= RATIO_TARGET,
                detail=detail,
            )
        )
        if "floor" in samples:
            section.add(
                Result(
                    f"{client}: plugin / floor (no HTTP layer)",
                    paired_ratio(samples["plugin"], samples["floor"]),
                    "x",
                    detail=f"bare / floor {paired_ratio(samples['bare'], samples['floor']):.3f}",
                )
            )
    return section
