"""The exchange fixtures the example bots' tests use: real, unmodified ccxt, built as a bot builds it.

Copy this file into your own suite: a chaos test gets the ``exchange_chaos`` fixture first, so
these exchanges already talk to the simulated venues.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import pytest
import pytest_asyncio

# Keys are needed for signed endpoints; the simulated venue checks their shape, never their value.
API_KEYS = {"apiKey": "example-key-0123456789", "secret": "example-secret-abcdef"}


@pytest_asyncio.fixture
async def binance(exchange_chaos: Any) -> AsyncIterator[Any]:
    """Async ccxt binanceusdm (aiohttp), closed afterwards."""
    exchange = ccxt_async.binanceusdm(dict(API_KEYS))
    try:
        yield exchange
    finally:
        await exchange.close()


@pytest_asyncio.fixture
async def bybit(exchange_chaos: Any) -> AsyncIterator[Any]:
    """Async ccxt bybit (aiohttp, linear USDT perpetuals), closed afterwards."""
    exchange = ccxt_async.bybit(dict(API_KEYS))
    try:
        yield exchange
    finally:
        await exchange.close()


@pytest.fixture
def binance_sync(exchange_chaos: Any) -> Iterator[Any]:
    """Sync ccxt binanceusdm (requests), its session closed afterwards."""
    exchange = ccxt.binanceusdm(dict(API_KEYS))
    try:
        yield exchange
    finally:
        exchange.session.close()
