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
from functools import cached_property

__all__ = [
    "INSTRUMENTS",
    "SPOT_PAIRS",
    "Instrument",
    "LeverageTier",
    "binance_spot_pairs",
    "builtin_listings",
    "decimals",
    "instruments_by_id",
    "spot_pair",
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
        """The ccxt unified symbol, e.g. ``BTC/USDT:USDT`` (``BTC/USDT`` for a spot pair)."""
        if not self.settle:
            return f"{self.base}/{self.quote}"
        return f"{self.base}/{self.quote}:{self.settle}"

    @property
    def spot(self) -> bool:
        """A spot pair (no settle asset): balances, not positions."""
        return not self.settle

    @cached_property
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


# id, base, tick size, step size, max qty, market max qty, min notional, pricePrecision, mark, max leverage
_TABLE: tuple[tuple[str, str, str, str, str, str, str, int, str, int], ...] = (
    ("BTCUSDT", "BTC", "0.10", "0.001", "1000", "120", "100", 2, "60000.00", 125),
    ("ETHUSDT", "ETH", "0.01", "0.001", "10000", "2000", "20", 2, "3000.00", 125),
    ("XRPUSDT", "XRP", "0.0001", "0.1", "10000000", "2000000", "5", 4, "2.5000", 75),
    ("TRXUSDT", "TRX", "0.00001", "1", "10000000", "5000000", "5", 5, "0.28000", 75),
    ("DOGEUSDT", "DOGE", "0.00001", "1", "50000000", "30000000", "5", 6, "0.17000", 75),
    ("CHRUSDT", "CHR", "0.00001", "1", "2000000", "400000", "5", 5, "0.08000", 50),
    ("XVGUSDT", "XVG", "0.0000001", "1", "50000000", "20000000", "5", 7, "0.0062000", 25),
    ("PROVEUSDT", "PROVE", "0.0001", "1", "2000000", "300000", "5", 4, "0.7500", 50),
    ("TACUSDT", "TAC", "0.00001", "1", "10000000", "2000000", "5", 5, "0.02000", 20),
    ("BSVUSDT", "BSV", "0.01", "0.1", "10000", "2000", "5", 2, "25.00", 50),
    ("VOXELUSDT", "VOXEL", "0.00001", "1", "5000000", "1000000", "5", 5, "0.04500", 25),
    ("PROMUSDT", "PROM", "0.001", "0.01", "100000", "20000", "5", 3, "5.500", 25),
    ("FORMUSDT", "FORM", "0.0001", "1", "1000000", "200000", "5", 4, "1.2000", 50),
    ("TOSHIUSDT", "TOSHI", "0.0000001", "1", "1000000000", "200000000", "5", 7, "0.0007000", 25),
)


def _instrument(row: tuple[str, str, str, str, str, str, str, int, str, int]) -> Instrument:
    id, base, tick, step, max_qty, market_max, notional, price_precision, mark, leverage = row
    step_size = Decimal(step)
    # Majors get a wider first bracket, as on Binance.
    first_cap = "50000" if leverage >= 100 else "20000" if leverage >= 75 else "10000"
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


INSTRUMENTS: tuple[Instrument, ...] = tuple(_instrument(row) for row in _TABLE)


def instruments_by_id(instruments: Iterable[Instrument] = INSTRUMENTS) -> Mapping[str, Instrument]:
    return {instrument.id: instrument for instrument in instruments}


def spot_pair(
    base: str,
    *,
    tick: Decimal,
    step: Decimal,
    min_qty: Decimal,
    min_notional: Decimal,
    mark: Decimal,
    max_qty: Decimal = Decimal(9_000_000),
) -> Instrument:
    """A spot pair against USDT: no settle asset, no leverage."""
    return Instrument(
        id=f"{base}USDT",
        base=base,
        tick_size=tick,
        step_size=step,
        min_qty=min_qty,
        max_qty=max_qty,
        market_max_qty=max_qty,
        min_notional=min_notional,
        price_precision=decimals(tick),
        quantity_precision=decimals(step),
        mark_price=mark,
        max_leverage=1,
        first_bracket_cap=max_qty * mark,
        settle="",
    )


def _binance_spot(instrument: Instrument) -> Instrument:
    # Spot trades finer than the perpetual: a tenth of the tick, a hundredth of the step.
    step = max(instrument.step_size / 100, Decimal("0.00001"))
    return spot_pair(
        instrument.base,
        tick=instrument.tick_size / 10,
        step=step,
        min_qty=step,
        min_notional=Decimal(5),
        mark=instrument.mark_price,
    )


def binance_spot_pairs(instruments: Iterable[Instrument] = INSTRUMENTS) -> tuple[Instrument, ...]:
    """Binance's spot pairs: every perpetual's base against USDT, and BNB."""
    pairs = [_binance_spot(instrument) for instrument in instruments]
    if not any(pair.base == "BNB" for pair in pairs):
        pairs.append(
            spot_pair(
                "BNB",
                tick=Decimal("0.01"),
                step=Decimal("0.001"),
                min_qty=Decimal("0.001"),
                min_notional=Decimal(5),
                mark=Decimal("600.00"),
            )
        )
    return tuple(pairs)


SPOT_PAIRS: tuple[Instrument, ...] = binance_spot_pairs()


def builtin_listings() -> dict[str, frozenset[str]]:
    """The unified symbols each shipped venue lists, by ccxt id (for the markers' checks)."""
    from pytest_exchange_chaos.venues._bybit_spot import BYBIT_SPOT_PAIRS

    perpetuals = frozenset(instrument.symbol for instrument in INSTRUMENTS)
    return {
        "binanceusdm": perpetuals,
        "binance": frozenset(pair.symbol for pair in SPOT_PAIRS),
        "bybit": perpetuals | frozenset(pair.symbol for pair in BYBIT_SPOT_PAIRS),
    }
