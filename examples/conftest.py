"""Short names for the exchanges the example bots' tests use.

The plugin ships the exchanges themselves, real and unmodified ccxt with keys, already inside the
chaos: ``chaos_binanceusdm`` and ``chaos_bybit`` (async, closed on the test's event loop) and
``chaos_binanceusdm_sync`` and ``chaos_bybit_sync`` (requests). A suite needs no conftest to use
them; this one only gives them the names the examples were written with.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def binance(chaos_binanceusdm: Any) -> Any:
    """Async ccxt binanceusdm (aiohttp), the plugin's ``chaos_binanceusdm``."""
    return chaos_binanceusdm


@pytest.fixture
def bybit(chaos_bybit: Any) -> Any:
    """Async ccxt bybit (aiohttp, linear USDT perpetuals), the plugin's ``chaos_bybit``."""
    return chaos_bybit


@pytest.fixture
def binance_sync(chaos_binanceusdm_sync: Any) -> Any:
    """Sync ccxt binanceusdm (requests), the plugin's ``chaos_binanceusdm_sync``."""
    return chaos_binanceusdm_sync
