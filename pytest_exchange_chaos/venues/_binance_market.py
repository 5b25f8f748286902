"""Binance bodies for the public side: exchange info (USD-M, spot, COIN-M), coins, tickers,
order book, klines, mark price.

Market data is synthesised from the book's mark price, deterministically (no randomness is
drawn), so reading the market never changes the venue's state or its seeded sequences.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Protocol

from pytest_exchange_chaos.venues._binance_payloads import fmt, plain
from pytest_exchange_chaos.venues._instruments import Instrument
from pytest_exchange_chaos.venues._records import MarkStats


class Book(Protocol):
    """What the market data reads of a book, derivatives or spot: marks and the day's stats."""

    @property
    def marks(self) -> dict[str, Decimal]: ...

    @property
    def stats(self) -> dict[str, MarkStats]: ...


__all__ = [
    "book_ticker",
    "coins",
    "dapi_exchange_info",
    "depth",
    "exchange_info",
    "funding_rates",
    "klines",
    "margin_pairs",
    "premium_index",
    "spot_exchange_info",
    "ticker_24hr",
    "ticker_price",
]

_FUTURES_ORDER_TYPES = [
    "LIMIT",
    "MARKET",
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
]
_RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
]
_FUNDING_RATE = "0.00010000"
_FUNDING_INTERVAL_MS = 8 * 3600 * 1000
_INTERVAL_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
    "1M": 2_592_000_000,
}


def _futures_symbol(instrument: Instrument) -> dict[str, Any]:
    return {
        "symbol": instrument.id,
        "pair": instrument.id,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": instrument.onboard_ms,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": instrument.base,
        "quoteAsset": instrument.quote,
        "marginAsset": instrument.settle,
        "pricePrecision": instrument.price_precision,
        "quantityPrecision": instrument.quantity_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": plain(instrument.tick_size),
                "maxPrice": plain(instrument.mark_price * 1000),
                "tickSize": plain(instrument.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": plain(instrument.min_qty),
                "maxQty": plain(instrument.max_qty),
                "stepSize": plain(instrument.step_size),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": plain(instrument.min_qty),
                "maxQty": plain(instrument.market_max_qty),
                "stepSize": plain(instrument.step_size),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": plain(instrument.min_notional)},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": list(_FUTURES_ORDER_TYPES),
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "permissionSet": ["GRID", "COPY"],
    }


def exchange_info(instruments: Iterable[Instrument], server_ms: int) -> dict[str, Any]:
    return {
        "timezone": "UTC",
        "serverTime": server_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": _RATE_LIMITS,
        "exchangeFilters": [],
        "assets": [
            {"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"},
            {"asset": "BTC", "marginAvailable": True, "autoAssetExchange": "-0.10000000"},
            {"asset": "BNB", "marginAvailable": True, "autoAssetExchange": "-10"},
        ],
        "symbols": [_futures_symbol(instrument) for instrument in instruments],
    }


def _spot_symbol(base: str, tick: Decimal, step: Decimal) -> dict[str, Any]:
    return {
        "symbol": f"{base}USDT",
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": "USDT",
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": [
            "LIMIT",
            "LIMIT_MAKER",
            "MARKET",
            "STOP_LOSS",
            "STOP_LOSS_LIMIT",
            "TAKE_PROFIT",
            "TAKE_PROFIT_LIMIT",
        ],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": plain(tick),
                "maxPrice": "1000000.00000000",
                "tickSize": plain(tick),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": plain(step),
                "maxQty": "9000000.00000000",
                "stepSize": plain(step),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": "5.00000000",
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def spot_exchange_info(pairs: Iterable[Instrument], server_ms: int) -> dict[str, Any]:
    return {
        "timezone": "UTC",
        "serverTime": server_ms,
        "rateLimits": _RATE_LIMITS,
        "exchangeFilters": [],
        "symbols": [_spot_symbol(pair.base, pair.tick_size, pair.step_size) for pair in pairs],
    }


def margin_pairs(instruments: Iterable[Instrument], *, isolated: bool) -> list[dict[str, Any]]:
    pairs = []
    for index, instrument in enumerate(instruments):
        entry: dict[str, Any] = {
            "symbol": f"{instrument.base}USDT",
            "base": instrument.base,
            "quote": "USDT",
            "isMarginTrade": True,
            "isBuyAllowed": True,
            "isSellAllowed": True,
        }
        if not isolated:
            entry["id"] = 351637150141315861 + index
        pairs.append(entry)
    return pairs


def dapi_exchange_info(server_ms: int) -> dict[str, Any]:
    def contract(base: str, size: int, tick: str) -> dict[str, Any]:
        return {
            "symbol": f"{base}USD_PERP",
            "pair": f"{base}USD",
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": 1597042800000,
            "contractStatus": "TRADING",
            "contractSize": size,
            "marginAsset": base,
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": base,
            "quoteAsset": "USD",
            "pricePrecision": len(tick.split(".")[1]) if "." in tick else 0,
            "quantityPrecision": 0,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "equalQtyPrecision": 4,
            "maxMoveOrderLimit": 10000,
            "triggerProtect": "0.0500",
            "underlyingType": "COIN",
            "underlyingSubType": [],
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "4520958", "tickSize": tick},
                {"filterType": "LOT_SIZE", "stepSize": "1", "maxQty": "1000000", "minQty": "1"},
                {"filterType": "MARKET_LOT_SIZE", "stepSize": "1", "maxQty": "60000", "minQty": "1"},
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {
                    "filterType": "PERCENT_PRICE",
                    "multiplierUp": "1.0500",
                    "multiplierDown": "0.9500",
                    "multiplierDecimal": "4",
                },
            ],
            "orderTypes": list(_FUTURES_ORDER_TYPES),
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
            "liquidationFee": "0.010000",
            "marketTakeBound": "0.05",
        }

    return {
        "timezone": "UTC",
        "serverTime": server_ms,
        "rateLimits": _RATE_LIMITS,
        "exchangeFilters": [],
        "symbols": [contract("BTC", 100, "0.1"), contract("ETH", 10, "0.01")],
    }


def coins(instruments: Iterable[Instrument]) -> list[dict[str, Any]]:
    """``/sapi/v1/capital/config/getall``: every asset the instruments use, on one network."""
    names = {"USDT": "TetherUS", "BTC": "Bitcoin", "ETH": "Ethereum", "BNB": "BNB"}
    assets = ["USDT", "BTC", "ETH", "BNB"]
    assets += [i.base for i in instruments if i.base not in assets]
    result = []
    for asset in assets:
        network = "BSC" if asset not in ("BTC", "ETH") else asset
        result.append(
            {
                "coin": asset,
                "depositAllEnable": True,
                "withdrawAllEnable": True,
                "name": names.get(asset, asset),
                "free": "0",
                "locked": "0",
                "freeze": "0",
                "withdrawing": "0",
                "ipoing": "0",
                "ipoable": "0",
                "storage": "0",
                "isLegalMoney": False,
                "trading": True,
                "networkList": [
                    {
                        "network": network,
                        "coin": asset,
                        "withdrawIntegerMultiple": "0.00000001",
                        "isDefault": True,
                        "depositEnable": True,
                        "withdrawEnable": True,
                        "depositDesc": "",
                        "withdrawDesc": "",
                        "specialTips": "",
                        "name": network,
                        "resetAddressStatus": False,
                        "addressRegex": "^(0x)[0-9A-Fa-f]{40}$",
                        "memoRegex": "",
                        "withdrawFee": "0.8",
                        "withdrawMin": "10",
                        "withdrawMax": "9999999999",
                        "minConfirm": 15,
                        "unLockConfirm": 0,
                        "sameAddress": False,
                        "estimatedArrivalTime": 1,
                        "busy": False,
                        "contractAddressUrl": "",
                        "contractAddress": "",
                    }
                ],
            }
        )
    return result


def _tick_floor(instrument: Instrument, price: Decimal) -> Decimal:
    return (price / instrument.tick_size).to_integral_value(ROUND_FLOOR) * instrument.tick_size


def _tick_ceiling(instrument: Instrument, price: Decimal) -> Decimal:
    return (price / instrument.tick_size).to_integral_value(ROUND_CEILING) * instrument.tick_size


def _best(book: Book, instrument: Instrument) -> tuple[Decimal, Decimal]:
    # Best bid and ask straddle the mark, one tick away when it sits on the grid.
    mark = book.marks[instrument.id]
    half_tick = instrument.tick_size / 2
    bid = _tick_floor(instrument, mark - half_tick)
    ask = _tick_ceiling(instrument, mark + half_tick)
    return bid, ask


def _level_qty(instrument: Instrument, mark: Decimal, level: int, side: str) -> Decimal:
    # A stable pseudo-random size per level: enough depth for a bot's own size checks.
    unit = max(instrument.min_notional / mark, instrument.min_qty)
    unit = (unit / instrument.step_size).to_integral_value(ROUND_CEILING) * instrument.step_size
    factor = 1 + zlib.crc32(f"{instrument.id}:{side}:{level}".encode()) % 40
    return unit * factor


def depth(book: Book, instrument: Instrument, limit: int, server_ms: int) -> dict[str, Any]:
    bid, ask = _best(book, instrument)
    mark = book.marks[instrument.id]
    places = instrument.price_precision
    bids = []
    asks = []
    for level in range(limit):
        bid_price = bid - instrument.tick_size * level
        if bid_price > 0:
            bids.append([fmt(bid_price, places), plain(_level_qty(instrument, mark, level, "bid"))])
        asks.append(
            [
                fmt(ask + instrument.tick_size * level, places),
                plain(_level_qty(instrument, mark, level, "ask")),
            ]
        )
    return {"lastUpdateId": server_ms * 1000 + 7, "E": server_ms, "T": server_ms, "bids": bids, "asks": asks}


def ticker_24hr(book: Book, instrument: Instrument, server_ms: int) -> dict[str, Any]:
    stats = book.stats[instrument.id]
    last = book.marks[instrument.id]
    places = instrument.price_precision
    change = last - stats.open
    percent = change / stats.open * 100 if stats.open else Decimal(0)
    weighted = stats.quote_volume / stats.volume if stats.volume else last
    return {
        "symbol": instrument.id,
        "priceChange": fmt(change, places),
        "priceChangePercent": fmt(percent, 3),
        "weightedAvgPrice": fmt(weighted, places),
        "lastPrice": fmt(last, places),
        "lastQty": plain(instrument.min_qty),
        "openPrice": fmt(stats.open, places),
        "highPrice": fmt(stats.high, places),
        "lowPrice": fmt(stats.low, places),
        "volume": plain(stats.volume),
        "quoteVolume": plain(stats.quote_volume),
        "openTime": server_ms - 86_400_000,
        "closeTime": server_ms,
        "firstId": 1,
        "lastId": 1 + stats.trades,
        "count": stats.trades,
    }


def ticker_price(book: Book, instrument: Instrument, server_ms: int) -> dict[str, Any]:
    return {
        "symbol": instrument.id,
        "price": fmt(book.marks[instrument.id], instrument.price_precision),
        "time": server_ms,
    }


def book_ticker(book: Book, instrument: Instrument, server_ms: int) -> dict[str, Any]:
    bid, ask = _best(book, instrument)
    mark = book.marks[instrument.id]
    return {
        "symbol": instrument.id,
        "bidPrice": fmt(bid, instrument.price_precision),
        "bidQty": plain(_level_qty(instrument, mark, 0, "bid")),
        "askPrice": fmt(ask, instrument.price_precision),
        "askQty": plain(_level_qty(instrument, mark, 0, "ask")),
        "time": server_ms,
        "lastUpdateId": server_ms * 1000 + 7,
    }


def _next_funding(server_ms: int) -> int:
    return (server_ms // _FUNDING_INTERVAL_MS + 1) * _FUNDING_INTERVAL_MS


def premium_index(book: Book, instrument: Instrument, server_ms: int) -> dict[str, Any]:
    mark = book.marks[instrument.id]
    return {
        "symbol": instrument.id,
        "markPrice": fmt(mark, 8),
        "indexPrice": fmt(mark, 8),
        "estimatedSettlePrice": fmt(mark, 8),
        "lastFundingRate": _FUNDING_RATE,
        "interestRate": "0.00010000",
        "nextFundingTime": _next_funding(server_ms),
        "time": server_ms,
    }


def funding_rates(book: Book, instrument: Instrument, server_ms: int, limit: int) -> list[dict[str, Any]]:
    last = _next_funding(server_ms) - _FUNDING_INTERVAL_MS
    mark = book.marks[instrument.id]
    return [
        {
            "symbol": instrument.id,
            "fundingTime": last - _FUNDING_INTERVAL_MS * back,
            "fundingRate": _FUNDING_RATE,
            "markPrice": fmt(mark, 8),
        }
        for back in reversed(range(limit))
    ]


def klines(
    book: Book,
    instrument: Instrument,
    interval: str,
    limit: int,
    server_ms: int,
    end_ms: int | None = None,
) -> list[list[Any]] | None:
    """Flat candles at the current mark: the venue keeps no price history."""
    step = _INTERVAL_MS.get(interval)
    if step is None:
        return None
    end = min(end_ms, server_ms) if end_ms is not None else server_ms
    last_open = end // step * step
    price = fmt(book.marks[instrument.id], instrument.price_precision)
    rows: list[list[Any]] = []
    for back in reversed(range(limit)):
        open_ms = last_open - back * step
        rows.append([open_ms, price, price, price, price, "0", open_ms + step - 1, "0", 0, "0", "0", "0"])
    return rows
