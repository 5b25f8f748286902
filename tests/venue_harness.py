"""Run real, unmodified ccxt against a simulated venue by replacing only its socket.

``attach(exchange, venue)`` swaps the exchange instance's ``fetch`` for one that hands the
request ccxt built and signed to the venue, then feeds the venue's reply through ccxt's own
``on_rest_response``, ``parse_json``, ``handle_errors`` and ``handle_http_status_code``, in
the order ``ccxt/async_support/base/exchange.py::fetch`` (or the sync ``fetch``) uses them
after the HTTP call. Request building, signing, parsing and error mapping all stay ccxt's.
"""

from __future__ import annotations

import http
import inspect
import random
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_exchange_chaos.venues.base import Call, ExchangeRequest, Venue, VenueContext, VenueReply


def _binance_sends_stops_to_algo_orders() -> bool:
    import ccxt

    return "fapiPrivatePostAlgoOrder" in inspect.getsource(ccxt.binance.create_order)


# ccxt >= 4.5.27 sends Binance stops to POST /fapi/v1/algoOrder; the oldest supported ccxt (tox's
# `oldest` env) still sends them to POST /fapi/v1/order.
ALGO_STOPS = _binance_sends_stops_to_algo_orders()
STOP_ENDPOINT = "POST /fapi/v1/algoOrder" if ALGO_STOPS else "POST /fapi/v1/order"
needs_algo_stops = pytest.mark.skipif(
    not ALGO_STOPS, reason="this ccxt sends Binance stops to POST /fapi/v1/order, not /fapi/v1/algoOrder"
)


@dataclass
class Exchange:
    """What one ``fetch`` carried: the request, the venue's reading of it and its answer."""

    request: ExchangeRequest
    call: Call
    reply: VenueReply


@dataclass
class Recorder:
    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def endpoints(self) -> list[str]:
        return [item.request.endpoint for item in self.exchanges]

    @property
    def urls(self) -> list[str]:
        return [item.request.url for item in self.exchanges]

    def last(self, endpoint: str) -> Exchange:
        for item in reversed(self.exchanges):
            if item.request.endpoint == endpoint:
                return item
        raise AssertionError(f"{endpoint} was never requested; saw {self.endpoints}")

    def clear(self) -> None:
        self.exchanges.clear()


def context(seed: int = 7, *, now: float = 0.0) -> VenueContext:
    """A venue context on the wall clock (ccxt signs with it), chaos time frozen at ``now``."""
    return VenueContext(now=lambda: now, wall_time=time.time, rng=random.Random(seed), seed=seed)


def attach(exchange: Any, venue: Venue) -> Recorder:
    recorder = Recorder()

    def answer(url: str, method: str, headers: Any, body: Any) -> tuple[int, str, dict[str, str], Any, Any]:
        raw = body.encode() if isinstance(body, str) else (body or b"")
        request = ExchangeRequest(
            method=method, url=url, headers=dict(headers or {}), body=raw, client="ccxt-harness"
        )
        if not venue.serves(request):
            raise AssertionError(f"no venue serves {method} {url}")
        call = venue.classify(request)
        reply = venue.execute(request, call)
        recorder.exchanges.append(Exchange(request, call, reply))
        reason = http.HTTPStatus(reply.status).phrase
        response_headers = dict(reply.headers)
        text = exchange.on_rest_response(
            reply.status, reason, url, method, response_headers, reply.body.decode(), headers, body
        )
        return reply.status, reason, response_headers, text, exchange.parse_json(text)

    if inspect.iscoroutinefunction(type(exchange).fetch):

        async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
            request_headers = exchange.prepare_request_headers(headers)
            status, reason, response_headers, text, parsed = answer(url, method, request_headers, body)
            exchange.handle_errors(
                status, reason, url, method, response_headers, text, parsed, request_headers, body
            )
            exchange.handle_http_status_code(status, reason, url, method, text)
            if parsed is not None:
                return parsed
            return text

        exchange.fetch = fetch
    else:

        def fetch_sync(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
            from ccxt.base.errors import ExchangeError

            request_headers = exchange.prepare_request_headers(headers)
            status, reason, response_headers, text, parsed = answer(url, method, request_headers, body)
            if status >= 400:
                # requests' raise_for_status path: ccxt maps the body, then the status.
                skip = exchange.handle_errors(
                    status, reason, url, method, response_headers, text, parsed, request_headers, body
                )
                if not skip:
                    exchange.handle_http_status_code(status, reason, url, method, text)
                raise ExchangeError(" ".join([exchange.id, method, url]))
            exchange.handle_errors(
                status, reason, url, method, response_headers, text, parsed, request_headers, body
            )
            if parsed is not None:
                return parsed
            return text

        exchange.fetch = fetch_sync
    return recorder
