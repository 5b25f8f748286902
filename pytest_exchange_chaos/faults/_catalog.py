"""The faults of DESIGN.md, each shaped like the real thing on the wire."""

from __future__ import annotations

from pytest_exchange_chaos._durations import Duration, parse_duration, shown
from pytest_exchange_chaos.faults._base import (
    ExchangeErrorFault,
    Fault,
    Ghost,
    HttpFault,
    Latency,
    MalformedBody,
    NetworkFault,
    reason_phrase,
)

__all__ = [
    "bad_gateway",
    "cloudflare",
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
]


def _nginx_page(status: int) -> bytes:
    # The HTML error page nginx-based gateways return; Binance's answers 502 with exactly this
    # shape, which is why ccxt sees "<html>" where it expects JSON.
    title = f"{status} {reason_phrase(status)}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    ).encode()


_GATEWAY_HEADERS = {"Content-Type": "text/html", "Server": "tk_prod_dispatcher_pg"}


def bad_gateway() -> Fault:
    """``502 Bad Gateway`` from Binance's gateway (``Server: tk_prod_dispatcher_pg``, HTML body)."""
    return HttpFault("bad_gateway", 502, _nginx_page(502), _GATEWAY_HEADERS)


def service_unavailable() -> Fault:
    """``503 Service Unavailable`` from the gateway, HTML body."""
    return HttpFault("service_unavailable", 503, _nginx_page(503), _GATEWAY_HEADERS)


def gateway_timeout() -> Fault:
    """``504 Gateway Timeout``: the gateway gave up waiting for the matching engine."""
    return HttpFault("gateway_timeout", 504, _nginx_page(504), _GATEWAY_HEADERS)


def internal_server_error() -> Fault:
    """``500 Internal Server Error``, HTML body."""
    return HttpFault("internal_server_error", 500, _nginx_page(500), _GATEWAY_HEADERS)


def cloudflare(code: int = 520) -> Fault:
    """A Cloudflare edge error, 520 to 526, with the plain body Cloudflare sends API clients."""
    if isinstance(code, bool) or not isinstance(code, int) or not 520 <= code <= 526:
        raise ValueError(f"cloudflare(code={shown(code)}): Cloudflare's origin errors are 520 to 526")
    return HttpFault(
        f"cloudflare_{code}",
        code,
        f"error code: {code}".encode(),
        {
            "Content-Type": "text/plain; charset=UTF-8",
            "Server": "cloudflare",
            "CF-RAY": "8f1c2d3e4a5b6c7d-NRT",
        },
    )


def _retry_after(retry_after: Duration) -> str:
    # Retry-After carries whole seconds (RFC 9110); parse_duration keeps it finite and below a year.
    return str(round(parse_duration(retry_after, what="retry_after")))


def rate_limited(retry_after: Duration = 60) -> Fault:
    """``429 Too Many Requests`` with ``Retry-After``, Binance's -1003 body."""
    body = (
        b'{"code":-1003,"msg":"Too many requests; current limit of IP(203.0.113.7) is 2400 requests per '
        b'minute. Please use WebSocket Streams for live updates to avoid polling the API."}'
    )
    return HttpFault(
        "rate_limited",
        429,
        body,
        {"Content-Type": "application/json", "Retry-After": _retry_after(retry_after)},
    )


def ip_banned(retry_after: Duration = 120) -> Fault:
    """``418 I'm a teapot``: Binance's IP ban after ignoring 429s, with ``Retry-After``."""
    body = (
        b'{"code":-1003,"msg":"Way too many requests; IP(203.0.113.7) banned until 1700000000000. '
        b'Please use the websocket for live updates to avoid bans."}'
    )
    return HttpFault(
        "ip_banned",
        418,
        body,
        {"Content-Type": "application/json", "Retry-After": _retry_after(retry_after)},
    )


def exchange_error(code: int, msg: str, *, status: int | None = None) -> Fault:
    """The venue's own error body for ``code`` (each venue renders it its own way); ``status``
    overrides the HTTP status the venue would answer with (200 to 599)."""
    return ExchangeErrorFault(code=code, message=msg, status=status)


def connection_reset() -> Fault:
    """The peer resets the connection: no status, no body."""
    return NetworkFault("connection_reset", "connection_reset")


def connect_timeout() -> Fault:
    """The connection never opens; the client gives up after its own connect timeout."""
    return NetworkFault("connect_timeout", "connect_timeout")


def read_timeout() -> Fault:
    """The request went out, no answer came; the client gives up after its own read timeout."""
    return NetworkFault("read_timeout", "read_timeout")


def dns_failure() -> Fault:
    """The exchange's host name does not resolve."""
    return NetworkFault("dns_failure", "dns_failure")


def latency(seconds: Duration) -> Fault:
    """The exchange answers after ``seconds``; beyond the client's timeout it ends as that timeout."""
    return Latency(parse_duration(seconds, what="latency seconds"))


def malformed_body() -> Fault:
    """``200 OK`` whose body is cut short and is not valid JSON."""
    return MalformedBody()


def ghost(fault: Fault) -> Fault:
    """The exchange executes the request, the client receives ``fault``: a retry places it twice."""
    return Ghost(fault)
