"""API keys, secrets and signatures never reach the journal, the JSON report or a failure message.

Real ccxt signs real requests (sync over requests, async over aiohttp) with recognisable
credentials; every signature it produced is recorded, and none of it may appear in anything
the plugin writes or prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_exchange_chaos._redact import (
    is_credential,
    redact_body,
    redact_headers,
    redact_report,
    redact_text,
    redact_url,
)
from pytest_exchange_chaos.engine import UnservedRequest
from pytest_exchange_chaos.errors import UnservedRequestError
from pytest_exchange_chaos.venues.base import ExchangeRequest

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
def test_sync_bot_fails_with_its_keys_in_locals_and_logs(exchange_chaos, sync_binance):
    # ccxt's verbose mode prints the request headers; its logger writes them at DEBUG.
    sync_binance.verbose = True
    sync_binance.load_markets()
    sync_binance.fetch_balance()
    headers = sync_binance.last_request_headers
    url = sync_binance.last_request_url
    assert exchange_chaos.journal[-1].url == url, headers


@pytest.mark.exchange_chaos
def test_sync_bot_reaches_an_unserved_host_through_ccxt(exchange_chaos, sync_binance):
    # Uncaught: the guard's error crosses ccxt and requests, whose frames hold the key.
    sync_binance.urls["api"]["fapiPrivateV3"] = "https://fapi.binance.example/fapi/v3"
    sync_binance.fetch_balance()


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_async_bot_reaches_an_unserved_host_through_ccxt(exchange_chaos, async_binance):
    async_binance.urls["api"]["fapiPrivateV3"] = "https://fapi.binance.example/fapi/v3"
    await async_binance.fetch_balance()


@pytest.mark.exchange_chaos
def test_hand_written_credentials_to_unserved_hosts(exchange_chaos, sync_binance):
    # The way a bot's own helpers send them: HTX's AccessKeyId, a key, a token, an api-key
    # and a user:password in the URL, a bearer token and a passphrase in the headers.
    API_KEY, SECRET = sync_binance.apiKey, sync_binance.secret
    for url, headers in [
        (f"https://api.huobi.example/v1/account/accounts?AccessKeyId={API_KEY}&SignatureMethod=HmacSHA256"
         f"&SignatureVersion=2&Timestamp=2026-01-01T00%3A00%3A00&Signature=SIG{SECRET}", {}),
        (f"https://feed.example/v1/prices?key={API_KEY}&token={SECRET}&api-key={API_KEY}", {}),
        (f"https://{API_KEY}:{SECRET}@alerts.example/notify", {}),
        ("https://okx.example/api/v5/account/balance",
         {"Authorization": f"Bearer {SECRET}", "OK-ACCESS-PASSPHRASE": SECRET, "OK-ACCESS-KEY": API_KEY}),
    ]:
        try:
            requests.get(url, headers=headers)
        except BaseException:
            pass


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
    # Everything a CI run may keep: locals in tracebacks (-l), junit.xml with the captured
    # output and logs, ccxt's DEBUG log of every request, the JSON report and the timeline.
    result = chaos_pytester.runpytest(
        "-vv",
        "-rA",
        "-l",
        "--junitxml=junit.xml",
        "-o",
        "junit_logging=all",
        "--log-level=DEBUG",
        "--chaos-report=report.json",
        "--chaos-timeline=timeline.html",
        "--chaos-seed=3",
    )
    result.assert_outcomes(passed=1, failed=7)
    output = result.stdout.str() + result.stderr.str()
    report = (chaos_pytester.path / "report.json").read_text()
    junit = (chaos_pytester.path / "junit.xml").read_text()
    timeline = (chaos_pytester.path / "timeline.html").read_text()
    signatures = json.loads((chaos_pytester.path / "signatures.json").read_text())

    # The flows really were signed, and the failures really are the plugin's own messages.
    assert len(signatures) >= 10
    assert "retry budget broken" in output
    assert "stop-loss" in output
    assert "exchange-chaos refused GET https://fapi.binance.example/fapi/v3/account?" in output
    assert "signature=%2A%2A%2A" in output or "signature=***" in output
    assert len(json.loads(report)["tests"]) == 8
    # What would have leaked was really shown, redacted: ccxt's locals, its log, the guard's
    # messages for the hand-written requests.
    assert "'X-MBX-APIKEY': '***'" in output
    assert "fetch Request: binanceusdm GET" in output
    assert "Captured log call" in output
    assert "exchange-chaos refused GET https://fapi.binance.example/fapi/v3/account?" in junit
    # A refused request's message hides every query value, credential-named or not.
    assert "AccessKeyId=***&SignatureMethod=***&SignatureVersion=***" in output
    assert "key=***&token=***&api-key=***" in output
    assert "https://***@alerts.example/notify" in output
    assert "fapi.binance.example" in timeline or "/fapi/v3/account" in timeline

    for secret in (API_KEY, SECRET, *signatures):
        for name, text in (
            ("JSON report", report),
            ("output", output),
            ("junit.xml", junit),
            ("timeline", timeline),
        ):
            assert secret not in text, f"{secret!r} leaked into the {name}"


# The policy itself: pure, no pytest run.

CREDENTIAL_NAMES = [
    "signature", "sign", "Signature", "AccessKeyId", "X-MBX-APIKEY", "X-BAPI-API-KEY", "X-BAPI-SIGN",
    "api_key", "apiKey", "api-key", "key", "KEY", "token", "x-phemex-access-token", "listenKey",
    "secret", "passphrase", "OK-ACCESS-PASSPHRASE", "password", "Authorization", "Proxy-Authorization",
    "Cookie", "Set-Cookie", "X-Auth", "X-Authentication", "publicKey", "TAPI-MAC", "access_id", "X-Device-Id", "API-Hash", "request-api", "uid",
    "UserId", "clientId", "sessionId", "credentials",
]  # fmt: skip
INNOCUOUS_NAMES = [
    "symbol", "orderId", "newClientOrderId", "origClientOrderId", "orderLinkId", "recvWindow", "timestamp",
    "Timestamp", "side", "type", "quantity", "price", "stopPrice", "reduceOnly", "category", "limit",
    "SignatureMethod", "SignatureVersion", "X-BAPI-SIGN-TYPE", "X-BAPI-TIMESTAMP", "X-BAPI-RECV-WINDOW",
    "Content-Type", "User-Agent", "Accept-Encoding", "nonce", "session", "monkeypatch",
]  # fmt: skip


@pytest.mark.parametrize("name", CREDENTIAL_NAMES)
def test_a_credential_is_known_by_the_shape_of_its_name(name: str) -> None:
    assert is_credential(name)


@pytest.mark.parametrize("name", INNOCUOUS_NAMES)
def test_what_a_trader_reads_stays_readable(name: str) -> None:
    assert not is_credential(name)


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        (
            "https://fapi.binance.com/fapi/v1/order?symbol=BTCUSDT&timestamp=1&signature=ab12",
            "https://fapi.binance.com/fapi/v1/order?symbol=BTCUSDT&timestamp=1&signature=***",
        ),
        (
            "https://api.huobi.pro/v1/order?AccessKeyId=k1&SignatureMethod=HmacSHA256&Signature=s%2Bg%3D",
            "https://api.huobi.pro/v1/order?AccessKeyId=***&SignatureMethod=HmacSHA256&Signature=***",
        ),
        (
            "https://x.example/v1?key=k&token=t&api-key=a&symbol=B",
            "https://x.example/v1?key=***&token=***&api-key=***&symbol=B",
        ),
        ("https://user:pass@x.example:8443/v1/a?b=1", "https://***@x.example:8443/v1/a?b=1"),
        ("https://x.example/users/@me?api%5Fkey=k#frag", "https://x.example/users/@me?api%5Fkey=***#frag"),
        ("https://x.example/v1?signature=&flag", "https://x.example/v1?signature=&flag"),
    ],
)
def test_a_url_shows_everything_but_its_credentials(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted
    assert redact_url(redacted) == redacted


def test_a_url_with_nothing_to_hide_is_returned_as_it_is() -> None:
    # The journal redacts every request's URL: the common case must cost nothing.
    url = "https://fapi.binance.com/fapi/v1/order"
    assert redact_url(url) is url
    signed_free = "https://fapi.binance.com/fapi/v1/ticker/price?symbol=BTCUSDT"
    assert redact_url(signed_free) is signed_free


def test_headers_and_bodies_hide_their_credentials() -> None:
    headers = {"X-MBX-APIKEY": "k", "Content-Type": "application/json", "authorization": "Bearer t"}
    assert redact_headers(headers) == {
        "X-MBX-APIKEY": "***",
        "Content-Type": "application/json",
        "authorization": "***",
    }
    assert (
        redact_body(b"symbol=BTCUSDT&timestamp=1&signature=ab12")
        == b"symbol=BTCUSDT&timestamp=1&signature=***"
    )
    assert json.loads(
        redact_body(b'{"api_key": "k", "orders": [{"sign": "s", "qty": 1}], "symbol": "B"}')
    ) == {
        "api_key": "***",
        "orders": [{"sign": "***", "qty": 1}],
        "symbol": "B",
    }
    unchanged = b'{"symbol":"BTCUSDT","qty":"0.01"}'
    assert redact_body(unchanged) is unchanged
    binary = b"\xff\xfe\x00"
    assert redact_body(binary) is binary


def test_an_exchange_request_repr_hides_credentials_and_keeps_the_rest() -> None:
    request = ExchangeRequest(
        "POST",
        "https://fapi.binance.com/fapi/v1/order?timestamp=1&signature=SIGVALUE123",
        {"X-MBX-APIKEY": "KEYVALUE123", "Content-Type": "application/x-www-form-urlencoded"},
        b"symbol=BTCUSDT&side=BUY&signature=SIGVALUE456",
        "requests",
    )
    shown = repr(request)
    for secret in ("SIGVALUE123", "KEYVALUE123", "SIGVALUE456"):
        assert secret not in shown
    assert (
        "ExchangeRequest(method='POST', url='https://fapi.binance.com/fapi/v1/order?timestamp=1&signature=***'"
        in shown
    )
    assert "'X-MBX-APIKEY': '***', 'Content-Type': 'application/x-www-form-urlencoded'" in shown
    assert "body=b'symbol=BTCUSDT&side=BUY&signature=***'" in shown
    # Only the repr: the venues still read the real request.
    assert request.header("X-MBX-APIKEY") == "KEYVALUE123"
    assert request.form["signature"] == "SIGVALUE456"


def test_the_guard_message_redacts_whatever_built_it() -> None:
    raw = "GET https://u:p@x.example/a?key=KEYVALUE123&symbol=B (sent with urllib)"
    message = str(UnservedRequestError(raw))
    assert "KEYVALUE123" not in message and "u:p@" not in message
    assert "https://***@x.example/a?key=***&symbol=B" in message
    described = UnservedRequest(0.0, "GET", "https://x.example/a?token=TOKENVALUE1", "requests").describe()
    assert described == "GET https://x.example/a?token=*** (sent with requests)"


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("headers    = {'X-MBX-APIKEY': 'KEYVALUE123', 'User-Agent': 'python-requests/2.32'}", "KEYVALUE123"),
        ('{"apiKey":"KEYVALUE123","symbol":"BTCUSDT"}', "KEYVALUE123"),
        ("fetch(api_key='KEYVALUE123', symbol='BTCUSDT')", "KEYVALUE123"),
        ("Authorization: Bearer TOKENVALUE1", "TOKENVALUE1"),
        ("  OK-ACCESS-PASSPHRASE: PASSVALUE1", "PASSVALUE1"),
        (
            "binanceusdm GET https://fapi.binance.com/fapi/v3/account?timestamp=1&signature=SIGVALUE1 502",
            "SIGVALUE1",
        ),
        # pytest cut the repr in its middle: the name lost its opening quote.
        (
            "{'url': 'https://fapi.binance.com/fapi/v3/account?signature=SIGV...IKEY': 'KEYVALUE123', 'A': 'b'}",
            "KEYVALUE123",
        ),
    ],
)
def test_free_text_hides_every_credential_it_names(text: str, hidden: str) -> None:
    shown = redact_text(text)
    assert hidden not in shown
    assert "***" in shown


def test_a_secret_cut_short_by_pytest_is_hidden_where_its_name_was_cut_away() -> None:
    # One local shows the key in full; another repr, cut in its middle, shows only its end.
    @dataclass
    class Locals:
        lines: list[str]

    @dataclass
    class Report:
        longrepr: Any
        sections: list[tuple[str, str]]

    Locals.__name__ = "ReprLocals"
    report = Report(
        Locals(
            [
                "headers    = {'X-MBX-APIKEY': 'KEYVALUE123456', 'User-Agent': 'python-requests/2.32'}",
                "request    = {'url': 'https://fapi.binance.com/fapi/v3/account?recvWindow=10...UE123456', 'A': 'b'}",
                "secret     = 'SECRETVALUE789'",
                "symbol     = 'BTCUSDT'",
            ]
        ),
        [("Captured stdout call", "signing with SECRETVALUE789 for BTCUSDT\n")],
    )
    redact_report(report)
    shown = "\n".join(report.longrepr.lines) + report.sections[0][1]
    assert "KEYVALUE" not in shown and "UE123456" not in shown and "SECRETVALUE789" not in shown
    assert "symbol     = 'BTCUSDT'" in shown and "for BTCUSDT" in shown


def test_a_report_this_walk_does_not_know_is_redacted_as_text() -> None:
    @dataclass(frozen=True)
    class Frozen:
        lines: tuple[str, ...]

        def __str__(self) -> str:
            return "\n".join(self.lines)

    @dataclass
    class Report:
        longrepr: Any
        sections: list[tuple[str, str]]

    report = Report(Frozen(("headers = {'X-MBX-APIKEY': 'KEYVALUE123456'}", "then KEYVALUE123456 alone")), [])
    redact_report(report)
    assert isinstance(report.longrepr, str)
    assert "KEYVALUE123456" not in report.longrepr
    assert "then *** alone" in report.longrepr
