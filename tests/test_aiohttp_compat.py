"""The aiohttp compatibility layer: real ClientResponse objects on every aiohttp bots pin."""

from __future__ import annotations

import aiohttp
import pytest
from yarl import URL

from pytest_exchange_chaos.transports._aiohttp_compat import build_client_response, connection_key


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [0, 10, 128 * 1024 + 1, 3 * 1024 * 1024])
async def test_bodies_of_any_size_read_back_whole(size: int) -> None:
    # aioresponses 0.7.9 trips an assertion on bodies over 128 KiB (its issue 289).
    import asyncio

    body = b"x" * size
    response = build_client_response(
        "GET",
        URL("https://fapi.binance.com/fapi/v1/exchangeInfo"),
        status=200,
        reason="OK",
        headers={"Content-Type": "application/json", "Set-Cookie": "aws-waf-token=abc; Path=/"},
        body=body,
        request_headers={"X-MBX-APIKEY": "k"},
        loop=asyncio.get_running_loop(),
    )
    async with response:
        assert await response.read() == body
        assert await response.text(errors="replace") == body.decode()
    assert response.status == 200 and response.reason == "OK"
    assert response.headers["Content-Type"] == "application/json"
    assert response.cookies["aws-waf-token"].value == "abc"
    assert response.request_info.url.host == "fapi.binance.com"
    response.raise_for_status()


@pytest.mark.asyncio
async def test_raise_for_status_carries_the_reason() -> None:
    import asyncio

    response = build_client_response(
        "POST",
        URL("https://fapi.binance.com/fapi/v1/order"),
        status=502,
        reason="Bad Gateway",
        headers={"Content-Type": "text/html"},
        body=b"<html></html>",
        request_headers={},
        loop=asyncio.get_running_loop(),
    )
    with pytest.raises(aiohttp.ClientResponseError) as caught:
        response.raise_for_status()
    assert caught.value.status == 502 and caught.value.message == "Bad Gateway"


def test_connection_key_fits_this_aiohttp() -> None:
    key = connection_key(URL("https://api.bybit.com/v5/market/time"))
    assert key.host == "api.bybit.com" and key.is_ssl is True
    error = aiohttp.ClientConnectorDNSError(key, OSError(-3, "Temporary failure in name resolution"))
    assert "api.bybit.com" in str(error)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_a_session_timeout_is_honoured_when_the_call_passes_none(exchange_chaos) -> None:  # type: ignore[no-untyped-def]
    from pytest_exchange_chaos import Burst, faults

    exchange_chaos.add(Burst(1, faults.read_timeout(), endpoint="GET /fapi/v1/time"))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=3)) as session:
        with pytest.raises(aiohttp.SocketTimeoutError):
            await session.get("https://fapi.binance.com/fapi/v1/time")
    assert exchange_chaos.now() == pytest.approx(3.0)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_raise_for_status_sessions_see_the_fault(exchange_chaos) -> None:  # type: ignore[no-untyped-def]
    from pytest_exchange_chaos import Burst, faults

    exchange_chaos.add(Burst(1, faults.service_unavailable()))
    async with aiohttp.ClientSession(raise_for_status=True) as session:
        with pytest.raises(aiohttp.ClientResponseError, match="Service Unavailable"):
            await session.get("https://fapi.binance.com/fapi/v1/time")
