"""The trader's views of venues: instruments for every venue, and a spot venue, whose orders,
holdings (as long positions) and naked time come from its :class:`SpotBook`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from pytest_exchange_chaos.venues._book import ListingVenue
from pytest_exchange_chaos.venues._instruments import Instrument
from pytest_exchange_chaos.venues._spot import SpotBook
from pytest_exchange_chaos.venues.base import InstrumentView

__all__ = ["SpotVenue", "instrument_views"]


def instrument_views(instruments: Iterable[Instrument], marks: Mapping[str, Decimal]) -> list[InstrumentView]:
    """Each instrument as :class:`InstrumentView`, priced at its current mark."""
    views = []
    for instrument in instruments:
        mark = float(marks[instrument.id])
        spot = instrument.spot
        views.append(
            InstrumentView(
                symbol=instrument.symbol,
                id=instrument.id,
                market="spot" if spot else "swap",
                base=instrument.base,
                quote=instrument.quote,
                settle=None if spot else instrument.settle,
                tick_size=float(instrument.tick_size),
                step_size=float(instrument.step_size),
                min_amount=float(instrument.min_qty),
                max_amount=float(instrument.max_qty),
                max_market_amount=float(instrument.market_max_qty),
                min_notional=float(instrument.min_notional),
                max_leverage=None if spot else instrument.max_leverage,
                mark_price=mark,
                last_price=mark,
            )
        )
    return views


class SpotVenue(ListingVenue):
    """A venue whose state is a :class:`SpotBook` (its ``listing``): holdings show as long
    positions, so ``assert_positions_protected`` asks each for a stop-loss sell covering it."""

    spot: SpotBook

    def instruments(self) -> list[InstrumentView]:
        return instrument_views(self.spot.instruments.values(), self.spot.marks)
