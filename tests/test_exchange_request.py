"""The request every venue reads: its shortcuts must read exactly what urllib reads."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from pytest_exchange_chaos.venues.base import ExchangeRequest

FORMS = [
    "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.010&timestamp=1&signature=ab12",
    "symbol=BTCUSDT&newClientOrderId=",  # a blank value is kept
    "symbol=BTCUSDT&&side=SELL",  # an empty field is skipped
    "reduceOnly&symbol=ETHUSDT",  # a field without "=" reads as blank
    "a=1&a=2",  # the last of a repeated field wins
    "price=1%2E5&note=two+words",  # escapes are undone
    "batchOrders=%5B%7B%22symbol%22%3A%22BTCUSDT%22%7D%5D",
    "expr=a=b&x=1",  # only the first "=" splits
    "",
]


@pytest.mark.parametrize("form", FORMS)
def test_a_form_body_reads_as_parse_qsl_reads_it(form: str) -> None:
    request = ExchangeRequest("POST", "https://fapi.binance.com/fapi/v1/order", body=form.encode())
    assert request.params == dict(parse_qsl(form, keep_blank_values=True))
    assert request.form == request.params


@pytest.mark.parametrize("query", FORMS)
def test_a_query_string_reads_as_parse_qsl_reads_it(query: str) -> None:
    request = ExchangeRequest("GET", f"https://fapi.binance.com/fapi/v1/order?{query}")
    assert request.query == dict(parse_qsl(query, keep_blank_values=True))


def test_a_json_body_is_merged_over_the_query_and_reads_as_text_in_the_form() -> None:
    request = ExchangeRequest(
        "POST",
        "https://api.bybit.com/v5/order/create?category=spot&qty=1",
        body=b' {"category": "linear", "qty": 0.5, "reduceOnly": true}',
    )
    assert request.params == {"category": "linear", "qty": 0.5, "reduceOnly": True}
    assert request.form == {"category": "linear", "qty": "0.5", "reduceOnly": "True"}


@pytest.mark.parametrize("body", [b'{"truncated": ', b'{"a": 1} trailing'])
def test_a_body_that_looks_like_json_but_is_not_an_object_adds_nothing(body: bytes) -> None:
    request = ExchangeRequest("POST", "https://api.bybit.com/v5/order/create?a=1", body=body)
    assert request.params == {"a": "1"}
    assert request.form == {"a": "1"}


URLS = [
    "https://fapi.binance.com/fapi/v1/order",
    "https://FAPI.Binance.com:443/fapi/v1/order?symbol=BTCUSDT",
    "https://user:secret@fapi.binance.com:8443/x",
    "https://[::1]:8080/fapi/v1/ping",
    "https://[fe80::1%25ETH0]/zone",
    "https://api.bybit.com",
    "/relative/only",
]


@pytest.mark.parametrize("url", URLS)
def test_host_path_and_endpoint_read_as_urllib_reads_them(url: str) -> None:
    request = ExchangeRequest("GET", url)
    parts = urlsplit(url)
    assert request.host == (parts.hostname or "").lower()
    assert request.path == (parts.path or "/")
    assert request.endpoint == f"GET {parts.path or '/'}"


def test_each_of_host_path_and_endpoint_can_be_asked_first() -> None:
    url = "https://Fapi.Binance.com/fapi/v1/order"
    assert ExchangeRequest("POST", url).endpoint == "POST /fapi/v1/order"
    assert ExchangeRequest("POST", url).path == "/fapi/v1/order"
    assert ExchangeRequest("POST", url).host == "fapi.binance.com"
