"""Exchanges in the box: real, unmodified ccxt with keys, already inside the chaos.

``chaos_binanceusdm``, ``chaos_binance`` (spot) and ``chaos_bybit`` are ``ccxt.async_support``
exchanges, closed on the test's own event loop when it ends; the ``..._sync`` fixtures are their
``ccxt`` (requests) twins. Each depends on ``exchange_chaos``, so the exchange talks to the
simulated venues from its first request. ccxt is imported when a fixture is used, never before:
the plugin loads without it.

The async fixtures are plain fixtures returning the exchange, so they work under any async test
runner and in pytest-asyncio's strict and auto modes alike (an ``async def`` fixture would need
``@pytest_asyncio.fixture``, and with it pytest-asyncio installed for the plugin to load at all).
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import asyncio

    from pytest_exchange_chaos.controller import ChaosController

__all__ = [
    "API_KEYS",
    "chaos_binance",
    "chaos_binance_sync",
    "chaos_binanceusdm",
    "chaos_binanceusdm_sync",
    "chaos_bybit",
    "chaos_bybit_sync",
]

# The oldest ccxt the project's whole suite passes with (tox's `oldest` env), and the extra's pin.
OLDEST_CCXT = (4, 4, 96)

# Signed endpoints need keys; the simulated venues check their shape, never their value.
API_KEYS = {"apiKey": "chaos-key-0123456789", "secret": "chaos-secret-abcdef"}

INSTALL_CCXT = 'pip install "pytest-exchange-chaos[ccxt]"'


def ccxt_too_old(version: str) -> str | None:
    """Why ccxt ``version`` is not supported, or None when it is."""
    parts = tuple(int(part) for part in re.findall(r"\d+", version)[:3])
    if not parts or parts >= OLDEST_CCXT:
        # No version to read (a vendored or patched ccxt) is not evidence of an old one.
        return None
    oldest = ".".join(map(str, OLDEST_CCXT))
    return (
        f"ccxt {version} is older than the oldest ccxt pytest-exchange-chaos supports ({oldest}, "
        "tested in its CI): older ccxt sends requests and reads answers the simulated venues are not "
        f'tested against, so its chaos tests would prove little. Upgrade with: pip install "ccxt>={oldest}"'
    )


def _import(module: str, fixture: str) -> Any:
    try:
        imported = importlib.import_module(module)
    except ImportError as error:
        problem = str(error)
    else:
        too_old = ccxt_too_old(str(getattr(sys.modules["ccxt"], "__version__", "")))
        if too_old is None:
            return imported
        pytest.fail(too_old, pytrace=False)
    # Outside the except: the import's own traceback would bury the one line that matters.
    pytest.fail(
        f"the {fixture} fixture needs ccxt ({module}), which cannot be imported here ({problem}); "
        f"install it with: {INSTALL_CCXT}",
        pytrace=False,
    )


class _CloseOnTheLoop:
    """Closes an async exchange on the event loop it ran on.

    A plain fixture's teardown runs after the async plugin has closed the test's loop, too late to
    await ``exchange.close()``. So the first time the exchange opens its session, a task starts on
    that loop and waits; the loop's shutdown (``asyncio.run``, pytest-asyncio's runner) cancels
    it, and it closes the exchange there, before the loop is gone.
    """

    def __init__(self, exchange: Any) -> None:
        self.exchange = exchange
        self.task: asyncio.Task[None] | None = None
        opener: Callable[..., Any] = exchange.open

        def open_and_arm(*args: Any, **kwargs: Any) -> Any:
            self._arm()
            return opener(*args, **kwargs)

        # ccxt calls open() before every request, on the running loop: the first call tells us
        # which loop the session will live on.
        exchange.open = open_and_arm

    def _arm(self) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        if self.task is None or self.task.get_loop() is not loop:
            self.task = loop.create_task(self._close_when_cancelled(), name=f"close {self.exchange.id}")

    async def _close_when_cancelled(self) -> None:
        import asyncio

        try:
            await asyncio.Event().wait()
        finally:
            await self.exchange.close()

    def close_now(self) -> None:
        """At teardown: close now if the loop is still open and idle (a module- or session-scoped
        loop); a closed loop already closed the exchange, a running one will."""
        task = self.task
        if task is None or task.done():
            return
        loop = task.get_loop()
        if loop.is_closed() or loop.is_running():
            return
        task.cancel()
        import asyncio

        loop.run_until_complete(asyncio.gather(task, return_exceptions=True))


def _async_exchange(exchange_id: str, fixture: str) -> Iterator[Any]:
    ccxt_async = _import("ccxt.async_support", fixture)
    exchange = getattr(ccxt_async, exchange_id)(dict(API_KEYS))
    closer = _CloseOnTheLoop(exchange)
    try:
        yield exchange
    finally:
        closer.close_now()


def _sync_exchange(exchange_id: str, fixture: str) -> Iterator[Any]:
    ccxt = _import("ccxt", fixture)
    exchange = getattr(ccxt, exchange_id)(dict(API_KEYS))
    try:
        yield exchange
    finally:
        exchange.session.close()


@pytest.fixture
def chaos_binanceusdm(exchange_chaos: ChaosController) -> Iterator[Any]:
    """Async ccxt ``binanceusdm`` (aiohttp) with API keys, inside the chaos; closed when the
    test's event loop ends."""
    yield from _async_exchange("binanceusdm", "chaos_binanceusdm")


@pytest.fixture
def chaos_binance(exchange_chaos: ChaosController) -> Iterator[Any]:
    """Async ccxt ``binance`` (aiohttp, spot: the ``binance`` venue) with API keys, inside the
    chaos; closed when the test's event loop ends."""
    yield from _async_exchange("binance", "chaos_binance")


@pytest.fixture
def chaos_binance_sync(exchange_chaos: ChaosController) -> Iterator[Any]:
    """Sync ccxt ``binance`` (requests, spot) with API keys, inside the chaos; its session closed
    afterwards."""
    yield from _sync_exchange("binance", "chaos_binance_sync")


@pytest.fixture
def chaos_bybit(exchange_chaos: ChaosController) -> Iterator[Any]:
    """Async ccxt ``bybit`` (aiohttp, linear USDT perpetuals and spot) with API keys, inside the chaos;
    closed when the test's event loop ends."""
    yield from _async_exchange("bybit", "chaos_bybit")


@pytest.fixture
def chaos_binanceusdm_sync(exchange_chaos: ChaosController) -> Iterator[Any]:
    """Sync ccxt ``binanceusdm`` (requests) with API keys, inside the chaos; its session closed
    afterwards."""
    yield from _sync_exchange("binanceusdm", "chaos_binanceusdm_sync")


@pytest.fixture
def chaos_bybit_sync(exchange_chaos: ChaosController) -> Iterator[Any]:
    """Sync ccxt ``bybit`` (requests) with API keys, inside the chaos; its session closed
    afterwards."""
    yield from _sync_exchange("bybit", "chaos_bybit_sync")


def _async_plugin_advice(config: pytest.Config) -> str:
    if config.pluginmanager.hasplugin("asyncio"):
        return (
            "pytest-asyncio is installed but runs only marked tests in its strict mode: add "
            "@pytest.mark.asyncio to the test, or set asyncio_mode = auto in your pytest ini"
        )
    return (
        'install pytest-asyncio (pip install "pytest-exchange-chaos[ccxt]" pytest-asyncio), then '
        "add @pytest.mark.asyncio to the test or set asyncio_mode = auto in your pytest ini"
    )


@pytest.hookimpl
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Only a ccxt already imported is read (the bot's own import, or a fixture's): free, and a
    # suite without ccxt or without chaos tests is not touched.
    ccxt = sys.modules.get("ccxt")
    if ccxt is None or "exchange_chaos" not in getattr(item, "fixturenames", ()):
        return
    problem = ccxt_too_old(str(getattr(ccxt, "__version__", "")))
    if problem is not None:
        pytest.fail(problem, pytrace=False)


@pytest.hookimpl
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> None:
    # An async plugin that runs the test answers before this hook (anyio, trio) or has already
    # swapped the coroutine for a function that runs it (pytest-asyncio). One still here would be
    # skipped or failed by pytest with a list of frameworks; a chaos test says what to do.
    import inspect

    function = pyfuncitem.obj
    if not (inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)):
        return
    if "exchange_chaos" not in pyfuncitem.fixturenames:
        return
    pytest.fail(
        f"{pyfuncitem.name} is an async def chaos test, but no async plugin ran it, so nothing "
        f"was tested: {_async_plugin_advice(pyfuncitem.config)}",
        pytrace=False,
    )
