"""A sync bot on ccxt.binanceusdm (requests), run as a loop: one step every ``every`` seconds.

Its rule: never retry an order. An entry that fails is a trade missed, not a trade to send
again (a 502 may have been executed, and a second market order would double the position).
Instead, every step starts from the exchange's own state: a position without a stop gets its
stop on this step, whatever happened on the last one.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import ccxt

log = logging.getLogger("sync_bot")


class SyncBot:
    def __init__(
        self, exchange: Any, symbol: str, amount: float, *, stop_distance: float = 0.02, every: float = 60.0
    ) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.amount = amount
        self.stop_distance = stop_distance
        self.every = every

    def position(self) -> dict[str, Any] | None:
        for position in self.exchange.fetch_positions([self.symbol]):
            if position["contracts"]:
                return dict(position)
        return None

    def has_stop(self) -> bool:
        orders = self.exchange.fetch_open_orders(self.symbol, params={"trigger": True})
        return any(order.get("reduceOnly") for order in orders)

    def step(self) -> None:
        """Open a long if flat; make sure the position has its stop."""
        try:
            position = self.position()
            if position is None:
                self.exchange.create_order(self.symbol, "market", "buy", self.amount)
                position = self.position()
            if position is not None and not self.has_stop():
                self.place_stop(position)
        except ccxt.NetworkError as error:
            # Nothing is retried here: the next step reads the exchange again and carries on.
            log.warning("step failed (%s); next step in %.0fs", type(error).__name__, self.every)

    def place_stop(self, position: dict[str, Any]) -> None:
        entry = float(position["entryPrice"])
        side = "sell" if position["side"] == "long" else "buy"
        distance = -self.stop_distance if side == "sell" else self.stop_distance
        trigger = float(self.exchange.price_to_precision(self.symbol, entry * (1 + distance)))
        self.exchange.create_order(
            self.symbol,
            "STOP_MARKET",
            side,
            position["contracts"],
            None,
            {"stopPrice": trigger, "reduceOnly": True},
        )

    def run(self, steps: int) -> None:
        self.exchange.load_markets()
        for _ in range(steps):
            self.step()
            time.sleep(self.every)
