"""Ids that look like Bybit v5's: UUIDs for linear orders and executions."""

from __future__ import annotations

import uuid

from faker import Faker

__all__ = ["BybitIds"]


class BybitIds:
    """Seeded, so a test sees the same ids on every run."""

    def __init__(self, seed: int) -> None:
        self._fake = Faker()
        self._fake.seed_instance(seed)
        self._sequence = self._fake.random_int(1_000_000_000, 9_000_000_000)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._fake.random.getrandbits(128), version=4))

    def order_id(self, symbol: str, channel: str) -> str:
        return self._uuid()

    def trade_id(self, symbol: str) -> str:
        return self._uuid()

    def client_order_id(self) -> str:
        # Bybit leaves orderLinkId empty when the bot sends none; the book still needs a key
        # of its own to tell orders apart, which the payloads never show.
        return f"bybit-internal-{self._uuid()}"

    def sequence(self) -> int:
        """Bybit's per-symbol ``seq`` on executions: increasing, in uneven steps."""
        self._sequence += self._fake.random_int(1, 500)
        return self._sequence

    def user_id(self) -> int:
        return self._fake.random_int(100_000_000, 499_999_999)
