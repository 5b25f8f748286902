"""Faults: what the exchange, its gateway or the network does to a request.

Every fault reproduces what the real client would see: the same status and reason phrase, the
same headers and body shape, or the same network failure after the client's own timeout.
"""

from __future__ import annotations

from pytest_exchange_chaos.faults import binance, bybit, stream
from pytest_exchange_chaos.faults._base import (
    ExchangeErrorFault,
    Fault,
    FaultContext,
    Ghost,
    HttpFault,
    Latency,
    MalformedBody,
    NetworkFault,
)
from pytest_exchange_chaos.faults._catalog import (
    bad_gateway,
    cloudflare,
    connect_timeout,
    connection_reset,
    dns_failure,
    exchange_error,
    gateway_timeout,
    ghost,
    internal_server_error,
    ip_banned,
    latency,
    malformed_body,
    rate_limited,
    read_timeout,
    service_unavailable,
)
from pytest_exchange_chaos.faults._cloudflare import CloudflareTimeout, cloudflare_timeout

__all__ = [
    "CloudflareTimeout",
    "ExchangeErrorFault",
    "Fault",
    "FaultContext",
    "Ghost",
    "HttpFault",
    "Latency",
    "MalformedBody",
    "NetworkFault",
    "bad_gateway",
    "binance",
    "bybit",
    "cloudflare",
    "cloudflare_timeout",
    "connect_timeout",
    "connection_reset",
    "dns_failure",
    "exchange_error",
    "gateway_timeout",
    "ghost",
    "internal_server_error",
    "ip_banned",
    "latency",
    "malformed_body",
    "rate_limited",
    "read_timeout",
    "service_unavailable",
    "stream",
]
