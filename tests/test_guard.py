"""The guard, per client: unserved hosts fail the test and reach no network, allowed hosts reach
a real (loopback) server, patches are undone, and a test's own HTTP mocks keep working."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiohttp
import httpx
import pytest
import requests
import responses
import respx
from aioresponses import aioresponses

from pytest_exchange_chaos._network_guard import (
    NetworkGuard,
    Refusal,
    allow_host_problem,
    allow_hosts_problem,
    refusal_message,
)
from pytest_exchange_chaos.engine import UnservedRequest
from pytest_exchange_chaos.errors import SOCKET_REASON, UnservedRequestError

REAL_GETHOSTBYNAME_EX = socket.gethostbyname_ex

# How each client sends one GET in a bot, as the inner test file's `send(url)`.
CALLS = {
    "requests": """
import requests

def send(url):
    return requests.get(url, timeout=5).json()
""",
    "httpx": """
import httpx

def send(url):
    return httpx.get(url, timeout=5).json()
""",
    "httpx-async": """
import asyncio, httpx

def send(url):
    async def get():
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.get(url)).json()
    return asyncio.run(get())
""",
    "aiohttp": """
import asyncio, aiohttp

def send(url):
    async def get():
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as response:
                return await response.json()
    return asyncio.run(get())
""",
}

ASYNC_CLIENTS = {"aiohttp", "httpx-async"}

# Records every attempt to resolve a name or open a socket, and refuses it.
SOCKET_GUARD = """
import socket
import pytest

ATTEMPTS = []

@pytest.fixture
def no_network(monkeypatch):
    def connect(self, address):
        ATTEMPTS.append(("connect", address))
        raise OSError("the test forbids the network")

    def getaddrinfo(host, *args, **kwargs):
        ATTEMPTS.append(("getaddrinfo", host))
        raise socket.gaierror(socket.EAI_NONAME, "the test forbids the network")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return ATTEMPTS
"""


def bot_test(client: str, url: str) -> str:
    return (
        CALLS[client]
        + f"""
import pytest

@pytest.mark.exchange_chaos
def test_bot(no_network):
    try:
        send({url!r})
    except BaseException as error:  # the bot's "never die" loop
        print("bot swallowed", type(error).__name__)
    assert no_network == []
"""
    )


@pytest.mark.parametrize("client", sorted(CALLS))
@pytest.mark.parametrize(
    "url", ["https://api.kraken.com/0/public/Time", "https://www.okx.com/api/v5/public/time"]
)
def test_an_unserved_host_fails_the_test_even_when_the_bot_swallows_it(
    chaos_pytester: pytest.Pytester, client: str, url: str
) -> None:
    chaos_pytester.makeconftest(SOCKET_GUARD)
    chaos_pytester.makepyfile(bot_test(client, url))
    result = chaos_pytester.runpytest("-s")
    result.assert_outcomes(failed=1)
    sent_with = client.removesuffix("-async")
    result.stdout.fnmatch_lines(
        [
            "*bot swallowed UnservedRequestError",
            f"exchange-chaos refused GET {url} (sent with {sent_with}): no simulated venue serves this "
            "host*; see docs/howto/clients.md#the-guard",
        ]
    )
    # The inner test's own assertion (no socket touched) passed: the failure is the guard's alone.
    assert "AssertionError" not in result.stdout.str()


# -- allowed hosts reach a real server, on loopback only -------------------------------------------


class _Ping(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"real": True, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ping)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def pass_through_test(client: str, url: str, marker: str) -> str:
    return (
        CALLS[client]
        + f"""
import pytest

@pytest.mark.{marker}
def test_bot():
    print("answer", send({url!r}))
"""
    )


@pytest.mark.parametrize("client", sorted(CALLS))
@pytest.mark.parametrize("how", ["option", "ini", "marker"])
def test_an_allowed_host_reaches_the_real_server(
    chaos_pytester: pytest.Pytester, local_server: str, client: str, how: str
) -> None:
    # Requests let through to an allowed host reach no venue: they do not count as the bot's.
    options = ["expect_requests=False"] + (["allow_hosts=['127.0.0.1']"] if how == "marker" else [])
    marker = f"exchange_chaos({', '.join(options)})"
    chaos_pytester.makepyfile(pass_through_test(client, f"{local_server}/ping", marker))
    args = ["-s"]
    if how == "option":
        args.append("--chaos-allow-host=127.0.0.1")
    if how == "ini":
        chaos_pytester.makeini(
            "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
            "filterwarnings =\n    error\nchaos_allow_hosts =\n    localhost\n    127.0.0.*\n"
        )
    result = chaos_pytester.runpytest(*args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*answer {'real': True, 'path': '/ping'}"])


def test_async_httpx_waits_for_an_allowed_host_in_real_time_and_then_jumps_again(
    chaos_pytester: pytest.Pytester, local_server: str
) -> None:
    chaos_pytester.makepyfile(
        f"""
        import asyncio, time, httpcore, httpx, pytest

        POOL_CALL = httpcore.AsyncConnectionPool.handle_async_request

        @pytest.mark.asyncio
        @pytest.mark.exchange_chaos(allow_hosts=["127.0.0.1"])
        async def test_bot(exchange_chaos):
            async with httpx.AsyncClient(timeout=5) as client:
                real = await client.get("{local_server}/ping")
                started = time.monotonic()
                await asyncio.sleep(3600)
                venue = await client.get("https://fapi.binance.com/fapi/v1/time")
            assert real.json() == {{"real": True, "path": "/ping"}}
            assert real.reason_phrase == "OK"
            assert 3600 <= time.monotonic() - started < 3601
            assert venue.json()["serverTime"]
            assert [record.path for record in exchange_chaos.journal] == ["/fapi/v1/time"]

        def test_the_pools_are_themselves_again():
            assert httpcore.AsyncConnectionPool.handle_async_request is POOL_CALL
        """
    )
    chaos_pytester.runpytest().assert_outcomes(passed=2)


# A key sent under names no redaction policy can know for a credential ("access", "pk"): the
# guard's own message, which pytest prints raw with --tb=line or --tb=native, shows no value of a
# refused request's query at all.
UNRECOGNISED_NAMES = """
import asyncio
import aiohttp, pytest, requests

KEY = "".join(["Zq9", "x7Lm" * 6])

@pytest.mark.exchange_chaos
def test_query():
    requests.get("https://data.example/v1/prices", params={"access": KEY, "pk": KEY, "symbol": "BTCUSDT"})

@pytest.mark.exchange_chaos
def test_websocket():
    async def listen():
        async with aiohttp.ClientSession() as session:
            await session.ws_connect(f"wss://stream.example/ws?access={KEY}")
    asyncio.run(listen())

@pytest.mark.exchange_chaos
def test_userinfo():
    requests.get(f"https://trader:{KEY}@alerts.example/notify?pk={KEY}")
"""


@pytest.mark.parametrize("tb", ["line", "native"])
def test_a_refused_requests_query_values_are_never_shown(chaos_pytester: pytest.Pytester, tb: str) -> None:
    chaos_pytester.makepyfile(UNRECOGNISED_NAMES)
    result = chaos_pytester.runpytest(f"--tb={tb}", "-p", "no:randomly")
    result.assert_outcomes(failed=3)
    output = result.stdout.str() + result.stderr.str()
    assert "x7Lmx7Lm" not in output
    result.stdout.fnmatch_lines(
        [
            "*exchange-chaos refused GET https://data.example/v1/prices?access=***&pk=***&symbol=*** "
            "(sent with requests)*",
            "*exchange-chaos refused a websocket to wss://stream.example/ws?access=*** (aiohttp ws_connect)*",
            "*exchange-chaos refused GET https://***@alerts.example/notify?pk=*** (sent with requests)*",
        ]
    )


def test_an_allowed_glob_never_takes_a_venue_host_to_the_network(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makeconftest(SOCKET_GUARD)
    chaos_pytester.makepyfile(
        """
        import pytest, requests

        @pytest.mark.exchange_chaos(allow_hosts=["*"])
        def test_bot(exchange_chaos, no_network):
            assert requests.get("https://fapi.binance.com/fapi/v1/time", timeout=5).json()["serverTime"]
            assert no_network == []
            assert [r.path for r in exchange_chaos.journal] == ["/fapi/v1/time"]
        """
    )
    chaos_pytester.runpytest().assert_outcomes(passed=1)


# -- patches are undone ----------------------------------------------------------------------------

UNDONE = """
import aiohttp.client, httpcore, httpx, pytest, requests.adapters, respx.mocks, responses

def patched_things():
    return {
        "aiohttp": aiohttp.client.ClientSession._request,
        "requests": requests.adapters.HTTPAdapter.send,
        "httpcore": httpcore.ConnectionPool.handle_request,
        "httpcore async": httpcore.AsyncConnectionPool.handle_async_request,
        "httpx": httpx.HTTPTransport.handle_request,
        "httpx async": httpx.AsyncHTTPTransport.handle_async_request,
        "responses default": responses.RequestsMock.__init__.__kwdefaults__["real_adapter_send"],
        "responses mock": responses.mock._real_send,
    }

ORIGINALS = patched_things()

def check_originals():
    assert patched_things() == ORIGINALS
    assert all(mocker.routers == [] for mocker in respx.mocks.Mocker.registry.values())

@pytest.mark.exchange_chaos(expect_requests=False)  # it only looks at what is patched
def test_passes():
    now = patched_things()
    assert now["aiohttp"] is not ORIGINALS["aiohttp"]
    assert now["requests"] is not ORIGINALS["requests"]
    assert now["httpcore"] is not ORIGINALS["httpcore"]
    assert now["httpx"] is not ORIGINALS["httpx"]
    assert now["httpx async"] is not ORIGINALS["httpx async"]
    assert now["responses default"] is now["requests"]

def test_after_a_pass():
    check_originals()

@pytest.mark.exchange_chaos
def test_fails():
    raise RuntimeError("a failing chaos test undoes its patches too")

def test_after_a_failure():
    check_originals()

@pytest.mark.exchange_chaos
def test_unserved():
    requests.get("https://api.kraken.com/0/public/Time")

def test_after_the_guard():
    check_originals()
"""


def test_every_client_is_the_original_again_after_a_chaos_test(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(UNDONE)
    chaos_pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=4, failed=2)


# -- a test's own mocks combined with ours ----------------------------------------------------------

SLACK = "https://hooks.slack.test/services/T000/B000/XXX"
BINANCE_TIME = "https://fapi.binance.com/fapi/v1/time"
KRAKEN = "https://api.kraken.com/0/public/Time"


@pytest.mark.exchange_chaos
def test_a_responses_mock_keeps_its_urls_and_passes_the_rest_to_the_venues(exchange_chaos: Any) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as own:
        own.post(SLACK, json={"ok": True})
        assert requests.post(SLACK, json={"text": "stop placed"}, timeout=5).json() == {"ok": True}
        # Without a pass-through, the bot's own mock refuses the rest, as it would without us.
        with pytest.raises(requests.ConnectionError, match="Connection refused by Responses"):
            requests.get(BINANCE_TIME, timeout=5)
        # Its pass-through leads to the chaos venues, not to the network...
        own.add_passthru("https://fapi.binance.com")
        assert requests.get(BINANCE_TIME, timeout=5).json()["serverTime"] > 0
        # ...and through to the guard for a host no venue serves.
        own.add_passthru(re.compile(r"https://api\.kraken\.com/.*"))
        with pytest.raises(UnservedRequestError, match=re.escape(f"GET {KRAKEN}")):
            requests.get(KRAKEN, timeout=5)
    assert [r.url for r in exchange_chaos.journal] == [BINANCE_TIME]
    exchange_chaos._engine.unserved.clear()  # caught on purpose; test_guard's pytester half fails


@pytest.mark.exchange_chaos
def test_the_global_responses_mock_passes_through_to_the_venues(exchange_chaos: Any) -> None:
    @responses.activate
    def bot_test() -> None:
        responses.add(responses.POST, SLACK, json={"ok": True})
        responses.add_passthru("https://fapi.binance.com")
        assert requests.post(SLACK, timeout=5).json() == {"ok": True}
        assert requests.get(BINANCE_TIME, timeout=5).status_code == 200

    bot_test()
    assert [r.url for r in exchange_chaos.journal] == [BINANCE_TIME]


@pytest.mark.exchange_chaos
def test_a_respx_mock_keeps_its_urls_and_the_venues_answer_the_rest(exchange_chaos: Any) -> None:
    with respx.mock(assert_all_called=False) as own:
        own.post(SLACK).respond(json={"ok": True})
        own.route(host="api.kraken.com").pass_through()
        with httpx.Client(timeout=5) as client:
            assert client.post(SLACK, json={"text": "stop placed"}).json() == {"ok": True}
            assert client.get(BINANCE_TIME).json()["serverTime"] > 0
            # A pass-through route leads to the chaos test, which refuses an unserved host.
            with pytest.raises(UnservedRequestError, match=re.escape(f"GET {KRAKEN}")):
                client.get(KRAKEN)
        assert own.calls.call_count == 1
    assert [r.url for r in exchange_chaos.journal] == [BINANCE_TIME]
    exchange_chaos._engine.unserved.clear()


@pytest.fixture
def respx_started_first() -> Iterator[respx.MockRouter]:
    # Started before the chaos fixture, as a session-wide mock would be; answers what it does
    # not match with an empty 200.
    with respx.mock(assert_all_called=False, assert_all_mocked=False) as own:
        own.post(SLACK).respond(json={"ok": True})
        yield own


@pytest.mark.exchange_chaos
def test_a_respx_mock_started_before_the_chaos_test_leaves_the_exchange_to_the_venues(
    respx_started_first: respx.MockRouter, exchange_chaos: Any
) -> None:
    with httpx.Client(timeout=5) as client:
        assert client.post(SLACK).json() == {"ok": True}
        assert client.get(BINANCE_TIME).json()["serverTime"] > 0
    assert respx_started_first.calls.call_count == 1
    assert [r.url for r in exchange_chaos.journal] == [BINANCE_TIME]


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_an_async_respx_mock_combines_the_same_way(exchange_chaos: Any) -> None:
    async with respx.mock(assert_all_called=False) as own:
        own.post(SLACK).respond(json={"ok": True})
        async with httpx.AsyncClient(timeout=5) as client:
            assert (await client.post(SLACK)).json() == {"ok": True}
            assert (await client.get(BINANCE_TIME)).status_code == 200
    assert [r.url for r in exchange_chaos.journal] == [BINANCE_TIME]


@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_an_aioresponses_mock_falls_through_to_the_venues(exchange_chaos: Any) -> None:
    with aioresponses(passthrough_unmatched=True) as own:
        # A payload response cannot be built on aiohttp 3.14 by aioresponses 0.7.9 at all;
        # an exception can.
        own.post(SLACK, exception=aiohttp.ClientConnectionError("slack is down"))
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectionError, match="slack is down"):
                await session.post(SLACK)
            async with session.get(BINANCE_TIME) as response:
                assert response.status == 200
    assert [r.url for r in exchange_chaos.journal] == [BINANCE_TIME]


# -- the guard's pieces, without a pytester run -----------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        "localhost",
        "helper.internal",
        "*.internal",
        "10.0.0.*",
        "::1",
        "fe80::*",
        "*",
        "Helper-1.LAN",
        # A glob's character class is no IPv6 bracket.
        "[ab]pi.kraken.com",
        "[a-z]*.internal",
        "*.com",
    ],
)
def test_a_usable_allow_host_pattern_is_accepted(pattern: str) -> None:
    assert allow_host_problem(pattern) is None
    assert allow_hosts_problem([pattern]) is None


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (5, "5 is not a host name; write host names as strings, e.g. 'localhost'"),
        ("\t", "'\\t' is empty and matches no host; remove it"),
        ("helper .internal", "'helper .internal' contains whitespace and matches no host; write 'helper'"),
        (
            "wss://[::1]:9000/ws",
            "'wss://[::1]:9000/ws' has a scheme; hosts are matched without it: write '::1'",
        ),
        (
            "trader@helper.internal",
            "'trader@helper.internal' has credentials; write the host alone: 'helper.internal'",
        ),
        (
            "helper.internal/api",
            "'helper.internal/api' has a path; hosts are matched without it: write 'helper.internal'",
        ),
        *(
            (
                every,
                f"{every!r} matches (nearly) every host; if every host is really meant, write allow_hosts=('*',) alone",
            )
            for every in (
                "**",
                "*.*",
                "?*",
                "*[!_]*",
                "*[a-z]*",
                "*[A-Z]*",
                "[a-z]*",
                "[!.]*",
                "*.*.*.*",
                "*::*",
            )
        ),
        ("[::1]:8080", "'[::1]:8080': write an IPv6 address without brackets or port, e.g. '::1'"),
    ],
)
def test_an_allow_host_pattern_that_can_never_match_says_what_to_write(pattern: object, problem: str) -> None:
    found = allow_host_problem(pattern)
    assert found is not None and found.startswith(problem)


def test_every_host_stands_alone() -> None:
    assert allow_hosts_problem(["*"]) is None
    assert allow_hosts_problem(["localhost", "*"]) == (
        "'*' already allows every host; write it alone ('*',), or list the hosts without it"
    )


def test_the_failure_groups_refusals_by_their_fix_and_says_each_once() -> None:
    refusals: list[UnservedRequest] = [
        Refusal(0.0, "", f"10.0.0.{n}:443", "socket.connect", what=f"a connection to 10.0.0.{n}:443")
        for n in (1, 2, 3, 4, 5, 6, 7, 1, 1)
    ]
    refusals.insert(2, UnservedRequest(1.0, "GET", "https://api.kraken.com/0/public/Time", "requests"))
    lines = refusal_message(refusals).splitlines()
    assert lines == [
        "exchange-chaos refused a connection to 10.0.0.1:443, a connection to 10.0.0.2:443, a connection to "
        "10.0.0.3:443, a connection to 10.0.0.4:443, a connection to 10.0.0.5:443 and 2 more: "
        + SOCKET_REASON
        + "; see docs/howto/clients.md#what-the-guard-covers",
        str(UnservedRequestError("GET https://api.kraken.com/0/public/Time (sent with requests)")),
    ]


def test_a_script_session_guards_every_thread_and_lets_loopback_through() -> None:
    from pytest_exchange_chaos.session import chaos_session

    errors: list[BaseException] = []

    def worker() -> None:
        try:
            socket.gethostbyname_ex("api.kraken.com")
        except BaseException as error:
            errors.append(error)

    with chaos_session(seed=1, name="script") as chaos:
        assert socket.gethostbyname("localhost").startswith("127.")
        assert "127.0.0.1" in socket.gethostbyname_ex("127.0.0.1")[2]
        assert socket.getaddrinfo(None, 0)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
            listener.bind(("127.0.0.1", 0))
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                sender.sendto(b"ping", listener.getsockname())
                assert sender.connect_ex(listener.getsockname()) == 0
            assert listener.recv(4) == b"ping"
        # An IPv4 loopback address written as IPv6 is loopback too.
        guard = NetworkGuard(chaos._engine)
        assert guard.refusal_reason("::ffff:127.0.0.1") is None
        assert guard.refusal_reason("::ffff:203.0.113.7") == SOCKET_REASON
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        assert [type(error) for error in errors] == [UnservedRequestError]
        assert [u.describe() for u in chaos.unserved] == [
            "a name lookup of api.kraken.com (socket.gethostbyname_ex)"
        ]
    assert socket.gethostbyname_ex is REAL_GETHOSTBYNAME_EX
    assert "connect" not in socket.socket.__dict__
