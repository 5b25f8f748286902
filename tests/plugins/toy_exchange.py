"""A small plugin of the kind a user writes: a venue we do not ship, a fault decider, an observer.

Loaded by tests/test_hooks.py as a conftest through pytester.
"""

from __future__ import annotations

import json

from pytest_exchange_chaos import faults
from pytest_exchange_chaos.venues import (
    Call,
    ExchangeRequest,
    OrderTicket,
    OrderView,
    PositionView,
    Venue,
    VenueReply,
)

SEEN_FAULTS: list[str] = []


class ToyExchange(Venue):
    id = "toyx"
    hosts = frozenset({"api.toyx.test"})

    def __init__(self, context):  # type: ignore[no-untyped-def]
        super().__init__(context)
        self.orders: list[dict[str, str]] = []
        self.price = 100.0

    def classify(self, request: ExchangeRequest) -> Call:
        if request.endpoint == "POST /order":
            params = request.params
            ticket = OrderTicket(side=params["side"], order_type="market", amount=params["qty"])
            return Call(self.id, "entry", request.endpoint, "TOY/USD", ticket)
        return Call(self.id, "market_data", request.endpoint, "TOY/USD")

    def execute(self, request: ExchangeRequest, call: Call) -> VenueReply:
        if call.intent == "entry":
            order_id = str(len(self.orders) + 1)
            self.orders.append({"id": order_id, **request.params})
            return VenueReply.json({"id": order_id}, order_id=order_id)
        return VenueReply.json({"price": self.price})

    def error_reply(self, code: int, message: str) -> VenueReply:
        return VenueReply.json({"error": code, "message": message}, 400, accepted=False, error_code=code)

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        return []

    def positions(self) -> list[PositionView]:
        return []

    def set_price(self, symbol: str, price: float) -> None:
        self.price = price


def pytest_exchange_chaos_venues(config):  # type: ignore[no-untyped-def]
    return [ToyExchange]


def pytest_exchange_chaos_decide_fault(request, call, now, controller):  # type: ignore[no-untyped-def]
    # Every third order on the toy exchange is rate-limited, whatever the schedule says.
    if call.venue == "toyx" and call.intent == "entry":
        placed = sum(1 for r in controller.journal if r.intent == "entry")
        if placed % 3 == 2:
            return faults.rate_limited(retry_after=5)
    return None


def pytest_exchange_chaos_fault_injected(injected, controller):  # type: ignore[no-untyped-def]
    SEEN_FAULTS.append(f"{injected.fault.name}@{injected.record.path}")


def body(data: bytes) -> dict[str, object]:
    return json.loads(data)
