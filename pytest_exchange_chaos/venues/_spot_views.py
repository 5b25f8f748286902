"""The trader's views of venues: instruments for every venue, and everything a spot venue shows
(orders, holdings as long positions, naked time) from its :class:`SpotBook`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from pytest_exchange_chaos.naked_time import UnprotectedInterval
from pytest_exchange_chaos.venues._instruments import Instrument
from pytest_exchange_chaos.venues._spot import SpotBook
from pytest_exchange_chaos.venues.base import InstrumentView, OrderView, PositionView, Venue

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


class SpotVenue(Venue):
    """A venue whose state is a :class:`SpotBook`: holdings show as long positions, so
    ``assert_positions_protected`` asks each for a stop-loss sell covering it."""

    spot: SpotBook

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        return self.spot.order_views(symbol)

    def positions(self) -> list[PositionView]:
        return self.spot.position_views()

    def set_price(self, symbol: str, price: float) -> None:
        self.spot.set_mark(symbol, price)

    def instruments(self) -> list[InstrumentView]:
        return instrument_views(self.spot.instruments.values(), self.spot.marks)

    def unprotected_intervals(self) -> list[UnprotectedInterval]:
        return self.spot.naked_intervals(self.id, self.context.now())

    def positions_opened(self) -> int:
        return self.spot.positions_opened
