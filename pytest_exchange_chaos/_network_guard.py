"""The network guard: while a chaos test runs, nothing leaves the machine except to allowed hosts.

The transports answer aiohttp, requests and httpx before any socket exists. Every other way out
(``urllib.request``, ``http.client``, urllib3 on its own, raw sockets, asyncio streams, a child
process, an HTTP proxy on loopback asked to forward) meets this guard instead: a name lookup,
connection, datagram or proxied request to a host that is neither loopback nor allowed raises
:class:`UnservedRequestError` and is recorded with the engine's unserved requests, so the test
fails even if the bot swallowed the error. A venue's host is refused here too: a request that
went around the transports would reach the real exchange.

It patches Python's own entry points (``socket``, ``http.client``'s proxy calls, ``os.fork``,
multiprocessing's process starters), for the whole process and every thread, and only while a
chaos session runs. What that leaves out (C extensions with their own sockets, programs started
through ``subprocess``, other forwarders on loopback such as a SOCKS proxy) is listed in
docs/howto/clients.md#what-the-guard-covers.

No pytest here: a script's ``chaos_session`` gets the same guard.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_exchange_chaos._redact import redact_all_query_values
from pytest_exchange_chaos.engine import UnservedRequest
from pytest_exchange_chaos.errors import (
    CHILD_PROCESS_REASON,
    COVERAGE_HELP,
    GUARD_HELP,
    SOCKET_REASON,
    UNSERVED_REASON,
    VENUE_SOCKET_REASON,
    WEBSOCKET_REASON,
    UnservedRequestError,
)
from pytest_exchange_chaos.venues.base import ExchangeRequest

if TYPE_CHECKING:
    from pytest_exchange_chaos.engine import ChaosEngine

__all__ = [
    "NetworkGuard",
    "Refusal",
    "allow_host_problem",
    "allow_hosts_problem",
    "is_loopback",
    "refusal_message",
    "refuse_websocket",
]

_LOOPBACK_NAMES = frozenset({"localhost", ""})
_INET = (socket.AF_INET, getattr(socket, "AF_INET6", socket.AF_INET))
_MISSING = object()


@dataclass(frozen=True)
class Refusal(UnservedRequest):
    """A way out other than an HTTP client that the guard refused, with its own reason and fix."""

    what: str = ""
    reason: str = SOCKET_REASON
    help: str = COVERAGE_HELP

    def describe(self) -> str:
        return self.what or super().describe()


def refusal_message(unserved: Sequence[UnservedRequest]) -> str:
    """The test's failure: every refused request, grouped by why it was refused."""
    groups: dict[tuple[str, str], list[str]] = {}
    for request in unserved:
        if isinstance(request, Refusal):
            key = (request.reason, request.help)
        else:
            key = (UNSERVED_REASON, GUARD_HELP)
        described = groups.setdefault(key, [])
        description = request.describe()
        # A retry loop refused 50 times over is one thing to fix.
        if description not in described:
            described.append(description)
    lines = []
    for (reason, help), described in groups.items():
        more = f" and {len(described) - 5} more" if len(described) > 5 else ""
        lines.append(str(UnservedRequestError(", ".join(described[:5]) + more, reason=reason, help=help)))
    return "\n".join(lines)


def refuse_websocket(engine: ChaosEngine, url: str, api: str) -> UnservedRequestError:
    """Record a websocket the test may not open, and the error its client raises."""
    shown = redact_all_query_values(url)
    reason = _websocket_reason(engine)
    refusal = Refusal(
        engine.clock.now(), "GET", shown, api, what=f"a websocket to {shown} ({api})", reason=reason
    )
    engine.unserved.append(refusal)
    return UnservedRequestError(refusal.describe(), reason=reason, help=COVERAGE_HELP)


def _websocket_reason(engine: ChaosEngine) -> str:
    # Imported here: the streams load only once a websocket is opened.
    from pytest_exchange_chaos.streams import stream_server_class

    hosts = sorted(
        {h for v in engine.venues if (cls := stream_server_class(v)) is not None for h in cls.hosts}
    )
    if not hosts:
        return WEBSOCKET_REASON
    return (
        "no simulated venue streams from this host, so a chaos test refuses the websocket (the venues "
        f"stream from {', '.join(hosts)}, where ccxt.pro's watch_* methods connect by themselves). "
        "Point the bot at one of those, or allow the host for a local websocket server"
    )


def _text(host: object) -> str:
    if isinstance(host, (bytes, bytearray)):
        return bytes(host).decode("ascii", "replace")
    return "" if host is None else str(host)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _endpoint(host: str, port: object) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port in (None, 0, "", b"") else f"{shown}:{_text(port)}"


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8, ``::1`` (and an IPv4 loopback written as IPv6)."""
    name = host.lower().rstrip(".")
    if name == "localhost":
        return True
    address = _ip(name)
    return address is not None and address.is_loopback


class NetworkGuard:
    """Refuses every way out to a host that is neither loopback nor allowed; see the module doc."""

    def __init__(self, engine: ChaosEngine) -> None:
        self._engine = engine
        # Addresses an allowed name resolved to: the connection that follows the lookup is allowed.
        self._resolved: set[str] = set()
        self._undo: list[Callable[[], None]] = []

    # -- the verdict ----------------------------------------------------------------------------

    def refusal_reason(self, host: str) -> str | None:
        """None when ``host`` (a name or an address) may be reached for real, else why not."""
        name = host.lower().rstrip(".")
        if name in _LOOPBACK_NAMES:
            return None
        address = _ip(name)
        if address is not None:
            # The unspecified address (0.0.0.0, ::) connects to this machine.
            if address.is_loopback or address.is_unspecified or str(address) in self._resolved:
                return None
        elif self._engine.venue_for(ExchangeRequest("GET", f"https://{name}/")) is not None:
            return VENUE_SOCKET_REASON
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in self._engine.allowed_hosts):
            return None
        return SOCKET_REASON

    def _refuse(self, what: str, target: str, api: str, reason: str) -> UnservedRequestError:
        refusal = Refusal(
            self._engine.clock.now(), "", target, api, what=f"{what} {target} ({api})", reason=reason
        )
        self._engine.unserved.append(refusal)
        return UnservedRequestError(refusal.describe(), reason=reason, help=COVERAGE_HELP)

    def _check(self, what: str, host: object, port: object, api: str) -> None:
        text = _text(host)
        reason = self.refusal_reason(text)
        if reason is not None:
            raise self._refuse(what, _endpoint(text, port), api, reason)

    def _check_address(self, sock: socket.socket, address: Any, what: str, api: str) -> None:
        # Unix sockets, netlink and the like never leave the machine.
        if sock.family in _INET and isinstance(address, tuple) and address:
            self._check(what, address[0], address[1] if len(address) > 1 else None, api)

    # -- patching -------------------------------------------------------------------------------

    def start(self) -> None:
        guard = self
        real_getaddrinfo = socket.getaddrinfo
        real_gethostbyname = socket.gethostbyname
        real_gethostbyname_ex = socket.gethostbyname_ex
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_sendto = socket.socket.sendto

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            guard._check("a name lookup of", host, port, "socket.getaddrinfo")
            answers = real_getaddrinfo(host, port, *args, **kwargs)
            guard._resolved.update(str(answer[4][0]) for answer in answers)
            return answers

        def gethostbyname(host: Any) -> str:
            guard._check("a name lookup of", host, None, "socket.gethostbyname")
            address = real_gethostbyname(host)
            guard._resolved.add(address)
            return address

        def gethostbyname_ex(host: Any) -> tuple[str, list[str], list[str]]:
            guard._check("a name lookup of", host, None, "socket.gethostbyname_ex")
            answer = real_gethostbyname_ex(host)
            guard._resolved.update(answer[2])
            return answer

        def connect(sock: socket.socket, address: Any) -> None:
            guard._check_address(sock, address, "a connection to", "socket.connect")
            real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            guard._check_address(sock, address, "a connection to", "socket.connect_ex")
            return real_connect_ex(sock, address)

        def sendto(sock: socket.socket, data: Any, *args: Any) -> int:
            # sendto(data, address) or sendto(data, flags, address): the address comes last.
            if args:
                guard._check_address(sock, args[-1], "a datagram to", "socket.sendto")
            return real_sendto(sock, data, *args)

        # Half-started (an import failed), stop() still undoes what was patched.
        self._patch(socket, "getaddrinfo", getaddrinfo)
        self._patch(socket, "gethostbyname", gethostbyname)
        self._patch(socket, "gethostbyname_ex", gethostbyname_ex)
        self._patch(socket.socket, "connect", connect)
        self._patch(socket.socket, "connect_ex", connect_ex)
        self._patch(socket.socket, "sendto", sendto)
        self._refuse_proxied_requests()
        self._watch_aiodns()
        self._refuse_child_processes()

    def _watch_aiodns(self) -> None:
        # With aiodns installed (aiohttp[speedups], ccxt before 4.5.1), aiohttp resolves names
        # in c-ares, never through socket.getaddrinfo: without this, the connection to an
        # allowed host that follows would go to an address the guard never saw resolved.
        resolver_module = sys.modules.get("aiohttp.resolver")
        resolver = getattr(resolver_module, "AsyncResolver", None)
        if resolver is None or not hasattr(resolver, "resolve"):
            return
        guard = self
        real_resolve = resolver.resolve

        async def resolve(self: Any, host: str, port: int = 0, *args: Any, **kwargs: Any) -> Any:
            guard._check("a name lookup of", host, port, "aiohttp AsyncResolver (aiodns)")
            answers = await real_resolve(self, host, port, *args, **kwargs)
            guard._resolved.update(str(answer["host"]) for answer in answers)
            return answers

        self._patch(resolver, "resolve", resolve)

    def _refuse_proxied_requests(self) -> None:
        # A proxy on loopback is allowed like any local server, and then forwards wherever the
        # request names: a tunnel (CONNECT host:443, for https) or an absolute-form request line
        # (GET http://host/path, for plain http). Both are checked as a connection to that host.
        # urllib3's connections subclass these and call them, so urllib3 is covered too.
        import http.client
        from urllib.parse import urlsplit

        guard = self
        connection = http.client.HTTPConnection
        real_set_tunnel = connection.set_tunnel
        real_putrequest = connection.putrequest

        def set_tunnel(
            conn: http.client.HTTPConnection, host: str, port: int | None = None, *args: Any, **kwargs: Any
        ) -> None:
            target, target_port = conn._get_hostport(host, port)  # type: ignore[attr-defined]
            # Before 3.13 an IPv6 host keeps its brackets when the port is given apart.
            if target.startswith("[") and target.endswith("]"):
                target = target[1:-1]
            guard._check("a tunnel through a proxy to", target, target_port, "http.client set_tunnel")
            real_set_tunnel(conn, host, port, *args, **kwargs)

        def putrequest(
            conn: http.client.HTTPConnection, method: str, url: str, *args: Any, **kwargs: Any
        ) -> None:
            if "://" in url and not url.startswith("/"):
                try:
                    reason = guard.refusal_reason(urlsplit(url).hostname or "")
                except ValueError:  # "http://[bad": whatever a proxy makes of it, it is no local host
                    reason = SOCKET_REASON
                if reason is not None:
                    shown = f"{method} {redact_all_query_values(url)}"
                    raise guard._refuse("a request through a proxy:", shown, "http.client putrequest", reason)
            real_putrequest(conn, method, url, *args, **kwargs)

        self._patch(connection, "set_tunnel", set_tunnel)
        self._patch(connection, "putrequest", putrequest)

    def _refuse_child_processes(self) -> None:
        # Refused rather than followed: a spawned child starts without the transports or this
        # guard, and a forked one answers from a copy of the venues whose journal the test
        # never sees. subprocess does not fork in Python (it execs at once) and stays allowed.
        import multiprocessing.context

        guard = self

        def refuser(how: str, api: str) -> Callable[..., Any]:
            def refuse(*args: Any, **kwargs: Any) -> Any:
                raise guard._refuse("starting a child process", how, api, CHILD_PROCESS_REASON)

            return refuse

        for class_name, method in (
            ("ForkProcess", "fork"),
            ("SpawnProcess", "spawn"),
            ("ForkServerProcess", "forkserver"),
        ):
            cls = getattr(multiprocessing.context, class_name, None)
            if cls is not None:
                refuse = refuser(f"with the {method!r} start method", "multiprocessing")
                self._patch(cls, "_Popen", staticmethod(refuse))
        for name in ("fork", "forkpty"):
            if hasattr(os, name):
                self._patch(os, name, refuser("by forking the test process", f"os.{name}"))

    def _patch(self, owner: Any, name: str, replacement: Any) -> None:
        # socket.socket inherits connect() from _socket.socket: undoing deletes ours rather
        # than leaving a copy of the C method behind on the Python class.
        original = owner.__dict__.get(name, _MISSING) if isinstance(owner, type) else getattr(owner, name)
        setattr(owner, name, replacement)

        def undo() -> None:
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)

        self._undo.append(undo)

    def stop(self) -> None:
        while self._undo:
            self._undo.pop()()


# -- allow_hosts patterns ---------------------------------------------------------------------------


def allow_host_problem(pattern: object) -> str | None:
    """Why ``pattern`` can never match a host the guard or a transport compares it with, and what
    to write instead; None for a usable pattern. Hosts are compared whole, without scheme, port
    or path, as glob patterns (``*.internal``, ``127.0.0.*``)."""
    if not isinstance(pattern, str):
        return f"{pattern!r} is not a host name; write host names as strings, e.g. 'localhost'"
    if not pattern.strip():
        return f"{pattern!r} is empty and matches no host; remove it"
    if pattern != pattern.strip() or any(c.isspace() for c in pattern):
        return f"{pattern!r} contains whitespace and matches no host; write {pattern.strip().split()[0]!r}"
    if "://" in pattern:
        host = pattern.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
        return f"{pattern!r} has a scheme; hosts are matched without it: write {_without_port(host)!r}"
    if "@" in pattern:
        return f"{pattern!r} has credentials; write the host alone: {pattern.rsplit('@', 1)[1]!r}"
    if "/" in pattern:
        head, _, tail = pattern.partition("/")
        if tail.isdigit() and _ip(head) is not None:
            return (
                f"{pattern!r} is a network range (CIDR), which allow_hosts does not read; write the "
                "addresses as a glob (e.g. '10.0.0.*') or the host names"
            )
        return f"{pattern!r} has a path; hosts are matched without it: write {head!r}"
    # "[a-z]*" is a glob's character class; "[::1]" is an IPv6 address written as in a URL.
    if pattern.startswith("[") and ":" in pattern[1:].partition("]")[0]:
        return f"{pattern!r}: write an IPv6 address without brackets or port, e.g. '::1'"
    if pattern.count(":") == 1:
        return f"{pattern!r} has a port; hosts are matched without one: write {_without_port(pattern)!r}"
    if pattern != "*" and _matches_nearly_every_host(pattern):
        return (
            f"{pattern!r} matches (nearly) every host; if every host is really meant, write "
            "allow_hosts=('*',) alone (or --chaos-allow-host='*'), which the report header then warns about"
        )
    return None


# Very different hosts, by kind: a pattern that matches every one of a kind lets (nearly) every
# host of that kind out, whatever it looks like ("**", "*.*", "*[a-z]*", "*[!_]*", "*.*.*.*").
_PROBES = (
    ("fapi.binance.com", "api.bybit.com", "api.kraken.com", "example.org", "x.io", "hooks.slack.com"),
    ("203.0.113.7", "8.8.8.8", "104.16.132.229", "10.0.0.1"),
    ("2001:db8::1", "2606:4700:4700::1111", "fe80::1"),
)


def _matches_nearly_every_host(pattern: str) -> bool:
    pattern = pattern.lower()
    return any(all(fnmatch.fnmatchcase(host, pattern) for host in hosts) for hosts in _PROBES)


def _without_port(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allow_hosts_problem(patterns: Sequence[object]) -> str | None:
    """:func:`allow_host_problem` for a whole list, which may hold ``*`` only alone."""
    for pattern in patterns:
        problem = allow_host_problem(pattern)
        if problem is not None:
            return problem
    if "*" in patterns and len(patterns) > 1:
        return "'*' already allows every host; write it alone ('*',), or list the hosts without it"
    return None
