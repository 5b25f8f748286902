"""A path a venue does not simulate, on a host it serves, fails the test with what was not
simulated (venue, market, method, path), even when the bot swallows the error: never a 404 that
ccxt raises as ExchangeNotAvailable, which a bot's retry loop would read as an outage.
"""

from __future__ import annotations

import pytest
from venue_harness import context

from pytest_exchange_chaos.venues import ExchangeRequest
from pytest_exchange_chaos.venues.binance import BinanceUsdmVenue
from pytest_exchange_chaos.venues.binance_spot import BinanceSpotVenue
from pytest_exchange_chaos.venues.bybit import BybitVenue

# A bot that swallows everything, the worst case: the plugin still fails the test.
SWALLOWING_BOT = """
import pytest
import ccxt


{marker}
ASYNC def test_unsimulated(EXCHANGE, exchange_chaos):
    AWAIT EXCHANGE.load_markets()
    try:
        AWAIT EXCHANGE.{call}
    except BaseException as error:  # noqa: BLE001 - the bot hides it
        assert not isinstance(error, ccxt.NetworkError)
        assert "{message} (sent with" in str(error)
    # The rest of the bot's traffic still works.
    AWAIT EXCHANGE.fetch_balance()
"""

CASES = {
    "binance-margin": (
        "binance",
        'create_order("BTC/USDT", "market", "buy", 0.001, None, {"marginMode": "cross"})',
        "binance margin POST /sapi/v1/margin/order is not simulated",
    ),
    "binance-oco": (
        "binance",
        'private_post_orderlist_oco({"symbol": "BTCUSDT"})',
        "binance spot POST /api/v3/orderList/oco is not simulated",
    ),
    "binanceusdm-adl": (
        "binanceusdm",
        "fapiprivate_get_adlquantile()",
        "binanceusdm usdm GET /fapi/v1/adlQuantile on fapi.binance.com is not simulated",
    ),
    "bybit-inverse": (
        "bybit",
        'create_order("BTC/USD:BTC", "market", "buy", 1)',
        "bybit inverse POST /v5/order/create is not simulated",
    ),
    "bybit-ledger": (
        "bybit",
        "private_get_v5_account_transaction_log()",
        "bybit v5 GET /v5/account/transaction-log is not simulated",
    ),
}


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_an_unsimulated_endpoint_fails_the_test_even_when_the_bot_swallows_it(
    chaos_pytester: pytest.Pytester, case: str, mode: str
) -> None:
    venue, call, message = CASES[case]
    fixture = f"chaos_{venue}" if mode == "async" else f"chaos_{venue}_sync"
    code = SWALLOWING_BOT.format(
        marker="@pytest.mark.asyncio" if mode == "async" else "", call=call, message=message
    ).replace("EXCHANGE", fixture)
    if mode == "async":
        code = code.replace("ASYNC def", "async def").replace("AWAIT ", "await ")
    else:
        code = code.replace("ASYNC def", "def").replace("AWAIT ", "")
    chaos_pytester.makepyfile(code)
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*exchange-chaos refused {message} (sent with *): the simulated venue serves this host but "
            "not this endpoint*see docs/howto/venues.md#what-each-venue-simulates*"
        ]
    )
    assert "404 Not" not in result.stdout.str()
    assert "ExchangeNotAvailable" not in result.stdout.str()


def test_the_bot_sees_a_refusal_it_cannot_catch_as_an_exception(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        """
        def test_retrying_bot(chaos_binance_sync):
            chaos_binance_sync.load_markets()
            for attempt in range(5):
                try:
                    chaos_binance_sync.sapi_get_margin_account()
                    break
                except Exception:
                    continue
        """
    )
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    # UnservedRequestError is a BaseException: the retry loop's `except Exception` never saw it.
    result.stdout.fnmatch_lines(
        ["*UnservedRequestError: exchange-chaos refused binance margin GET /sapi/v1/margin/account*"]
    )
    assert result.stdout.str().count("sapi/v1/margin/account is not simulated (sent with requests)") >= 1


@pytest.mark.parametrize(
    ("venue", "method", "url", "expected"),
    [
        (BinanceSpotVenue, "GET", "https://api.binance.com/api/v3/order", None),
        (BinanceSpotVenue, "GET", "https://api.binance.com/sapi/v1/capital/config/getall", None),
        (
            BinanceSpotVenue,
            "PUT",
            "https://api.binance.com/api/v3/order",
            "binance spot PUT /api/v3/order is not simulated",
        ),
        (BinanceUsdmVenue, "POST", "https://fapi.binance.com/fapi/v1/order", None),
        # Alone (no spot venue beside it), it still answers what a futures bot loads markets with.
        (BinanceUsdmVenue, "GET", "https://api.binance.com/api/v3/exchangeInfo", None),
        (
            BinanceUsdmVenue,
            "GET",
            "https://api.binance.com/fapi/v1/exchangeInfo",
            "binanceusdm usdm GET /fapi/v1/exchangeInfo on api.binance.com is not simulated",
        ),
        (BybitVenue, "POST", "https://api.bybit.com/v5/order/create?category=spot", None),
        (BybitVenue, "GET", "https://api.bybit.com/v5/position/list?category=linear", None),
        (
            BybitVenue,
            "GET",
            "https://api.bybit.com/v5/position/list?category=spot",
            "bybit spot GET /v5/position/list is not simulated",
        ),
        (
            BybitVenue,
            "GET",
            "https://api.bybit.com/v5/order/realtime?category=option",
            "bybit option GET /v5/order/realtime is not simulated",
        ),
        (
            BybitVenue,
            "POST",
            "https://api.bybit.com/v5/market/time",
            "bybit v5 POST /v5/market/time is not simulated",
        ),
    ],
)
def test_each_venue_says_what_it_does_not_simulate(
    venue: type[BinanceSpotVenue | BinanceUsdmVenue | BybitVenue], method: str, url: str, expected: str | None
) -> None:
    assert venue(context()).not_simulated(ExchangeRequest(method, url)) == expected
