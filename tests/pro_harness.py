"""Closing a ccxt.pro exchange at the end of a test, for every ccxt the project supports."""

from __future__ import annotations

import asyncio
from typing import Any

from pytest_exchange_chaos.controller import ChaosController
from pytest_exchange_chaos.streams import StreamHub


def hub_of(controller: ChaosController) -> StreamHub:
    """The test's stream hub: it exists once the bot opened a stream."""
    hub = StreamHub.existing(controller._engine)
    assert hub is not None, "the bot opened no stream"
    return hub


async def close_for_good(exchange: Any) -> None:
    """``exchange.close()``, then again once the tasks ccxt spawned have ended: ccxt.pro binance
    before 4.5 loads a positions snapshot from a task of its own (``load_positions_snapshot``)
    that can run after ``close()`` and open a new HTTP session, which then leaks."""
    await exchange.close()
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    if others:
        await asyncio.wait(others, timeout=1)
    await exchange.close()
