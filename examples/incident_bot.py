"""A bot shaped like the one in the incident, in a naive and a hardened version.

Entries go through an exchange manager with a retry wrapper (5 tries, backoff 1, 2, 4, 8 s with
10% jitter, retrying ccxt's NetworkError). The naive bot's stop-loss manager calls the raw ccxt
object once; the hardened one sends stop-losses through the same wrapper, reusing one client
order id so that a retry after a ghost cannot place a second stop.

``open_with_stop`` is the atomic version a team writes after the incident: open a position and
protect it, or end flat. When the stop cannot be placed it closes the position again (the
rollback). The naive rollback is one raw call, so the outage that ate the stop eats the rollback
too; the hardened one goes through the retry wrapper.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import ccxt

log = logging.getLogger("incident_bot")

SYMBOLS = [
    "BTC/USDT:USDT",
    "ETH/USDT:USDT",
    "XRP/USDT:USDT",
    "DOGE/USDT:USDT",
    "TRX/USDT:USDT",
    "CHR/USDT:USDT",
    "XVG/USDT:USDT",
    "BSV/USDT:USDT",
    "VOXEL/USDT:USDT",
    "PROM/USDT:USDT",
]


class ExchangeManager:
    """The retry wrapper the incident's entries went through."""

    def __init__(
        self,
        exchange: Any,
        *,
        tries: int = 5,
        base_delay: float = 1.0,
        jitter: float = 0.1,
        rng: random.Random | None = None,
    ) -> None:
        self.exchange = exchange
        self.tries = tries
        self.base_delay = base_delay
        self.jitter = jitter
        self.rng = rng or random.Random(0)

    async def call(self, method: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, self.tries + 1):
            try:
                return await method(*args, **kwargs)
            except ccxt.NetworkError as error:
                if attempt == self.tries:
                    raise
                delay = (
                    self.base_delay * 2 ** (attempt - 1) * (1 + self.rng.uniform(-self.jitter, self.jitter))
                )
                log.warning(
                    "%s failed (%s), retry %d in %.2fs", method.__name__, type(error).__name__, attempt, delay
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")


class StopLossManager:
    """Naive: one raw call, as in the incident."""

    def __init__(self, exchange: Any, manager: ExchangeManager) -> None:
        self.exchange = exchange
        self.manager = manager

    async def place(self, symbol: str, side: str, amount: float, stop_price: float) -> Any:
        return await self.exchange.create_order(
            symbol, "STOP_MARKET", side, amount, None, {"stopPrice": stop_price, "reduceOnly": True}
        )

    async def flatten(self, symbol: str, side: str, amount: float) -> Any:
        """Close what a stop could not protect: one raw reduce-only market order."""
        return await self.exchange.create_order(symbol, "market", side, amount, None, {"reduceOnly": True})


class HardenedStopLossManager(StopLossManager):
    """Through the retry wrapper, with one client order id for every attempt of the same stop."""

    async def place(self, symbol: str, side: str, amount: float, stop_price: float) -> Any:
        params = {"stopPrice": stop_price, "reduceOnly": True, "clientOrderId": f"sl-{uuid.uuid4().hex[:20]}"}
        return await self.manager.call(
            self.exchange.create_order, symbol, "STOP_MARKET", side, amount, None, params
        )

    async def flatten(self, symbol: str, side: str, amount: float) -> Any:
        # Reduce-only, so a retry after a ghost can never flip the position the other way.
        params = {"reduceOnly": True, "clientOrderId": f"fl-{uuid.uuid4().hex[:20]}"}
        return await self.manager.call(
            self.exchange.create_order, symbol, "market", side, amount, None, params
        )


@dataclass
class TradeLog:
    opened: int = 0
    unprotected: list[str] = field(default_factory=list)
    failed_entries: int = 0


class IncidentBot:
    def __init__(self, exchange: Any, *, hardened: bool = False) -> None:
        self.exchange = exchange
        self.manager = ExchangeManager(exchange)
        stops = HardenedStopLossManager if hardened else StopLossManager
        self.stops = stops(exchange, self.manager)
        self.stop_ids: dict[str, str] = {}
        self.trades = TradeLog()

    async def open_position(self, symbol: str, side: str, amount: float, stop_distance: float = 0.02) -> None:
        try:
            entry = await self.manager.call(self.exchange.create_order, symbol, "market", side, amount)
        except ccxt.NetworkError:
            self.trades.failed_entries += 1
            log.error("entry on %s failed after retries", symbol)
            return
        self.trades.opened += 1
        price = float(entry["average"] or entry["price"])
        exit_side = "sell" if side == "buy" else "buy"
        stop = price * (1 - stop_distance) if side == "buy" else price * (1 + stop_distance)
        try:
            order = await self.stops.place(
                symbol, exit_side, amount, float(self.exchange.price_to_precision(symbol, stop))
            )
        except ccxt.NetworkError as error:
            # The incident: logged, and the position runs on without a stop.
            log.error("stop-loss on %s failed: %s", symbol, type(error).__name__)
            self.trades.unprotected.append(symbol)
            return
        self.stop_ids[symbol] = order["id"]

    async def open_with_stop(
        self, symbol: str, side: str, amount: float, stop_distance: float = 0.02
    ) -> bool:
        """Open a position and protect it, or end flat: True when it is open with its stop.

        If the stop cannot be placed, the position is closed again rather than left naked.
        """
        await self.manager.call(self.exchange.load_markets)
        try:
            entry = await self.manager.call(self.exchange.create_order, symbol, "market", side, amount)
        except ccxt.NetworkError:
            self.trades.failed_entries += 1
            return False
        exit_side = "sell" if side == "buy" else "buy"
        price = float(entry["average"] or entry["price"])
        stop = price * (1 - stop_distance) if side == "buy" else price * (1 + stop_distance)
        try:
            order = await self.stops.place(
                symbol, exit_side, amount, float(self.exchange.price_to_precision(symbol, stop))
            )
        except ccxt.NetworkError as error:
            log.error("stop-loss on %s failed (%s): closing the position", symbol, type(error).__name__)
            try:
                await self.stops.flatten(symbol, exit_side, amount)
            except ccxt.NetworkError:
                log.error("rollback on %s failed: the position is open without a stop", symbol)
                self.trades.unprotected.append(symbol)
            return False
        self.trades.opened += 1
        self.stop_ids[symbol] = order["id"]
        return True

    async def close_position(self, symbol: str, side: str, amount: float) -> None:
        # Exit without cancelling the stop first: cancelling first leaves a naked position
        # whenever the exit then fails (the plugin's assert_positions_protected caught exactly
        # that). Once the position is closed, Binance expires its reduce-only stop by itself.
        exit_side = "sell" if side == "buy" else "buy"
        await self.manager.call(
            self.exchange.create_order, symbol, "market", exit_side, amount, None, {"reduceOnly": True}
        )
        self.stop_ids.pop(symbol, None)

    def order_size(self, symbol: str, price: float, notional: float = 100.0) -> float:
        """About ``notional`` USDT worth, rounded up to the market's step and minimum."""
        limits = self.exchange.market(symbol)["limits"]["amount"]
        step = self.exchange.market(symbol)["precision"]["amount"] or 1
        amount = max(notional / price, limits["min"] or 0)
        return float(self.exchange.amount_to_precision(symbol, amount + step))

    async def run_day(self, hours: float, every: float = 30.0, hold_cycles: int = 6) -> TradeLog:
        """Open a position every ``every`` seconds, rotating symbols; close each after ``hold_cycles``."""
        await self.manager.call(self.exchange.load_markets)
        held: list[tuple[str, str, float]] = []
        cycles = int(hours * 3600 / every)
        for cycle in range(cycles):
            started = asyncio.get_running_loop().time()
            if len(held) >= hold_cycles:
                symbol, side, amount = held.pop(0)
                try:
                    await self.close_position(symbol, side, amount)
                except ccxt.NetworkError:
                    log.error("exit on %s failed after retries", symbol)
            # One position per symbol, as the exchange nets them (one-way mode): a symbol still
            # held, or left naked by a failed stop, is skipped.
            busy = {held_symbol for held_symbol, _, _ in held} | set(self.trades.unprotected)
            free = [s for s in SYMBOLS if s not in busy]
            if not free:
                await asyncio.sleep(every)
                continue
            symbol = free[cycle % len(free)]
            ticker = await self.manager.call(self.exchange.fetch_ticker, symbol)
            amount = self.order_size(symbol, float(ticker["last"]))
            side = "buy" if cycle % 2 == 0 else "sell"
            before = len(self.trades.unprotected) + self.trades.failed_entries
            await self.open_position(symbol, side, amount)
            if len(self.trades.unprotected) + self.trades.failed_entries == before:
                held.append((symbol, side, amount))
            elapsed = asyncio.get_running_loop().time() - started
            await asyncio.sleep(max(0.0, every - elapsed))
        return self.trades
