"""Simulated exchanges. ``Venue`` is the base class for venues of your own."""

from __future__ import annotations

from pytest_exchange_chaos.venues.base import (
    INTENTS,
    Call,
    ExchangeRequest,
    InstrumentView,
    Intent,
    OrderTicket,
    OrderView,
    PositionView,
    Venue,
    VenueContext,
    VenueReply,
)

__all__ = [
    "INTENTS",
    "Call",
    "ExchangeRequest",
    "InstrumentView",
    "Intent",
    "OrderTicket",
    "OrderView",
    "PositionView",
    "Venue",
    "VenueContext",
    "VenueReply",
    "builtin_venues",
]


def builtin_venues() -> list[type[Venue]]:
    """The venues every chaos test gets. Imported on first use: a suite that never runs a chaos
    test never pays for building instrument tables."""
    from pytest_exchange_chaos.venues.binance import BinanceUsdmVenue
    from pytest_exchange_chaos.venues.binance_spot import BinanceSpotVenue
    from pytest_exchange_chaos.venues.bybit import BybitVenue

    return [BinanceUsdmVenue, BinanceSpotVenue, BybitVenue]
