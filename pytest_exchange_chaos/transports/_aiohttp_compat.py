"""Build a real ``aiohttp.ClientResponse`` on every aiohttp a bot may pin (3.11 to 3.14).

aioresponses 0.7.9 builds its responses with a constructor call that aiohttp 3.14 rejects (the
new required ``stream_writer``), and feeds bodies over 128 KiB into a stream whose protocol then
asserts it has a transport (aioresponses issue 289). This module is the only place that knows
those details; the tests in ``tests/test_aiohttp_compat.py`` pin them per aiohttp version.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientResponse, RequestInfo
from aiohttp.helpers import TimerNoop
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

__all__ = ["AIOHTTP_VERSION", "build_client_response", "connection_key"]

AIOHTTP_VERSION = tuple(int(part) for part in aiohttp.__version__.split(".")[:2] if part.isdigit())

_RESPONSE_PARAMS = frozenset(inspect.signature(ClientResponse.__init__).parameters)


class _SentRequestWriter:
    """Stands in for the stream writer of a request that was already sent (aiohttp >= 3.14)."""

    output_size = 0
    buffer_size = 0


def build_client_response(
    method: str,
    url: URL,
    *,
    status: int,
    reason: str,
    headers: Mapping[str, str],
    body: bytes,
    request_headers: Mapping[str, str],
    loop: asyncio.AbstractEventLoop,
) -> ClientResponse:
    request_info = RequestInfo(url, method, CIMultiDictProxy(CIMultiDict(request_headers)), url)
    kwargs: dict[str, Any] = {
        "writer": None,
        "continue100": None,
        "timer": TimerNoop(),
        "request_info": request_info,
        "traces": [],
        "loop": loop,
        "session": None,
    }
    if "stream_writer" in _RESPONSE_PARAMS:
        kwargs["stream_writer"] = _SentRequestWriter()
    response = ClientResponse(method, url, **kwargs)

    response_headers: CIMultiDict[str] = CIMultiDict(headers)
    response.status = status
    response.reason = reason
    response._headers = CIMultiDictProxy(response_headers)
    response._raw_headers = tuple((k.encode(), v.encode()) for k, v in response_headers.items())
    for cookie in response_headers.getall("Set-Cookie", ()):
        response.cookies.load(cookie)

    # A limit above the body's size keeps the stream from asking the (transport-less) protocol
    # to pause reading, which is what trips aiohttp's assertion on large bodies.
    protocol = ResponseHandler(loop=loop)
    content = aiohttp.StreamReader(protocol, limit=max(2**16, len(body) + 1), loop=loop)
    content.feed_data(body)
    content.feed_eof()
    response.content = content
    return response


def connection_key(url: URL) -> Any:
    """The ConnectionKey aiohttp's connector errors carry, whatever its fields in this version."""
    from aiohttp.client_reqrep import ConnectionKey

    values: dict[str, Any] = {
        "host": url.host or "",
        "port": url.port,
        "is_ssl": url.scheme == "https",
        "ssl": True,
        "proxy": None,
        "proxy_auth": None,
        "proxy_headers_hash": None,
        "server_hostname": None,
    }
    # Built by field name: the fields differ between aiohttp versions (server_hostname is new).
    key_type: Any = ConnectionKey
    return key_type(**{name: values.get(name) for name in ConnectionKey._fields})
