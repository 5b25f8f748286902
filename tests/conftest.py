from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

pytest_plugins = ["pytester"]

# The example bots are what a user writes; the tests drive the same code.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

API_KEYS = {"apiKey": "test-key-0123456789", "secret": "test-secret-abcdef"}


@pytest_asyncio.fixture
async def binance(exchange_chaos: object) -> AsyncIterator[object]:
    """Real, unmodified async ccxt binanceusdm, with keys, closed afterwards."""
    import ccxt.async_support as ccxt_async

    exchange = ccxt_async.binanceusdm(dict(API_KEYS))
    try:
        yield exchange
    finally:
        await exchange.close()


@pytest.fixture
def chaos_pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester whose inner runs are configured like a bot author's suite: strict warnings."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nfilterwarnings =\n    error\n")
    return pytester


@pytest_asyncio.fixture
async def bybit(exchange_chaos: object) -> AsyncIterator[object]:
    """Real, unmodified async ccxt bybit, with keys, closed afterwards."""
    import ccxt.async_support as ccxt_async

    exchange = ccxt_async.bybit(dict(API_KEYS))
    try:
        yield exchange
    finally:
        await exchange.close()
