"""The ghost ccxt hides: Cloudflare's 524 after the exchange executed the order.

Pinned through real ccxt, async and sync, on both venues: async ccxt 4.5 raises nothing and
returns an "order" whose id is None, sync ccxt raises a plain ExchangeError (not a NetworkError),
and the exchange holds the order all the same. A bot that retries places it twice, and
``assert_no_duplicate_orders`` says so.
"""

from __future__ import annotations

import pytest

from pytest_exchange_chaos import faults, profiles
from pytest_exchange_chaos.faults import CloudflareTimeout, Ghost

WHAT_CCXT_DOES = """
import ccxt
import pytest

from pytest_exchange_chaos import Burst, faults

SYMBOL = "BTC/USDT:USDT"


def check_the_wire(exchange, exchange_chaos, host):
    (record,) = [r for r in exchange_chaos.journal if r.intent == "entry"]
    assert (record.fault, record.status, record.executed) == ("cloudflare_timeout", 524, True)
    assert record.order_id is not None  # the exchange placed it
    assert exchange.last_response_headers["Server"] == "cloudflare"
    assert exchange.last_response_headers["Content-Type"] == "text/html; charset=UTF-8"
    assert exchange.last_response_headers["CF-RAY"].endswith("-NRT")
    assert f"<title>{host} | 524: A timeout occurred</title>" in exchange.last_http_response
    assert "Cloudflare Ray ID" in exchange.last_http_response
    (position,) = [p for v in exchange_chaos.venues for p in v.positions()]
    assert position.side == "long"


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.cloudflare_timeout(), intent="entry"))
@pytest.mark.parametrize(
    ("fixture", "host"), [("chaos_binanceusdm", "fapi.binance.com"), ("chaos_bybit", "api.bybit.com")]
)
async def test_async_ccxt_returns_an_order_without_an_id(request, exchange_chaos, fixture, host):
    exchange = request.getfixturevalue(fixture)
    await exchange.load_markets()
    order = await exchange.create_order(SYMBOL, "market", "buy", 0.01)  # raises nothing
    assert order["id"] is None
    check_the_wire(exchange, exchange_chaos, host)


@pytest.mark.exchange_chaos(Burst(1, faults.cloudflare_timeout(), intent="entry"))
@pytest.mark.parametrize(
    ("fixture", "host"),
    [("chaos_binanceusdm_sync", "fapi.binance.com"), ("chaos_bybit_sync", "api.bybit.com")],
)
def test_sync_ccxt_raises_an_error_it_will_not_retry(request, exchange_chaos, fixture, host):
    exchange = request.getfixturevalue(fixture)
    exchange.load_markets()
    with pytest.raises(ccxt.ExchangeError) as raised:
        exchange.create_order(SYMBOL, "market", "buy", 0.01)
    assert not isinstance(raised.value, ccxt.NetworkError)
    assert exchange.last_http_response is not None
    check_the_wire(exchange, exchange_chaos, host)
"""


def test_real_ccxt_cannot_see_the_order_cloudflare_hid(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(test_ghost=WHAT_CCXT_DOES)
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


RETRYING_BOTS = """
import ccxt
import pytest

from pytest_exchange_chaos import profiles

SYMBOL = "BTC/USDT:USDT"


async def place_entry_async(exchange):
    for _ in range(3):
        order = await exchange.create_order(SYMBOL, "market", "buy", 0.01)
        if order["id"] is not None:
            return order
    raise RuntimeError("no order id after 3 tries")


def place_entry_sync(exchange):
    for attempt in range(3):
        try:
            return exchange.create_order(SYMBOL, "market", "buy", 0.01)
        except ccxt.ExchangeError:
            if attempt == 2:
                raise


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(profiles.ghost_orders(start=0, rate=1.0), seed=1)
@pytest.mark.parametrize("fixture", ["chaos_binanceusdm", "chaos_bybit"])
async def test_async_bot(request, exchange_chaos, fixture):
    exchange = request.getfixturevalue(fixture)
    await exchange.load_markets()
    with pytest.raises(RuntimeError, match="no order id"):
        await place_entry_async(exchange)
    exchange_chaos.assert_no_duplicate_orders()


@pytest.mark.exchange_chaos(profiles.ghost_orders(start=0, rate=1.0), seed=1)
@pytest.mark.parametrize("fixture", ["chaos_binanceusdm_sync", "chaos_bybit_sync"])
def test_sync_bot(request, exchange_chaos, fixture):
    exchange = request.getfixturevalue(fixture)
    exchange.load_markets()
    with pytest.raises(ccxt.ExchangeError):
        place_entry_sync(exchange)
    exchange_chaos.assert_no_duplicate_orders()
"""


def test_a_bot_that_retries_after_the_524_places_the_order_three_times(
    chaos_pytester: pytest.Pytester,
) -> None:
    chaos_pytester.makepyfile(test_bots=RETRYING_BOTS)
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=4)
    out = result.stdout.str()
    assert out.count("1 order(s) placed more than once") == 4, out
    assert out.count("was placed 3 times") == 4, out
    assert "bot saw cloudflare_timeout" in out


HARDENED_BOT = """
import pytest

from pytest_exchange_chaos import Burst, faults

SYMBOL = "BTC/USDT:USDT"


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.cloudflare_timeout(), intent="entry"))
async def test_looking_the_order_up_by_its_client_id_finds_the_ghost(chaos_binanceusdm, exchange_chaos):
    exchange = chaos_binanceusdm
    params = {"newClientOrderId": "entry-0001"}
    order = await exchange.create_order(SYMBOL, "market", "buy", 0.01, params=params)
    if order["id"] is None:  # a 524: the order may exist
        order = await exchange.fetch_order(None, SYMBOL, {"origClientOrderId": "entry-0001"})
    assert order["id"] is not None and order["status"] == "closed"
    exchange_chaos.assert_no_duplicate_orders()
"""


def test_a_bot_that_looks_the_order_up_passes(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(test_hardened=HARDENED_BOT)
    chaos_pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_preset_is_a_ghost_and_a_524_without_executing_is_not() -> None:
    ghost = faults.cloudflare_timeout()
    assert isinstance(ghost, Ghost) and ghost.executes and ghost.name == "cloudflare_timeout"
    assert ghost.describe() == "524 A Timeout Occurred (Cloudflare) (but the exchange executed it)"
    plain = faults.cloudflare_timeout(executed=False)
    assert isinstance(plain, CloudflareTimeout) and not plain.executes
    with pytest.raises(TypeError, match=r"cloudflare_timeout\(executed='yes'\)"):
        faults.cloudflare_timeout(executed="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="after"):
        faults.cloudflare_timeout(after=-1)


SLOW_CLOUDFLARE = """
import ccxt
import pytest

from pytest_exchange_chaos import Burst, faults


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.cloudflare_timeout(after="100s"), intent="entry"))
async def test_the_bots_own_timeout_fires_first(chaos_binanceusdm, exchange_chaos):
    await chaos_binanceusdm.load_markets()
    with pytest.raises(ccxt.RequestTimeout):  # ccxt waits 10 s; Cloudflare waited 100 s
        await chaos_binanceusdm.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    (record,) = [r for r in exchange_chaos.journal if r.intent == "entry"]
    assert record.executed and record.status is None and record.delay == 10
"""


def test_a_524_slower_than_the_bots_timeout_ends_as_that_timeout(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(test_slow=SLOW_CLOUDFLARE)
    chaos_pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_ghost_orders_profile_sends_524s_on_every_venue() -> None:
    assert "ghost_orders" in profiles.PROFILES
    (wave,) = profiles.ghost_orders()
    assert (wave.start, wave.end, wave.rate) == (60.0, 660.0, 0.3)
    assert wave.fault.name == "cloudflare_timeout" and wave.fault.executes
    assert wave.matcher.venue is None and wave.matcher.intent == frozenset(profiles.ORDER_PLACEMENT)
