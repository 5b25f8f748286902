from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

import pytest_exchange_chaos

pytest_plugins = ["pytester"]

# The plugin imports most of itself on first use. pytester's in-process runs drop every module
# first imported inside them, while the package object keeps its attributes to the dropped
# copies, so a later run would mix two generations of the same classes. Importing everything
# here, before any run, gives all runs one copy.
for _module in pkgutil.walk_packages(pytest_exchange_chaos.__path__, "pytest_exchange_chaos."):
    importlib.import_module(_module.name)

# The example bots are what a user writes; the tests drive the same code.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

API_KEYS = {"apiKey": "test-key-0123456789", "secret": "test-secret-abcdef"}


@pytest_asyncio.fixture
async def binance_pro(exchange_chaos: object) -> AsyncIterator[object]:
    """Real, unmodified ccxt.pro binanceusdm, with keys, closed afterwards (for good)."""
    import ccxt.pro
    from pro_harness import close_for_good

    exchange = ccxt.pro.binanceusdm(dict(API_KEYS))
    try:
        yield exchange
    finally:
        await close_for_good(exchange)


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
