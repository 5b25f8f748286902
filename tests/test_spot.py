"""Spot on both venues, with real ccxt: ``ccxt.binance`` (the ``binance`` venue, api.binance.com)
and ``ccxt.bybit`` with spot symbols (``category=spot`` on the ``bybit`` venue).

Balances, not positions: a buy moves USDT into the coin, a sell the reverse, and a stop-loss sell
protects what was bought. The same schedules, journal and verdicts apply as for perpetuals. Every
inner run is a user's suite: only the plugin's fixtures, async and sync ccxt.
"""

from __future__ import annotations

import pytest

VENUES = ["binance", "bybit"]
# Each bot runs on both venues, on async and on sync ccxt.
EVERY_VENUE_AND_MODE = pytest.mark.parametrize(
    ("venue", "mode"), [(v, m) for v in VENUES for m in ("async", "sync")]
)


def _passes(pytester: pytest.Pytester) -> None:
    """The user's suite written into ``pytester`` runs, and its one test passes."""
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


# One bot, written once: ``AWAIT`` is ``await`` for async ccxt and nothing for sync ccxt.
TRADE = """
import pytest
import ccxt
from pytest_exchange_chaos import Burst, faults


def balances(balance):
    return round(balance["USDT"]["total"], 6), round((balance.get("BTC") or {{}}).get("total") or 0, 8)


{marker}
ASYNC def test_buy_protect_and_stop_out(EXCHANGE, exchange_chaos):
    AWAIT EXCHANGE.load_markets()
    assert EXCHANGE.market("BTC/USDT")["spot"]
    start, _ = balances(AWAIT EXCHANGE.fetch_balance())

    bought = AWAIT EXCHANGE.create_order("BTC/USDT", "market", "buy", 0.01)
    assert bought["id"]
    usdt, btc = balances(AWAIT EXCHANGE.fetch_balance())
    # 600 USDT for 0.01 BTC at the 60,000 mark, and the 0.1 % taker fee in USDT.
    assert (round(start - usdt, 6), btc) == (600.6, 0.01)
    exchange_chaos.venue("{venue}")  # the venue that holds the account
    with pytest.raises(AssertionError, match="no stop-loss order"):
        exchange_chaos.assert_positions_protected()

    stop = AWAIT EXCHANGE.create_order("BTC/USDT", "limit", "sell", 0.01, 54_000, {{"stopLossPrice": 55_000}})
    resting = AWAIT EXCHANGE.create_order("BTC/USDT", "limit", "buy", 0.002, 50_000)
    opened = AWAIT EXCHANGE.fetch_open_orders("BTC/USDT")
    assert sorted((o["id"], o["side"]) for o in opened) == sorted([(stop["id"], "sell"), (resting["id"], "buy")])
    fetched = AWAIT EXCHANGE.fetch_order(resting["id"], "BTC/USDT", {fetch_params})
    assert (fetched["status"], fetched["amount"], fetched["price"]) == ("open", 0.002, 50_000)
    AWAIT EXCHANGE.cancel_order(resting["id"], "BTC/USDT")
    assert [o["id"] for o in AWAIT EXCHANGE.fetch_open_orders("BTC/USDT")] == [stop["id"]]
    balance = AWAIT EXCHANGE.fetch_balance()
    # The stop holds the coin it would sell.
    assert (balance["BTC"]["free"], balance["BTC"]["used"]) == (0, 0.01)
    exchange_chaos.assert_positions_protected()

    venue = exchange_chaos.venue("{venue}")
    [holding] = venue.positions()
    assert (holding.symbol, holding.side, holding.contracts, holding.entry_price) == ("BTC/USDT", "long", 0.01, 60_000)
    venue.set_price("BTC/USDT", 54_500)
    assert venue.positions() == [] and venue.open_orders("BTC/USDT") == []
    usdt, btc = balances(AWAIT EXCHANGE.fetch_balance())
    # Triggered at 54,500, its 54,000 limit sells at the market's 54,500, less 0.1 %.
    assert (round(usdt - (start - 600.6), 6), btc) == (544.455, 0)

    placed = [(r.intent, r.symbol) for r in exchange_chaos.journal if r.order_id and r.method == "POST"]
    assert placed == [("entry", "BTC/USDT"), ("stop_loss", "BTC/USDT"), ("entry", "BTC/USDT")]
    assert {{r.venue for r in exchange_chaos.journal if r.symbol == "BTC/USDT"}} == {{"{venue}"}}
    exchange_chaos.assert_no_duplicate_orders()
"""


def _bot(template: str, venue: str, mode: str, **values: str) -> str:
    fixture = f"chaos_{venue}" if mode == "async" else f"chaos_{venue}_sync"
    code = template.format(
        marker="@pytest.mark.asyncio" if mode == "async" else "",
        venue=venue,
        fetch_params='{"acknowledged": True}' if venue == "bybit" else "{}",
        **values,
    )
    code = code.replace("EXCHANGE", fixture)
    if mode == "async":
        return code.replace("ASYNC def", "async def").replace("AWAIT ", "await ")
    return code.replace("ASYNC def", "def").replace("AWAIT ", "")


@EVERY_VENUE_AND_MODE
def test_a_spot_bot_buys_protects_and_is_stopped_out(
    chaos_pytester: pytest.Pytester, venue: str, mode: str
) -> None:
    chaos_pytester.makepyfile(_bot(TRADE, venue, mode))
    _passes(chaos_pytester)


SELL_AND_REFUSALS = """
import pytest
import ccxt


{marker}
ASYNC def test_sell_what_was_bought_and_no_more(EXCHANGE, exchange_chaos):
    AWAIT EXCHANGE.load_markets()
    AWAIT EXCHANGE.create_order("BTC/USDT", "market", "buy", 0.01)
    with pytest.raises(ccxt.InsufficientFunds, match="{insufficient}"):
        AWAIT EXCHANGE.create_order("BTC/USDT", "market", "sell", 0.02)
    with pytest.raises(ccxt.InsufficientFunds, match="{insufficient}"):
        AWAIT EXCHANGE.create_order("BTC/USDT", "limit", "buy", 1, 59_000)
    sold = AWAIT EXCHANGE.create_order("BTC/USDT", "market", "sell", 0.01)
    assert sold["id"]
    refused = [r for r in exchange_chaos.journal if r.error_code is not None]
    assert [(r.intent, r.error_code) for r in refused] == [("exit", {code}), ("entry", {code})]
    orders = [r.intent for r in exchange_chaos.journal if r.order_id]
    assert orders == ["entry", "exit"]
    assert exchange_chaos.venue("{venue}").positions() == []
    exchange_chaos.assert_positions_protected()
"""

INSUFFICIENT = {
    "binance": ("Account has insufficient balance for requested action", "-2010"),
    "bybit": ("170131", "170131"),
}


@EVERY_VENUE_AND_MODE
def test_a_sell_of_held_coins_is_an_exit_and_more_than_held_is_insufficient_funds(
    chaos_pytester: pytest.Pytester, venue: str, mode: str
) -> None:
    message, code = INSUFFICIENT[venue]
    chaos_pytester.makepyfile(_bot(SELL_AND_REFUSALS, venue, mode, insufficient=message, code=code))
    _passes(chaos_pytester)


FAULTS = """
import pytest
import ccxt
from pytest_exchange_chaos import Burst, Wave, faults


@pytest.mark.exchange_chaos(
    Burst(2, faults.bad_gateway(), venue="{venue}", intent="stop_loss", symbol="BTC/USDT"),
    Burst(1, faults.ghost(faults.bad_gateway()), venue="{venue}", intent="entry", symbol="BTC/USDT"),
)
{marker}
ASYNC def test_faults_hit_spot_orders(EXCHANGE, exchange_chaos):
    AWAIT EXCHANGE.load_markets()
    # A bot that retries its entry on any network error: the exchange executed the first one.
    for attempt in range(3):
        try:
            AWAIT EXCHANGE.create_order("BTC/USDT", "market", "buy", 0.01)
            break
        except ccxt.NetworkError:
            continue
    for attempt in range(3):
        try:
            AWAIT EXCHANGE.create_order("BTC/USDT", "limit", "sell", 0.02, 54_000, {{"stopLossPrice": 55_000}})
            break
        except ccxt.NetworkError:
            continue
    faulted = [(r.intent, r.fault, r.executed) for r in exchange_chaos.journal if r.fault]
    assert faulted == [
        ("entry", "ghost(bad_gateway)", True),
        ("stop_loss", "bad_gateway", False),
        ("stop_loss", "bad_gateway", False),
    ]
    [stop] = exchange_chaos.operations(intent="stop_loss", symbol="BTC/USDT")
    assert (stop.attempts, stop.succeeded) == (3, True)
    with pytest.raises(AssertionError, match="placed more than once"):
        exchange_chaos.assert_no_duplicate_orders()
"""


@EVERY_VENUE_AND_MODE
def test_schedules_match_spot_orders_and_a_resent_spot_order_is_a_duplicate(
    chaos_pytester: pytest.Pytester, venue: str, mode: str
) -> None:
    chaos_pytester.makepyfile(_bot(FAULTS, venue, mode))
    _passes(chaos_pytester)


def test_a_plain_ccxt_binance_loads_its_markets_and_trades_spot(chaos_pytester: pytest.Pytester) -> None:
    # ccxt.binance() as a bot builds it: no options; with keys it also loads the coin list and
    # the margin pairs; its default markets include the perpetuals (fapi, dapi).
    chaos_pytester.makepyfile(
        """
        import ccxt
        from pytest_exchange_chaos.fixtures import API_KEYS

        def test_plain(exchange_chaos):
            public = ccxt.binance()
            markets = public.load_markets()
            assert markets["BTC/USDT"]["spot"] and markets["BTC/USDT:USDT"]["swap"]
            private = ccxt.binance(dict(API_KEYS))
            private.load_markets()
            private.create_order("ETH/USDT", "market", "buy", 0.01)
            hosts = {r.url.split("/")[2]: r.venue for r in exchange_chaos.journal}
            assert hosts == {
                "api.binance.com": "binance",
                "fapi.binance.com": "binanceusdm",
                "dapi.binance.com": "binanceusdm",
            }
            assert exchange_chaos.unserved == []
        """
    )
    _passes(chaos_pytester)


def test_a_wave_on_a_spot_symbol_is_accepted_and_matches(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        """
        import ccxt
        import pytest
        from pytest_exchange_chaos import Wave, faults

        @pytest.mark.exchange_chaos(Wave(0, "1h", faults.service_unavailable(), symbol="BTC/USDT"))
        def test_spot_symbol(chaos_bybit_sync, exchange_chaos):
            chaos_bybit_sync.load_markets()
            with pytest.raises(ccxt.ExchangeNotAvailable):
                chaos_bybit_sync.create_order("BTC/USDT", "market", "buy", 0.01)
            chaos_bybit_sync.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
            assert [(r.symbol, r.fault) for r in exchange_chaos.journal if r.method == "POST"] == [
                ("BTC/USDT", "service_unavailable"),
                ("BTC/USDT:USDT", None),
            ]
        """
    )
    _passes(chaos_pytester)


def test_bybit_spot_spends_the_unified_accounts_usdt(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        """
        def test_one_wallet(chaos_bybit_sync):
            chaos_bybit_sync.load_markets()
            chaos_bybit_sync.create_order("BTC/USDT", "market", "buy", 0.01)
            balance = chaos_bybit_sync.fetch_balance()
            assert round(balance["USDT"]["total"], 6) == 10_000 - 600.6
            assert balance["BTC"]["total"] == 0.01
            # The perpetual's margin comes out of the same, smaller wallet.
            chaos_bybit_sync.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
            assert chaos_bybit_sync.fetch_balance()["USDT"]["used"] > 0
        """
    )
    _passes(chaos_pytester)


NAKED = """
import time
import pytest


{marker}
ASYNC def test_naked_holding(EXCHANGE, exchange_chaos):
    AWAIT EXCHANGE.load_markets()
    AWAIT EXCHANGE.create_order("BTC/USDT", "market", "buy", 0.01)
    SLEEP(90)
    AWAIT EXCHANGE.create_order("BTC/USDT", "limit", "sell", 0.01, 54_000, {{"stopLossPrice": 55_000}})
    exchange_chaos.assert_positions_protected()
    [interval] = exchange_chaos.venue("{venue}").unprotected_intervals()
    assert (interval.symbol, interval.side, interval.size, interval.end is not None) == ("BTC/USDT", "long", 0.01, True)
    assert 90 <= interval.seconds < 95
    with pytest.raises(AssertionError, match="BTC/USDT on {venue} unprotected for 1m3"):
        exchange_chaos.assert_positions_protected(max_unprotected="30s")
"""


@EVERY_VENUE_AND_MODE
def test_a_holding_bought_without_a_stop_is_naked_until_one_covers_it(
    chaos_pytester: pytest.Pytester, venue: str, mode: str
) -> None:
    code = _bot(NAKED, venue, mode)
    sleep = "await __import__('asyncio').sleep" if mode == "async" else "time.sleep"
    chaos_pytester.makepyfile(code.replace("SLEEP", sleep))
    _passes(chaos_pytester)
