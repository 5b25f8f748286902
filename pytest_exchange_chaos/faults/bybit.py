"""Bybit v5's own error answers (``retCode`` at HTTP 200), as ``faults.bybit.<name>()``."""

from __future__ import annotations

from pytest_exchange_chaos.faults._base import ExchangeErrorFault, Fault

__all__ = ["rate_limited", "server_timeout", "timestamp_outside_recv_window"]


def rate_limited() -> Fault:
    """retCode 10006: the API key's rate limit."""
    return ExchangeErrorFault(
        code=10006, message="Too many visits. Exceeded the API Rate Limit.", name="bybit.rate_limited"
    )


def timestamp_outside_recv_window() -> Fault:
    """retCode 10002: the request's timestamp is outside ``recv_window``."""
    return ExchangeErrorFault(
        code=10002,
        message="invalid request, please check your server timestamp or recv_window param",
        name="bybit.timestamp_outside_recv_window",
    )


def server_timeout() -> Fault:
    """retCode 10016: "Server Timeout". ccxt 4.5 raises a plain ExchangeError for it (it reads
    10016 as a RequestTimeout only when the message says "Request timeout"), so a bot's
    NetworkError retry loop does not retry it."""
    return ExchangeErrorFault(code=10016, message="Server Timeout", name="bybit.server_timeout")
