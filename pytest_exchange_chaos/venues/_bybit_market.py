"""Bybit v5 bodies for the public side: instruments, tickers, order book, klines, risk limits,
and the coin list ccxt loads with keys.

Market data is synthesised from the book's mark price, deterministically (no randomness is
drawn), so reading the market never changes the venue's state or its seeded sequences.
"""

from __future__ import annotations

import zlib
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from pytest_exchange_chaos.venues._book import Book
from pytest_exchange_chaos.venues._bybit_payloads import fmt, plain
from pytest_exchange_chaos.venues._instruments import Instrument
from pytest_exchange_chaos.venues._spot import SpotBook

__all__ = [
    "INTERVAL_MS",
    "SPOT_LISTING",
    "coins",
    "instruments_info",
    "kline",
    "orderbook",
    "risk_limits",
    "spot_ticker",
    "ticker",
]

_FUNDING_RATE = "0.0001"
_FUNDING_INTERVAL_MS = 8 * 3600 * 1000
# Spot pairs ccxt loads next to the perpetuals: base, tick, base precision, min qty.
SPOT_LISTING: tuple[tuple[str, str, str, str], ...] = (
    ("BTC", "0.1", "0.000001", "0.000048"),
    ("ETH", "0.01", "0.00001", "0.00062"),
    ("XRP", "0.0001", "0.01", "0.83"),
    ("DOGE", "0.00001", "0.1", "11.8"),
)
# Inverse perpetuals: symbol, base, tick.
_INVERSE = (("BTCUSD", "BTC", "0.50"), ("ETHUSD", "ETH", "0.05"))
INTERVAL_MS = {
    "1": 60_000,
    "3": 180_000,
    "5": 300_000,
    "15": 900_000,
    "30": 1_800_000,
    "60": 3_600_000,
    "120": 7_200_000,
    "240": 14_400_000,
    "360": 21_600_000,
    "720": 43_200_000,
    "D": 86_400_000,
    "W": 604_800_000,
    "M": 2_592_000_000,
}


def _linear(book: Book, instrument: Instrument) -> dict[str, Any]:
    places = instrument.price_precision
    quantity_places = instrument.quantity_precision
    return {
        "symbol": instrument.id,
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": instrument.base,
        "quoteCoin": instrument.quote,
        "launchTime": str(instrument.onboard_ms),
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": str(places),
        "leverageFilter": {
            "minLeverage": "1",
            "maxLeverage": f"{instrument.max_leverage}.00",
            "leverageStep": "0.01",
        },
        "priceFilter": {
            "minPrice": fmt(instrument.tick_size, places),
            "maxPrice": fmt(instrument.mark_price * 50, places),
            "tickSize": fmt(instrument.tick_size, places),
        },
        "lotSizeFilter": {
            "maxOrderQty": fmt(instrument.max_qty, quantity_places),
            "minOrderQty": fmt(instrument.min_qty, quantity_places),
            "qtyStep": fmt(instrument.step_size, quantity_places),
            "postOnlyMaxOrderQty": fmt(instrument.max_qty, quantity_places),
            "maxMktOrderQty": fmt(instrument.market_max_qty, quantity_places),
            "minNotionalValue": plain(instrument.min_notional),
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "settleCoin": instrument.settle,
        "copyTrading": "both",
        "upperFundingRate": "0.005",
        "lowerFundingRate": "-0.005",
        "isPreListing": False,
        "preListingInfo": None,
        "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.1"},
        "displayName": "",
    }


def _spot(base: str, tick: str, precision: str, minimum: str) -> dict[str, Any]:
    return {
        "symbol": f"{base}USDT",
        "baseCoin": base,
        "quoteCoin": "USDT",
        "innovation": "0",
        "status": "Trading",
        "marginTrading": "utaOnly",
        "stTag": "0",
        "lotSizeFilter": {
            "basePrecision": precision,
            "quotePrecision": "0.00000001",
            "minOrderQty": minimum,
            "maxOrderQty": "10000000",
            "minOrderAmt": "5",
            "maxOrderAmt": "4000000",
        },
        "priceFilter": {"tickSize": tick},
        "riskParameters": {"priceLimitRatioX": "0.005", "priceLimitRatioY": "0.01"},
    }


def _inverse(symbol: str, base: str, tick: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "contractType": "InversePerpetual",
        "status": "Trading",
        "baseCoin": base,
        "quoteCoin": "USD",
        "launchTime": "1585526400000",
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": "2",
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": tick, "maxPrice": "1999999.00", "tickSize": tick},
        "lotSizeFilter": {
            "maxOrderQty": "1000000",
            "minOrderQty": "1",
            "qtyStep": "1",
            "postOnlyMaxOrderQty": "1000000",
            "maxMktOrderQty": "300000",
            "minNotionalValue": "1",
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "settleCoin": base,
        "copyTrading": "none",
        "upperFundingRate": "0.00375",
        "lowerFundingRate": "-0.00375",
        "isPreListing": False,
        "preListingInfo": None,
        "displayName": "",
    }


def instruments_info(book: Book, category: str, *, symbol: str | None, status: str | None) -> dict[str, Any]:
    """Everything lists as ``Trading``: a ``status=PreLaunch`` query finds nothing."""
    rows: list[dict[str, Any]]
    if status not in (None, "", "Trading"):
        rows = []
    elif category == "linear":
        rows = [_linear(book, i) for i in book.instruments.values()]
    elif category == "spot":
        rows = [_spot(*row) for row in SPOT_LISTING]
    elif category == "inverse":
        rows = [_inverse(*row) for row in _INVERSE]
    else:
        rows = []
    if symbol:
        rows = [row for row in rows if row["symbol"] == symbol]
    return {"category": category, "list": rows, "nextPageCursor": ""}


def _tick_floor(instrument: Instrument, price: Decimal) -> Decimal:
    return (price / instrument.tick_size).to_integral_value(ROUND_FLOOR) * instrument.tick_size


def _tick_ceiling(instrument: Instrument, price: Decimal) -> Decimal:
    return (price / instrument.tick_size).to_integral_value(ROUND_CEILING) * instrument.tick_size


def _best(book: Book, instrument: Instrument) -> tuple[Decimal, Decimal]:
    # Best bid and ask straddle the mark, one tick away when it sits on the grid.
    mark = book.marks[instrument.id]
    half_tick = instrument.tick_size / 2
    return _tick_floor(instrument, mark - half_tick), _tick_ceiling(instrument, mark + half_tick)


def _level_qty(instrument: Instrument, mark: Decimal, level: int, side: str) -> Decimal:
    # A stable pseudo-random size per level: enough depth for a bot's own size checks.
    unit = max(instrument.min_notional / mark, instrument.min_qty)
    unit = (unit / instrument.step_size).to_integral_value(ROUND_CEILING) * instrument.step_size
    factor = 1 + zlib.crc32(f"bybit:{instrument.id}:{side}:{level}".encode()) % 40
    return unit * factor


def orderbook(book: Book, instrument: Instrument, limit: int, server_ms: int) -> dict[str, Any]:
    bid, ask = _best(book, instrument)
    mark = book.marks[instrument.id]
    places = instrument.price_precision
    bids = []
    asks = []
    for level in range(limit):
        bid_price = bid - instrument.tick_size * level
        if bid_price > 0:
            bids.append([fmt(bid_price, places), plain(_level_qty(instrument, mark, level, "b"))])
        asks.append(
            [fmt(ask + instrument.tick_size * level, places), plain(_level_qty(instrument, mark, level, "a"))]
        )
    return {
        "s": instrument.id,
        "b": bids,
        "a": asks,
        "ts": server_ms,
        "u": server_ms // 10,
        "seq": server_ms // 7,
        "cts": server_ms,
    }


def ticker(book: Book, instrument: Instrument, server_ms: int) -> dict[str, Any]:
    stats = book.stats[instrument.id]
    last = book.marks[instrument.id]
    places = instrument.price_precision
    bid, ask = _best(book, instrument)
    change = (last - stats.open) / stats.open if stats.open else Decimal(0)
    next_funding = (server_ms // _FUNDING_INTERVAL_MS + 1) * _FUNDING_INTERVAL_MS
    open_interest = _level_qty(instrument, last, 99, "oi") * 1000
    return {
        "symbol": instrument.id,
        "lastPrice": fmt(last, places),
        "indexPrice": fmt(last, places),
        "markPrice": fmt(last, places),
        "prevPrice24h": fmt(stats.open, places),
        "price24hPcnt": fmt(change, 6),
        "highPrice24h": fmt(stats.high, places),
        "lowPrice24h": fmt(stats.low, places),
        "prevPrice1h": fmt(stats.open, places),
        "openInterest": plain(open_interest),
        "openInterestValue": fmt(open_interest * last, 2),
        "turnover24h": plain(stats.quote_volume),
        "volume24h": plain(stats.volume),
        "fundingRate": _FUNDING_RATE,
        "nextFundingTime": str(next_funding),
        "predictedDeliveryPrice": "",
        "basisRate": "",
        "deliveryFeeRate": "",
        "deliveryTime": "0",
        "ask1Size": plain(_level_qty(instrument, last, 0, "a")),
        "bid1Price": fmt(bid, places),
        "ask1Price": fmt(ask, places),
        "bid1Size": plain(_level_qty(instrument, last, 0, "b")),
        "basis": "",
        "preOpenPrice": "",
        "preQty": "",
        "curPreListingPhase": "",
    }


def spot_ticker(spot: SpotBook, pair: Instrument) -> dict[str, Any]:
    """A ``/v5/market/tickers?category=spot`` row."""
    stats = spot.stats[pair.id]
    last = spot.marks[pair.id]
    places = pair.price_precision
    half_tick = pair.tick_size / 2
    bid = ((last - half_tick) / pair.tick_size).to_integral_value(ROUND_FLOOR) * pair.tick_size
    ask = ((last + half_tick) / pair.tick_size).to_integral_value(ROUND_CEILING) * pair.tick_size
    change = (last - stats.open) / stats.open if stats.open else Decimal(0)
    return {
        "symbol": pair.id,
        "bid1Price": fmt(bid, places),
        "bid1Size": plain(_level_qty(pair, last, 0, "b")),
        "ask1Price": fmt(ask, places),
        "ask1Size": plain(_level_qty(pair, last, 0, "a")),
        "lastPrice": fmt(last, places),
        "prevPrice24h": fmt(stats.open, places),
        "price24hPcnt": fmt(change, 4),
        "highPrice24h": fmt(stats.high, places),
        "lowPrice24h": fmt(stats.low, places),
        "turnover24h": plain(stats.quote_volume),
        "volume24h": plain(stats.volume),
        "usdIndexPrice": fmt(last, places),
    }


def kline(book: Book, instrument: Instrument, interval_ms: int, limit: int, end_ms: int) -> list[list[str]]:
    """Flat candles at the mark, newest first, as Bybit orders them."""
    mark = fmt(book.marks[instrument.id], instrument.price_precision)
    last_open = end_ms // interval_ms * interval_ms
    return [[str(last_open - i * interval_ms), mark, mark, mark, mark, "0", "0"] for i in range(limit)]


def risk_limits(instrument: Instrument) -> list[dict[str, Any]]:
    return [
        {
            "id": tier.bracket,
            "symbol": instrument.id,
            "riskLimitValue": plain(tier.cap),
            "maintenanceMargin": plain(tier.maint_margin_ratio),
            "initialMargin": plain((Decimal(1) / tier.max_leverage).quantize(Decimal("0.0001"))),
            "isLowestRisk": 1 if tier.bracket == 1 else 0,
            "maxLeverage": f"{tier.max_leverage}.00",
            "mmDeduction": plain(tier.cum),
        }
        for tier in instrument.tiers
    ]


def coins(book: Book) -> list[dict[str, Any]]:
    names = {"USDT": "Tether USDT", "USDC": "USD Coin"}
    codes = ["USDT", "USDC", *dict.fromkeys(i.base for i in book.instruments.values())]
    return [
        {
            "name": names.get(code, code),
            "coin": code,
            "remainAmount": "1000000",
            "chains": [
                {
                    "chainType": "ERC20",
                    "confirmation": "12",
                    "withdrawFee": "1",
                    "depositMin": "0",
                    "withdrawMin": "2",
                    "chain": "ETH",
                    "chainDeposit": "1",
                    "chainWithdraw": "1",
                    "minAccuracy": "8",
                    "withdrawPercentageFee": "0",
                    "contractAddress": "",
                }
            ],
        }
        for code in codes
    ]
