"""API keys, secrets and signatures never reach the journal, the JSON report or a failure message.

Real ccxt signs real requests (sync over requests, async over aiohttp) with recognisable
credentials; every signature it produced is recorded, and none of it may appear in anything
the plugin writes or prints.
"""

from __future__ import annotations

import json

import pytest

API_KEY = "LEAKCHECKapikey7f3a9c1e5b"
SECRET = "LEAKCHECKsecret2d8e4b6a0f"

CONFTEST = f"""
import json
import pathlib

import ccxt
import ccxt.async_support
import pytest
import pytest_asyncio

API_KEY = {API_KEY!r}
SECRET = {SECRET!r}
SIGNATURES = []


def _record(exchange):
    # Observe what ccxt signs, without changing it: the test must know every signature value.
    sign = exchange.sign

    def recording_sign(*args, **kwargs):
        request = sign(*args, **kwargs)
        for part in (request["url"], request.get("body") or ""):
            for pair in str(part).replace("?", "&").split("&"):
                if pair.startswith("signature="):
                    SIGNATURES.append(pair.split("=", 1)[1])
        return request

    exchange.sign = recording_sign
    return exchange


@pytest.fixture
def sync_binance():
    return _record(ccxt.binanceusdm({{"apiKey": API_KEY, "secret": SECRET}}))


@pytest_asyncio.fixture
async def async_binance():
    exchange = _record(ccxt.async_support.binanceusdm({{"apiKey": API_KEY, "secret": SECRET}}))
    yield exchange
    await exchange.close()


def pytest_sessionfinish(session):
    pathlib.Path("signatures.json").write_text(json.dumps(SIGNATURES))
"""

BOTS = """
import ccxt
import pytest
import requests
from pytest_exchange_chaos import Budget, Burst, faults

SYMBOL = "BTC/USDT:USDT"


@pytest.mark.exchange_chaos(Burst(2, faults.bad_gateway(), endpoint="GET /fapi/v3/account"))
def test_sync_flow_with_faults(exchange_chaos, sync_binance):
    sync_binance.load_markets()
    for _ in range(3):
        try:
            sync_binance.fetch_balance()
            break
        except ccxt.ExchangeNotAvailable:
            pass
    sync_binance.create_order(SYMBOL, "market", "buy", 0.01)
    sync_binance.create_order(SYMBOL, "market", "sell", 0.01, None, {"stopLossPrice": 55000, "reduceOnly": True})
    assert [r.path for r in exchange_chaos.journal if r.status == 502] == ["/fapi/v3/account"] * 2


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(5, faults.ghost(faults.gateway_timeout()), endpoint="POST /fapi/v1/order"))
@pytest.mark.retry_budget(entry=Budget(attempts=2))
async def test_async_flow_breaks_its_budget(exchange_chaos, async_binance):
    await async_binance.load_markets()
    for _ in range(3):
        try:
            await async_binance.create_order(SYMBOL, "market", "buy", 0.01)
        except ccxt.RequestTimeout:
            pass
    await async_binance.fetch_open_orders(SYMBOL)


@pytest.mark.exchange_chaos
def test_sync_assertion_fails(exchange_chaos, sync_binance):
    sync_binance.load_markets()
    sync_binance.fetch_open_orders(SYMBOL)
    exchange_chaos.assert_placed("stop_loss", symbol=SYMBOL)


@pytest.mark.exchange_chaos
def test_a_signed_request_to_an_unserved_host(exchange_chaos, sync_binance):
    # A signed call the bot sends to a host no venue serves: the guard names it, redacted.
    sync_binance.fetch_balance()
    url = sync_binance.last_request_url.replace("fapi.binance.com", "fapi.binance.example")
    try:
        requests.get(url, headers={"X-MBX-APIKEY": sync_binance.apiKey})
    except BaseException:
        pass
"""


def test_no_credential_or_signature_is_written_or_printed(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makeconftest(CONFTEST)
    chaos_pytester.makepyfile(test_bots=BOTS)
    result = chaos_pytester.runpytest("-vv", "-rA", "--chaos-report=report.json", "--chaos-seed=3")
    result.assert_outcomes(passed=1, failed=3)
    output = result.stdout.str() + result.stderr.str()
    report = (chaos_pytester.path / "report.json").read_text()
    signatures = json.loads((chaos_pytester.path / "signatures.json").read_text())

    # The flows really were signed, and the failures really are the plugin's own messages.
    assert len(signatures) >= 10
    assert "retry budget broken" in output
    assert "stop-loss" in output
    assert "exchange-chaos refused GET https://fapi.binance.example/fapi/v3/account?" in output
    assert "signature=%2A%2A%2A" in output or "signature=***" in output
    assert len(json.loads(report)["tests"]) == 4

    for secret in (API_KEY, SECRET, *signatures):
        assert secret not in report, f"{secret!r} leaked into the JSON report"
        assert secret not in output, f"{secret!r} leaked into the test output"
