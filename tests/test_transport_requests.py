"""Sync ccxt (requests) through the plugin: the trading flows, and every fault as sync ccxt raises it.

The exceptions follow the "sync ccxt" column of EXCHANGE-FACTS.md where ccxt 4.5.90 agrees with
it; where it does not, the test asserts what this ccxt really does with a faithful reproduction
of what requests raises on the wire, and says so next to the case.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ccxt
import pytest
import requests

from pytest_exchange_chaos import Burst, faults
from pytest_exchange_chaos.faults import Fault
from pytest_exchange_chaos.transports.requests import timeouts

SYMBOL = "BTC/USDT:USDT"
ORDER = "POST /fapi/v1/order"
KEYS = {"apiKey": "sync-key-0123456789", "secret": "sync-secret-abcdef"}


@pytest.fixture
def binance(exchange_chaos: Any) -> Iterator[Any]:
    """Real, unmodified sync ccxt binanceusdm, with keys."""
    exchange = ccxt.binanceusdm(dict(KEYS))
    try:
        yield exchange
    finally:
        exchange.session.close()


# ccxt learned Binance's algo endpoints for conditional orders in 4.5.x (the tox `oldest` env has
# 4.5.0, which still sends stops to POST /fapi/v1/order).
ALGO_ORDERS = "fapiPrivatePostAlgoOrder" in dir(ccxt.binanceusdm)


def test_a_bot_trades_through_sync_ccxt(exchange_chaos: Any, binance: Any) -> None:
    binance.load_markets()
    assert binance.fetch_balance()["USDT"]["free"] > 0
    entry = binance.create_order(SYMBOL, "market", "buy", 0.01)
    assert entry["status"] == "closed"
    stop_params = {"stopLossPrice": 55_000, "reduceOnly": True}
    stop = binance.create_order(SYMBOL, "market", "sell", 0.01, None, stop_params)
    assert stop["triggerPrice"] == 55_000
    limit = binance.create_order(SYMBOL, "limit", "buy", 0.01, 30_000)
    if ALGO_ORDERS:
        # ccxt 4.5 keeps stops on Binance's algo endpoints, listed only with trigger=True.
        assert [o["id"] for o in binance.fetch_open_orders(SYMBOL)] == [limit["id"]]
        assert [o["id"] for o in binance.fetch_open_orders(SYMBOL, params={"trigger": True})] == [stop["id"]]
    else:
        # Older ccxt sends stops to POST /fapi/v1/order, and they list with the rest.
        assert {o["id"] for o in binance.fetch_open_orders(SYMBOL)} == {limit["id"], stop["id"]}
    assert binance.cancel_order(limit["id"], SYMBOL)["status"] == "canceled"
    assert [o["id"] for o in binance.fetch_open_orders(SYMBOL)] == ([] if ALGO_ORDERS else [stop["id"]])

    assert {r.client for r in exchange_chaos.journal} == {"requests"}
    trading = [r.intent for r in exchange_chaos.journal if r.method != "GET"]
    assert trading == ["entry", "stop_loss", "entry", "cancel"]
    exchange_chaos.assert_placed("stop_loss", symbol=SYMBOL)
    exchange_chaos.assert_positions_protected()


# (id, fault, the class sync ccxt raises); a comment marks where EXCHANGE-FACTS.md says otherwise.
FAULT_TABLE: list[tuple[str, Fault, type[Exception]]] = [
    ("502", faults.bad_gateway(), ccxt.ExchangeNotAvailable),
    ("503", faults.service_unavailable(), ccxt.ExchangeNotAvailable),
    ("500", faults.internal_server_error(), ccxt.ExchangeNotAvailable),
    *[(str(code), faults.cloudflare(code), ccxt.ExchangeNotAvailable) for code in (520, 521, 522, 525, 526)],
    # EXCHANGE-FACTS.md says ExchangeNotAvailable for 520-526; ccxt 4.5.90's httpExceptions
    # lists 520, 521, 522, 525 and 526 only, so 523 and 524 end as a plain ExchangeError.
    ("523", faults.cloudflare(523), ccxt.ExchangeError),
    ("524", faults.cloudflare(524), ccxt.ExchangeError),
    ("504", faults.gateway_timeout(), ccxt.RequestTimeout),
    ("429", faults.rate_limited(retry_after=30), ccxt.DDoSProtection),
    ("418", faults.ip_banned(retry_after=120), ccxt.DDoSProtection),
    ("-1021", faults.exchange_error(-1021, "Timestamp outside of the recvWindow."), ccxt.InvalidNonce),
    ("reset", faults.connection_reset(), ccxt.NetworkError),
    ("dns", faults.dns_failure(), ccxt.NetworkError),
    ("connect-timeout", faults.connect_timeout(), ccxt.RequestTimeout),
    ("read-timeout", faults.read_timeout(), ccxt.RequestTimeout),
    ("slow", faults.latency(30), ccxt.RequestTimeout),
    ("ghost-502", faults.ghost(faults.bad_gateway()), ccxt.ExchangeNotAvailable),
    ("binance-1021", faults.binance.timestamp_outside_recv_window(), ccxt.InvalidNonce),
    ("binance-2019", faults.binance.margin_insufficient(), ccxt.InsufficientFunds),
    ("binance-1007", faults.binance.unknown_execution_status(), ccxt.RequestTimeout),
    ("binance-1001", faults.binance.internal_error(), ccxt.OperationFailed),
]


@pytest.mark.exchange_chaos
@pytest.mark.parametrize(
    ("fault", "expected"), [(f, e) for _, f, e in FAULT_TABLE], ids=[i for i, _, _ in FAULT_TABLE]
)
def test_each_fault_reaches_sync_ccxt_as_it_would_raise_it(
    exchange_chaos: Any, binance: Any, fault: Fault, expected: type[Exception]
) -> None:
    binance.load_markets()
    exchange_chaos.add(Burst(1, fault, endpoint=ORDER))
    with pytest.raises(expected) as caught:
        binance.create_order(SYMBOL, "market", "buy", 0.01)
    # The exact class: a NetworkError row must not be satisfied by a subclass of it.
    assert type(caught.value) is expected
    (record,) = [r for r in exchange_chaos.journal if r.fault is not None]
    assert record.fault == fault.name
    assert record.client == "requests"
    assert record.intent == "entry"
    assert record.symbol == SYMBOL
    if record.status is None and expected is ccxt.RequestTimeout:
        # requests' timeout=10.0 (ccxt's 10 s) fires on the chaos clock, in no wall time,
        # counted from the moment the request went out (ccxt's throttle sleeps before it).
        assert exchange_chaos.now() - record.t == binance.timeout / 1000
    # The burst was one request long: the retry goes through.
    assert binance.create_order(SYMBOL, "market", "buy", 0.01)["status"] == "closed"


@pytest.mark.exchange_chaos(Burst(1, faults.bad_gateway(), endpoint="GET /fapi/v1/time"))
def test_the_502_carries_binances_gateway_page_and_reason(exchange_chaos: Any, binance: Any) -> None:
    with pytest.raises(ccxt.ExchangeNotAvailable) as caught:
        binance.fetch_time()
    message = str(caught.value)
    assert "502 Bad Gateway" in message
    assert "<html>" in message
    assert binance.last_response_headers["Server"] == "tk_prod_dispatcher_pg"


@pytest.mark.exchange_chaos
@pytest.mark.parametrize("code", range(520, 527))
def test_a_cloudflare_status_has_cloudflares_reason_phrase(exchange_chaos: Any, code: int) -> None:
    exchange_chaos.add(Burst(1, faults.cloudflare(code)))
    response = requests.get("https://fapi.binance.com/fapi/v1/time", timeout=5)
    assert response.status_code == code
    assert response.reason == faults.cloudflare(code).describe().split(" ", 1)[1]
    assert response.text == f"error code: {code}"
    assert response.headers["Server"] == "cloudflare"


@pytest.mark.exchange_chaos(Burst(1, faults.malformed_body(), endpoint="GET /fapi/v1/time"))
def test_a_malformed_body_is_not_json(exchange_chaos: Any, binance: Any) -> None:
    # As the table says: ccxt cannot parse it and hands back no time, without raising.
    assert binance.fetch_time() is None


@pytest.mark.exchange_chaos
def test_a_read_timeout_takes_exactly_the_configured_timeout_on_the_chaos_clock(exchange_chaos: Any) -> None:
    exchange = ccxt.binanceusdm({"timeout": 2_500})
    exchange_chaos.add(Burst(1, faults.read_timeout(), endpoint="GET /fapi/v1/time"))
    with pytest.raises(ccxt.RequestTimeout) as caught:
        exchange.fetch_time()
    assert exchange_chaos.now() == 2.5
    cause = caught.value.__cause__
    assert isinstance(cause, requests.exceptions.ReadTimeout)
    assert "Read timed out. (read timeout=2.5)" in str(cause)


@pytest.mark.exchange_chaos
def test_the_exceptions_are_shaped_like_requests_own(exchange_chaos: Any) -> None:
    url = "https://fapi.binance.com/fapi/v1/time"
    exchange_chaos.add(Burst(1, faults.connection_reset()))
    with pytest.raises(requests.exceptions.ConnectionError) as reset:
        requests.get(url, timeout=3)
    reset_text = "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))"
    assert str(reset.value) == reset_text
    assert reset.value.request is not None
    assert reset.value.request.url == url

    exchange_chaos.add(Burst(1, faults.dns_failure()))
    with pytest.raises(requests.exceptions.ConnectionError) as dns:
        requests.get(url, timeout=3)
    assert "Max retries exceeded with url: /fapi/v1/time (Caused by NameResolutionError(" in str(dns.value)
    assert "Failed to resolve 'fapi.binance.com'" in str(dns.value)

    start = exchange_chaos.now()
    exchange_chaos.add(Burst(1, faults.connect_timeout()))
    with pytest.raises(requests.exceptions.ConnectTimeout) as connect:
        requests.get(url, timeout=(1.5, 20))
    assert exchange_chaos.now() - start == 1.5
    assert "(connect timeout=1.5)" in str(connect.value)

    start = exchange_chaos.now()
    exchange_chaos.add(Burst(1, faults.latency(3)))
    assert requests.get(url, timeout=(1.5, 20)).status_code == 200
    assert exchange_chaos.now() - start == 3


@pytest.mark.parametrize(
    ("timeout", "connect", "read"),
    [(None, None, None), (10, 10.0, 10.0), ((3, 7.5), 3.0, 7.5), ((None, 4), None, 4.0)],
)
def test_requests_timeout_argument(timeout: Any, connect: float | None, read: float | None) -> None:
    parsed = timeouts(timeout)
    assert (parsed.connect, parsed.read, parsed.total) == (connect, read, None)
