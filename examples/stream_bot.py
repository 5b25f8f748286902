"""A bot that enters over REST and hears about its fills on ccxt.pro's ``watch_orders``.

It places a limit entry, waits for the stream to say it filled, then places the stop-loss. The
reconciling bot treats the stream as news, not as the truth: after a gap (the connection
dropped, or no word about the order for ``patience`` seconds) it reads the order back over REST.
The naive bot trusts the stream: a fill whose message never arrived never happened, and the
position it opened runs on without a stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import ccxt


class StreamBot:
    def __init__(self, exchange: Any, *, reconciling: bool, patience: float = 60.0) -> None:
        self.exchange = exchange  # ccxt.pro, async
        self.reconciling = reconciling
        self.patience = patience
        self.orders: dict[str, dict[str, Any]] = {}
        """Every order as the bot last knew it, by id."""
        self.gaps = 0
        """How many times the order stream broke (ccxt reconnects on the next watch)."""
        self._news = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None

    async def start(self, symbol: str) -> None:
        await self.exchange.load_markets()
        self._watcher = asyncio.create_task(self._watch(symbol))
        # ccxt sends the subscription from a task of its own: give it a moment to go out.
        await asyncio.sleep(1)

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    async def _watch(self, symbol: str) -> None:
        while True:
            try:
                updates = await self.exchange.watch_orders(symbol)
            except ccxt.NetworkError:
                self.gaps += 1  # the connection dropped, or a reconnect was refused
                self._news.set()
                await asyncio.sleep(1)
                continue
            for order in updates:
                self.orders[order["id"]] = order
            self._news.set()

    async def enter(self, symbol: str, side: str, amount: float, price: float, *, stop: float) -> bool:
        """A limit entry, then its stop-loss once it filled. True when the stop was placed."""
        entry = await self.exchange.create_order(symbol, "limit", side, amount, price)
        self.orders.setdefault(entry["id"], entry)
        if not await self._filled(entry["id"], symbol):
            return False
        closing = "sell" if side == "buy" else "buy"
        await self.exchange.create_order(
            symbol, "market", closing, amount, None, {"stopLossPrice": stop, "reduceOnly": True}
        )
        return True

    async def _filled(self, order_id: str, symbol: str) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.patience
        gaps = self.gaps
        while (status := self.orders[order_id].get("status")) not in ("closed", "canceled", "expired"):
            if self.reconciling and self.gaps > gaps:
                gaps = self.gaps
                await self._read_back(order_id, symbol)  # news may have been lost in the gap
                continue
            self._news.clear()
            try:
                await asyncio.wait_for(self._news.wait(), deadline - loop.time())
            except asyncio.TimeoutError:
                if not self.reconciling:
                    return False  # no news: as far as this bot knows, it never filled
                await self._read_back(order_id, symbol)
                return self.orders[order_id]["status"] == "closed"
        return status == "closed"

    async def _read_back(self, order_id: str, symbol: str) -> None:
        # Bybit answers a lookup of any order only when told the caller knows it can be old.
        params = {"acknowledged": True} if self.exchange.id == "bybit" else {}
        self.orders[order_id] = await self.exchange.fetch_order(order_id, symbol, params)
