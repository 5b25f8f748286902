"""A bot's own Binance USD-M REST client on httpx: no ccxt, a few endpoints, signed by hand.

Its retry rule for orders: every attempt carries the same ``newClientOrderId``, and before an
attempt after a failure it asks the exchange whether the last one went through after all
(Binance documents a 5xx or a timeout as "execution status unknown"). Reads are simply retried.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx

BASE_URL = "https://fapi.binance.com"
RETRYABLE = frozenset({500, 502, 503, 504})


class ExchangeUnavailable(Exception):
    """The exchange did not answer usefully after every try."""


class BinanceFuturesRest:
    def __init__(
        self, api_key: str, secret: str, *, tries: int = 4, backoff: float = 1.0, timeout: float = 10.0
    ) -> None:
        self.api_key = api_key
        self.secret = secret.encode()
        self.tries = tries
        self.backoff = backoff
        self.http = httpx.Client(base_url=BASE_URL, timeout=timeout, headers={"X-MBX-APIKEY": api_key})

    def close(self) -> None:
        self.http.close()

    # -- the endpoints the bot uses ---------------------------------------------------------

    def price(self, symbol: str) -> float:
        """Last price of ``symbol`` (an exchange id such as ``BTCUSDT``)."""
        return float(self._read("/fapi/v1/ticker/price", {"symbol": symbol})["price"])

    def place_order(
        self,
        symbol: str,
        side: str,
        order_type: str,
        quantity: float,
        *,
        stop_price: float | None = None,
        reduce_only: bool = False,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "symbol": symbol,
            "side": side.upper(),
            "type": order_type.upper(),
            "quantity": quantity,
            "newClientOrderId": f"rest-{uuid.uuid4().hex[:20]}",
        }
        if stop_price is not None:
            params["stopPrice"] = stop_price
        if reduce_only:
            params["reduceOnly"] = "true"
        for attempt in range(1, self.tries + 1):
            if attempt > 1:
                placed = self.find_order(symbol, params["newClientOrderId"])
                if placed is not None:
                    return placed  # the failed attempt had reached the book
            try:
                return self._send("POST", "/fapi/v1/order", params)
            except (httpx.TransportError, ExchangeUnavailable):
                if attempt == self.tries:
                    raise
                time.sleep(self.backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def find_order(self, symbol: str, client_order_id: str) -> dict[str, Any] | None:
        try:
            return self._read("/fapi/v1/order", {"symbol": symbol, "origClientOrderId": client_order_id})
        except httpx.HTTPStatusError as error:
            if error.response.json().get("code") == -2013:  # "Order does not exist."
                return None
            raise

    # -- plumbing ---------------------------------------------------------------------------

    def _read(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(1, self.tries + 1):
            try:
                signed = path != "/fapi/v1/ticker/price"
                return self._send("GET", path, params, signed=signed)
            except (httpx.TransportError, ExchangeUnavailable):
                if attempt == self.tries:
                    raise
                time.sleep(self.backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, params: dict[str, Any], *, signed: bool = True) -> dict[str, Any]:
        query = dict(params)
        if signed:
            query["timestamp"] = int(time.time() * 1000)
            payload = urlencode(query)
            query["signature"] = hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()
        response = self.http.request(method, path, params=query)
        if response.status_code in RETRYABLE:
            raise ExchangeUnavailable(f"{method} {path}: {response.status_code} {response.reason_phrase}")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result
