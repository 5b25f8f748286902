"""The USDT-margined perpetuals every simulated venue lists, with their trading rules.

Venue-neutral: Binance USD-M and Bybit linear use the same exchange ids for these contracts
(``BTCUSDT``), so one table feeds both. The numbers follow the real listings closely enough
that a bot's own rounding code (``amount_to_precision``, min-notional checks) meets the same
edge cases it meets live; mark prices are plausible starting points, moved by ``set_price``.

TOSHI is listed as ``TOSHIUSDT`` (base ``TOSHI``), the id the incident's bot traded, rather
than a ``1000TOSHIUSDT`` multiplier contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "INSTRUMENTS",
    "Instrument",
    "LeverageTier",
    "decimals",
    "instruments_by_id",
]

# Binance's leverage ladder; a contract's tiers start at its own maximum.
_LEVERAGE_STEPS = (125, 100, 75, 50, 25, 20, 10, 5, 4, 3, 2, 1)
# 2030-ish listing dates would look odd; these are fixed so payloads are reproducible.
_ONBOARD_MS = 1569398400000


@dataclass(frozen=True)
class LeverageTier:
    """One notional bracket: up to ``cap`` of position notional, at most ``max_leverage``."""

    bracket: int
    floor: Decimal
    cap: Decimal
    max_leverage: int
    maint_margin_ratio: Decimal
    cum: Decimal
    """Maintenance amount: keeps the maintenance margin continuous across brackets."""


@dataclass(frozen=True)
class Instrument:
    """A linear perpetual's identity and trading rules (all numbers exact decimals)."""

    id: str
    base: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    price_precision: int
    """Binance's ``pricePrecision``: may exceed the tick's decimals (DOGE: 6 vs 0.00001)."""
    quantity_precision: int
    mark_price: Decimal
    """The mark price the venue starts with."""
    max_leverage: int
    first_bracket_cap: Decimal
    quote: str = "USDT"
    settle: str = "USDT"
    onboard_ms: int = _ONBOARD_MS

    @property
    def symbol(self) -> str:
        """The ccxt unified symbol, e.g. ``BTC/USDT:USDT``."""
        return f"{self.base}/{self.quote}:{self.settle}"

    @property
    def tiers(self) -> tuple[LeverageTier, ...]:
        return _tiers(self.max_leverage, self.first_bracket_cap)

    def tier_for(self, notional: Decimal) -> LeverageTier:
        notional = abs(notional)
        tiers = self.tiers
        for tier in tiers:
            if notional < tier.cap:
                return tier
        return tiers[-1]


def decimals(value: Decimal) -> int:
    """How many decimal places ``value`` really uses (``0.0010`` uses 3)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _tiers(max_leverage: int, first_cap: Decimal) -> tuple[LeverageTier, ...]:
    steps = [step for step in _LEVERAGE_STEPS if step <= max_leverage]
    if not steps or steps[0] != max_leverage:
        steps.insert(0, max_leverage)
    tiers: list[LeverageTier] = []
    floor = Decimal(0)
    cap = first_cap
    cum = Decimal(0)
    previous_ratio = Decimal(0)
    for index, leverage in enumerate(steps):
        # Binance's maintenance ratio is about half the initial margin rate of the bracket.
        ratio = (Decimal(1) / Decimal(2 * leverage)).quantize(Decimal("0.0001"))
        cum += floor * (ratio - previous_ratio)
        tiers.append(
            LeverageTier(
                bracket=index + 1,
                floor=floor,
                cap=cap,
                max_leverage=leverage,
                maint_margin_ratio=ratio,
                cum=cum,
            )
        )
        previous_ratio = ratio
        floor = cap
        cap = cap * 4
    return tuple(tiers)


def _instrument(
    id: str,
    base: str,
    *,
    tick: str,
    step: str,
    max_qty: str,
    market_max: str,
    notional: str,
    price_precision: int,
    mark: str,
    leverage: int,
    first_cap: str = "10000",
) -> Instrument:
    step_size = Decimal(step)
    return Instrument(
        id=id,
        base=base,
        tick_size=Decimal(tick),
        step_size=step_size,
        min_qty=step_size,
        max_qty=Decimal(max_qty),
        market_max_qty=Decimal(market_max),
        min_notional=Decimal(notional),
        price_precision=price_precision,
        quantity_precision=decimals(step_size),
        mark_price=Decimal(mark),
        max_leverage=leverage,
        first_bracket_cap=Decimal(first_cap),
    )


INSTRUMENTS: tuple[Instrument, ...] = (
    _instrument("BTCUSDT", "BTC", tick="0.10", step="0.001", max_qty="1000", market_max="120",
                notional="100", price_precision=2, mark="60000.00", leverage=125, first_cap="50000"),
    _instrument("ETHUSDT", "ETH", tick="0.01", step="0.001", max_qty="10000", market_max="2000",
                notional="20", price_precision=2, mark="3000.00", leverage=125, first_cap="50000"),
    _instrument("XRPUSDT", "XRP", tick="0.0001", step="0.1", max_qty="10000000", market_max="2000000",
                notional="5", price_precision=4, mark="2.5000", leverage=75, first_cap="20000"),
    _instrument("TRXUSDT", "TRX", tick="0.00001", step="1", max_qty="10000000", market_max="5000000",
                notional="5", price_precision=5, mark="0.28000", leverage=75, first_cap="20000"),
    _instrument("DOGEUSDT", "DOGE", tick="0.00001", step="1", max_qty="50000000", market_max="30000000",
                notional="5", price_precision=6, mark="0.17000", leverage=75, first_cap="20000"),
    _instrument("CHRUSDT", "CHR", tick="0.00001", step="1", max_qty="2000000", market_max="400000",
                notional="5", price_precision=5, mark="0.08000", leverage=50),
    _instrument("XVGUSDT", "XVG", tick="0.0000001", step="1", max_qty="50000000", market_max="20000000",
                notional="5", price_precision=7, mark="0.0062000", leverage=25),
    _instrument("PROVEUSDT", "PROVE", tick="0.0001", step="1", max_qty="2000000", market_max="300000",
                notional="5", price_precision=4, mark="0.7500", leverage=50),
    _instrument("TACUSDT", "TAC", tick="0.00001", step="1", max_qty="10000000", market_max="2000000",
                notional="5", price_precision=5, mark="0.02000", leverage=20),
    _instrument("BSVUSDT", "BSV", tick="0.01", step="0.1", max_qty="10000", market_max="2000",
                notional="5", price_precision=2, mark="25.00", leverage=50),
    _instrument("VOXELUSDT", "VOXEL", tick="0.00001", step="1", max_qty="5000000", market_max="1000000",
                notional="5", price_precision=5, mark="0.04500", leverage=25),
    _instrument("PROMUSDT", "PROM", tick="0.001", step="0.01", max_qty="100000", market_max="20000",
                notional="5", price_precision=3, mark="5.500", leverage=25),
    _instrument("FORMUSDT", "FORM", tick="0.0001", step="1", max_qty="1000000", market_max="200000",
                notional="5", price_precision=4, mark="1.2000", leverage=50),
    _instrument("TOSHIUSDT", "TOSHI", tick="0.0000001", step="1", max_qty="1000000000",
                market_max="200000000", notional="5", price_precision=7, mark="0.0007000", leverage=25),
)


def instruments_by_id(instruments: Iterable[Instrument] = INSTRUMENTS) -> Mapping[str, Instrument]:
    return {instrument.id: instrument for instrument in instruments}
