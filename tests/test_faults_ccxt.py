"""Every fault through real async ccxt: the exception class the bot sees, per EXCHANGE-FACTS.md.

Where ccxt's own mapping differs from that table for the installed version, the test asserts
what ccxt really does and says so; the point is that the wire is reproduced faithfully.
"""

from __future__ import annotations

import ccxt
import pytest

from pytest_exchange_chaos import Burst, faults
from pytest_exchange_chaos.faults import Fault

ORDER = "POST /fapi/v1/order"

FAULT_TABLE: list[tuple[str, Fault, type[Exception]]] = [
    ("502", faults.bad_gateway(), ccxt.ExchangeNotAvailable),
    ("503", faults.service_unavailable(), ccxt.ExchangeNotAvailable),
    ("500", faults.internal_server_error(), ccxt.ExchangeNotAvailable),
    *[(str(code), faults.cloudflare(code), ccxt.ExchangeNotAvailable) for code in (520, 521, 522, 525, 526)],
    ("504", faults.gateway_timeout(), ccxt.RequestTimeout),
    ("429", faults.rate_limited(retry_after=30), ccxt.DDoSProtection),
    ("418", faults.ip_banned(retry_after=120), ccxt.DDoSProtection),
    ("reset", faults.connection_reset(), ccxt.ExchangeNotAvailable),
    ("dns", faults.dns_failure(), ccxt.ExchangeNotAvailable),
    ("connect-timeout", faults.connect_timeout(), ccxt.RequestTimeout),
    ("read-timeout", faults.read_timeout(), ccxt.RequestTimeout),
    ("slow", faults.latency(30), ccxt.RequestTimeout),
    ("ghost-read-timeout", faults.ghost(faults.read_timeout()), ccxt.RequestTimeout),
    ("-1021", faults.binance.timestamp_outside_recv_window(), ccxt.InvalidNonce),
    ("-2019", faults.binance.margin_insufficient(), ccxt.InsufficientFunds),
    ("-1007", faults.binance.unknown_execution_status(), ccxt.RequestTimeout),
    ("-1001", faults.binance.internal_error(), ccxt.OperationFailed),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fault", "expected"), [(f, e) for _, f, e in FAULT_TABLE], ids=[i for i, _, _ in FAULT_TABLE]
)
async def test_each_fault_reaches_the_bot_as_ccxt_would_raise_it(
    exchange_chaos,
    binance,
    fault: Fault,
    expected: type[Exception],  # type: ignore[no-untyped-def]
) -> None:
    await binance.load_markets()
    exchange_chaos.add(Burst(1, fault, endpoint=ORDER))
    sent_at = exchange_chaos.now()
    with pytest.raises(expected) as caught:
        await binance.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    assert type(caught.value) is expected or expected in type(caught.value).__mro__
    (record,) = [r for r in exchange_chaos.journal if r.fault is not None]
    assert record.fault == fault.name
    assert record.intent == "entry" and record.symbol == "BTC/USDT:USDT"
    # A timeout ends after the client's own timeout (ccxt: 10 s) on the chaos clock.
    if expected is ccxt.RequestTimeout and record.status is None:
        assert exchange_chaos.now() - record.t == pytest.approx(binance.timeout / 1000)
    assert record.t >= sent_at
    # The next attempt goes through: the burst was one request long.
    order = await binance.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    assert order["status"] == "closed"


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.bad_gateway(), endpoint="GET /fapi/v1/time"))
async def test_the_502_is_binances_own(exchange_chaos, binance) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ccxt.ExchangeNotAvailable) as caught:
        await binance.fetch_time()
    message = str(caught.value)
    assert "502 Bad Gateway" in message and "<html>" in message
    assert binance.last_response_headers["Server"] == "tk_prod_dispatcher_pg"


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.malformed_body(), endpoint="GET /fapi/v1/time"))
async def test_a_malformed_body_is_not_json(exchange_chaos, binance) -> None:  # type: ignore[no-untyped-def]
    # ccxt cannot parse it and hands back what it could: not an exception, not a time.
    result = await binance.fetch_time()
    assert not isinstance(result, int)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.latency(2.5), endpoint="GET /fapi/v1/time"))
async def test_latency_within_the_timeout_just_delays(exchange_chaos, binance) -> None:  # type: ignore[no-untyped-def]
    start = exchange_chaos.now()
    assert isinstance(await binance.fetch_time(), int)
    assert exchange_chaos.now() - start == pytest.approx(2.5, abs=0.01)
    (record,) = exchange_chaos.journal
    assert record.fault == "latency" and record.status == 200 and record.accepted


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.ghost(faults.bad_gateway()), endpoint=ORDER))
async def test_a_ghost_places_the_order_the_bot_thinks_failed(exchange_chaos, binance) -> None:  # type: ignore[no-untyped-def]
    await binance.load_markets()
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await binance.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    (record,) = [r for r in exchange_chaos.journal if r.intent == "entry"]
    assert record.executed and record.fault == "ghost(bad_gateway)" and record.order_id
    (position,) = exchange_chaos.venue("binanceusdm").positions()
    assert position.side == "long" and position.contracts == pytest.approx(0.01)


@pytest.mark.asyncio
@pytest.mark.parametrize("code", [523, 524])
async def test_cloudflare_523_and_524_pass_silently_through_ccxt(exchange_chaos, binance, code: int) -> None:  # type: ignore[no-untyped-def]
    # EXCHANGE-FACTS.md lists 520-526 as ExchangeNotAvailable, but ccxt 4.5's httpExceptions has
    # no 523 or 524: create_order raises nothing and returns an "order" with no id. A bot that
    # trusts the return value believes it placed an order that does not exist.
    await binance.load_markets()
    exchange_chaos.add(Burst(1, faults.cloudflare(code), endpoint=ORDER))
    order = await binance.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    assert order["id"] is None and order["info"] == f"error code: {code}"
    assert exchange_chaos.venue("binanceusdm").positions() == []
