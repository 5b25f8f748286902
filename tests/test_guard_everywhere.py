"""The guard covers every way out, not three clients: urllib, http.client, urllib3, raw sockets,
asyncio streams, websockets and child processes are refused inside a chaos test (loopback and
allowed hosts excepted), ``allow_hosts`` refuses patterns that can never match, and switching the
plugin off fails the chaos tests instead of sending them to the network."""

from __future__ import annotations

import textwrap

import pytest

# Below the guard, in the inner run: records every lookup or connection that would leave the
# machine and refuses it, so a guard that let one through shows up as an attempt (and the test
# run never touches the network either way). "helper.internal" resolves, as a local helper
# service's name would: to the loopback server when HELPER is set, else to a documentation address.
REAL_NETWORK = """
import ipaddress, socket
import pytest

ATTEMPTS = []
HELPER = {}

def _local(host):
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode()
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

PATCH = pytest.MonkeyPatch()

def pytest_unconfigure(config):
    PATCH.undo()

def pytest_configure(config):
    # Patched for the whole run, before any chaos test starts the guard on top of it.
    real_getaddrinfo = socket.getaddrinfo
    real_gethostbyname = socket.gethostbyname
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, bytes):  # anyio (async httpx) looks up IDNA bytes
            host = host.decode()
        if host == "helper.internal":
            ATTEMPTS.append(("getaddrinfo", host))
            if HELPER:
                return real_getaddrinfo("127.0.0.1", port, *args, **kwargs)
            return real_getaddrinfo("198.51.100.7", port, *args, **kwargs)
        if not _local(host):
            ATTEMPTS.append(("getaddrinfo", host))
            raise socket.gaierror(socket.EAI_NONAME, "the test forbids the network")
        return real_getaddrinfo(host, port, *args, **kwargs)

    def gethostbyname(host):
        if not _local(host):
            ATTEMPTS.append(("gethostbyname", host))
            raise socket.gaierror(socket.EAI_NONAME, "the test forbids the network")
        return real_gethostbyname(host)

    def refuse_remote(real, name):
        def call(self, *args):
            address = args[-1]
            if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
                ATTEMPTS.append((name, address[0]))
                raise ConnectionRefusedError("the test forbids the network")
            return real(self, *args)
        return call

    PATCH.setattr(socket, "getaddrinfo", getaddrinfo)
    PATCH.setattr(socket, "gethostbyname", gethostbyname)
    PATCH.setattr(socket.socket, "connect", refuse_remote(real_connect, "connect"))
    PATCH.setattr(socket.socket, "connect_ex", refuse_remote(real_connect_ex, "connect_ex"))
    PATCH.setattr(socket.socket, "sendto", refuse_remote(real_sendto, "sendto"))
"""

VENUE = "https://fapi.binance.com/fapi/v1/time"
KRAKEN = "https://api.kraken.com/0/public/Time"
DOC_IP = "203.0.113.7"  # TEST-NET-3: never routed

# One way out each, as a bot (or a library under it) would take it.
WAYS_OUT = {
    "urllib-venue": (
        f"import urllib.request\nurllib.request.urlopen({VENUE!r}, timeout=5)",
        "a name lookup of fapi.binance.com:443 (socket.getaddrinfo): this is a simulated venue's host, "
        "but the venues answer only requests sent with aiohttp, requests or httpx*",
    ),
    "urllib": (
        f"import urllib.request\nurllib.request.urlopen({KRAKEN!r}, timeout=5)",
        "a name lookup of api.kraken.com:443 (socket.getaddrinfo): no simulated venue serves this host*",
    ),
    "http.client": (
        "import http.client\n"
        "http.client.HTTPSConnection('api.kraken.com', timeout=5).request('GET', '/0/public/Time')",
        "a name lookup of api.kraken.com:443 (socket.getaddrinfo)*",
    ),
    "urllib3": (
        f"import urllib3\nurllib3.PoolManager().request('GET', {KRAKEN!r}, retries=False)",
        "a name lookup of api.kraken.com:443 (socket.getaddrinfo)*",
    ),
    "urllib3-venue": (
        f"import urllib3\nurllib3.PoolManager().request('GET', {VENUE!r}, retries=False)",
        "a name lookup of fapi.binance.com:443 (socket.getaddrinfo): this is a simulated venue's host*",
    ),
    "socket.connect": (
        f"import socket\nwith socket.socket() as sock:\n    sock.connect(({DOC_IP!r}, 443))",
        f"a connection to {DOC_IP}:443 (socket.connect)*",
    ),
    "socket.connect_ex": (
        f"import socket\nwith socket.socket() as sock:\n    sock.connect_ex(({DOC_IP!r}, 443))",
        f"a connection to {DOC_IP}:443 (socket.connect_ex)*",
    ),
    "socket.connect-by-name": (
        "import socket\nwith socket.socket() as sock:\n    sock.connect(('fapi.binance.com', 443))",
        "a connection to fapi.binance.com:443 (socket.connect): this is a simulated venue's host*",
    ),
    "socket.create_connection": (
        "import socket\nsocket.create_connection(('api.kraken.com', 443), timeout=5)",
        "a name lookup of api.kraken.com:443 (socket.getaddrinfo)*",
    ),
    "socket.getaddrinfo": (
        "import socket\nsocket.getaddrinfo('api.kraken.com', 443)",
        "a name lookup of api.kraken.com:443 (socket.getaddrinfo)*",
    ),
    "socket.gethostbyname": (
        "import socket\nsocket.gethostbyname('api.kraken.com')",
        "a name lookup of api.kraken.com (socket.gethostbyname)*",
    ),
    "socket.gethostbyname_ex": (
        "import socket\nsocket.gethostbyname_ex('api.kraken.com')",
        "a name lookup of api.kraken.com (socket.gethostbyname_ex)*",
    ),
    "udp-sendto": (
        f"import socket\nwith socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:\n    sock.sendto(b'x', ({DOC_IP!r}, 53))",
        f"a datagram to {DOC_IP}:53 (socket.sendto)*",
    ),
    "asyncio.open_connection": (
        "import asyncio\nasyncio.run(asyncio.open_connection('api.kraken.com', 443))",
        "a name lookup of api.kraken.com:443 (socket.getaddrinfo)*",
    ),
    "asyncio.open_connection-ip": (
        f"import asyncio\nasyncio.run(asyncio.open_connection({DOC_IP!r}, 443))",
        f"a connection to {DOC_IP}:443 (socket.connect)*",
    ),
    "aiohttp-ws": (
        "import asyncio, aiohttp\n"
        "async def listen():\n"
        "    async with aiohttp.ClientSession() as session:\n"
        "        await session.ws_connect('wss://ws.kraken.com/')\n"
        "asyncio.run(listen())",
        "a websocket to wss://ws.kraken.com/ (aiohttp ws_connect): no simulated venue streams from this "
        "host*",
    ),
    "aiohttp-ws-venue": (
        "import asyncio, aiohttp\n"
        "async def listen():\n"
        "    async with aiohttp.ClientSession() as session:\n"
        "        await session.ws_connect('wss://fapi.binance.com/ws/btcusdt@markPrice')\n"
        "asyncio.run(listen())",
        "a websocket to wss://fapi.binance.com/ws/btcusdt@markPrice (aiohttp ws_connect): no simulated "
        "venue streams from this host*",
    ),
}


def _literal(text: str) -> str:
    """``text`` as an fnmatch pattern that matches brackets literally (``*`` still matches itself)."""
    return text.replace("[", "[[]")


def _indented(code: str) -> str:
    return "\n".join("        " + line for line in code.splitlines())


@pytest.mark.parametrize("way", sorted(WAYS_OUT))
def test_every_way_out_fails_the_test_even_when_the_bot_swallows_it(
    chaos_pytester: pytest.Pytester, way: str
) -> None:
    code, expected = WAYS_OUT[way]
    chaos_pytester.makeconftest(REAL_NETWORK)
    chaos_pytester.makepyfile(
        f"""
import pytest
from conftest import ATTEMPTS

@pytest.mark.exchange_chaos
def test_bot():
    try:
{_indented(code)}
    except BaseException as error:  # the bot's "never die" loop
        print("bot swallowed", type(error).__name__)
    assert ATTEMPTS == []
"""
    )
    result = chaos_pytester.runpytest("-s", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    # A refused websocket raises an Exception (ccxt.pro passes on only those); the rest a BaseException.
    error = "RefusedWebsocketError" if way.startswith("aiohttp-ws") else "UnservedRequestError"
    result.stdout.fnmatch_lines([f"*bot swallowed {error}", f"exchange-chaos refused {expected}"])
    # The inner test's own check (nothing reached the layer below the guard) passed.
    assert "AssertionError" not in result.stdout.str()


# A forwarding proxy on loopback, as a developer's machine or a CI runner may have: reaching it
# is allowed (loopback), so what it is asked to forward to must be checked like a connection.
PROXY = """
import socket, threading
import pytest

@pytest.fixture
def proxy(monkeypatch):
    listener = socket.create_server(("127.0.0.1", 0))
    asked = []

    def serve():
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with client:
                asked.append(client.recv(4096).split(b"\\r\\n", 1)[0].decode())
                client.sendall(b"HTTP/1.1 502 Bad Gateway\\r\\nContent-Length: 0\\r\\n\\r\\n")

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, url)
    yield url, asked
    listener.close()
"""

THROUGH_A_PROXY = {
    "urllib-https-venue": (
        f"import urllib.request\nurllib.request.build_opener().open({VENUE!r}, timeout=5)",
        "a tunnel through a proxy to fapi.binance.com:443 (http.client set_tunnel): this is a simulated "
        "venue's host*",
    ),
    "urllib-http": (
        "import urllib.request\n"
        "urllib.request.build_opener().open('http://api.kraken.com/0/public/Time?nonce=1', timeout=5)",
        "a request through a proxy: GET http://api.kraken.com/0/public/Time?nonce=*** (http.client putrequest): "
        "no simulated venue serves this host*",
    ),
    "http.client-set_tunnel": (
        "import http.client\n"
        "connection = http.client.HTTPSConnection('127.0.0.1', int(url.rsplit(':', 1)[1]), timeout=5)\n"
        "connection.set_tunnel('api.kraken.com', 443)\n"
        "connection.request('GET', '/0/public/Time')",
        "a tunnel through a proxy to api.kraken.com:443 (http.client set_tunnel)*",
    ),
    "http.client-absolute-form": (
        "import http.client\n"
        "connection = http.client.HTTPConnection('127.0.0.1', int(url.rsplit(':', 1)[1]), timeout=5)\n"
        "connection.request('GET', 'http://[2001:db8::1]:8080/v1/ticker')",
        "a request through a proxy: GET http://[[]2001:db8::1]:8080/v1/ticker (http.client putrequest)*",
    ),
    "urllib3-https": (
        f"import urllib3\nurllib3.ProxyManager(url).request('GET', {KRAKEN!r}, retries=False)",
        "a tunnel through a proxy to api.kraken.com:443 (http.client set_tunnel)*",
    ),
    "urllib3-http-venue": (
        "import urllib3\n"
        "urllib3.ProxyManager(url).request('GET', 'http://fapi.binance.com/fapi/v1/time', retries=False)",
        "a request through a proxy: GET http://fapi.binance.com/fapi/v1/time (http.client putrequest): this "
        "is a simulated venue's host*",
    ),
}


@pytest.mark.parametrize("way", sorted(THROUGH_A_PROXY))
def test_a_proxy_on_loopback_forwards_nothing_to_a_host_that_is_not_allowed(
    chaos_pytester: pytest.Pytester, way: str
) -> None:
    code, expected = THROUGH_A_PROXY[way]
    chaos_pytester.makeconftest(REAL_NETWORK + PROXY)
    chaos_pytester.makepyfile(
        f"""
import pytest
from conftest import ATTEMPTS

@pytest.mark.exchange_chaos
def test_bot(proxy):
    url, asked = proxy
    try:
{_indented(code)}
    except BaseException as error:  # the bot's "never die" loop
        print("bot swallowed", type(error).__name__)
    assert asked == []
    assert ATTEMPTS == []
"""
    )
    result = chaos_pytester.runpytest("-s", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*bot swallowed UnservedRequestError", f"exchange-chaos refused {expected}"])
    assert "AssertionError" not in result.stdout.str()


def test_a_proxy_on_loopback_still_forwards_to_loopback_and_allowed_hosts(
    chaos_pytester: pytest.Pytester,
) -> None:
    chaos_pytester.makeconftest(REAL_NETWORK + PROXY)
    chaos_pytester.makepyfile(
        """
        import http.client, urllib.request
        import pytest
        from conftest import ATTEMPTS

        @pytest.mark.exchange_chaos(allow_hosts=["helper.internal"], expect_requests=False)
        def test_bot(proxy):
            url, asked = proxy
            port = int(url.rsplit(":", 1)[1])
            for target in ("http://helper.internal/ping?n=1", "http://localhost:9/ping"):
                with pytest.raises(urllib.error.HTTPError, match="502"):
                    urllib.request.build_opener().open(target, timeout=5)
            for tunnel in ("helper.internal", "[::1]"):
                connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=5)
                connection.set_tunnel(tunnel, 443)
                with pytest.raises(OSError, match="502"):
                    connection.request("GET", "/")
            assert [line.rsplit(" ", 1)[0] for line in asked] == [
                "GET http://helper.internal/ping?n=1",
                "GET http://localhost:9/ping",
                "CONNECT helper.internal:443",
                "CONNECT [::1]:443",
            ]
            assert ATTEMPTS == []
        """
    )
    chaos_pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


def test_the_guard_is_only_there_during_the_chaos_test(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makeconftest(REAL_NETWORK)
    chaos_pytester.makepyfile(
        """
        import http.client, multiprocessing.context, os, socket
        import pytest, requests
        from conftest import ATTEMPTS

        def patched_things():
            return (
                socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex,
                socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto,
                os.fork, multiprocessing.context.SpawnProcess._Popen,
                multiprocessing.context.ForkProcess._Popen,
                http.client.HTTPConnection.set_tunnel, http.client.HTTPConnection.putrequest,
            )

        BEFORE = []

        def test_before():
            BEFORE.extend(patched_things())

        @pytest.mark.exchange_chaos
        def test_refused():
            socket.getaddrinfo("api.kraken.com", 443)

        def test_after_a_refusal():
            assert patched_things() == tuple(BEFORE)
            with pytest.raises(socket.gaierror, match="the test forbids the network"):
                socket.getaddrinfo("api.kraken.com", 443)  # the layer below, not the guard
            assert ATTEMPTS == [("getaddrinfo", "api.kraken.com")]

        @pytest.mark.exchange_chaos
        def test_passes():
            assert socket.getaddrinfo is not BEFORE[0]
            assert http.client.HTTPConnection.set_tunnel is not BEFORE[-2]
            assert http.client.HTTPConnection.putrequest is not BEFORE[-1]
            assert requests.get("https://fapi.binance.com/fapi/v1/time", timeout=5).status_code == 200

        def test_after_a_pass():
            assert patched_things() == tuple(BEFORE)
        """
    )
    chaos_pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=4, failed=1)


# -- what stays reachable --------------------------------------------------------------------------


# A loopback server for the inner tests: answers every GET with "pong".
PING = """class Ping(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "4")
        self.end_headers()
        self.wfile.write(b"pong")

    def log_message(self, *args):
        pass
"""


def test_loopback_stays_reachable_for_a_bots_own_test_server(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makeconftest(REAL_NETWORK)
    chaos_pytester.makepyfile(
        f"""
        import asyncio, http.client, os, socket, tempfile, threading, urllib.request
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        import pytest, requests
        from conftest import ATTEMPTS

{textwrap.indent(PING, " " * 8)}
        @pytest.fixture
        def server(exchange_chaos):
            # Started inside the chaos test, as a bot's own fixture would be.
            server = ThreadingHTTPServer(("127.0.0.1", 0), Ping)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            yield server.server_address[1]
            server.shutdown()
            server.server_close()

        @pytest.mark.exchange_chaos
        def test_bot(server):
            for host in ("127.0.0.1", "localhost"):
                assert urllib.request.urlopen(f"http://{{host}}:{{server}}/", timeout=5).read() == b"pong"
            connection = http.client.HTTPConnection("localhost", server, timeout=5)
            connection.request("GET", "/")
            assert connection.getresponse().read() == b"pong"
            connection.close()
            with socket.create_connection(("127.0.0.1", server), timeout=5):
                pass

            async def stream():
                reader, writer = await asyncio.open_connection("localhost", server)
                writer.write(b"GET / HTTP/1.0\\r\\n\\r\\n")
                answer = await reader.read()
                writer.close()
                return answer

            assert asyncio.run(stream()).endswith(b"pong")
            # Unix sockets never leave the machine.
            with tempfile.TemporaryDirectory() as directory:
                path = os.path.join(directory, "s")
                listener = socket.socket(socket.AF_UNIX)
                listener.bind(path)
                listener.listen()
                client = socket.socket(socket.AF_UNIX)
                client.connect(path)
                client.close()
                listener.close()
            # The simulated venue still answers its own clients.
            assert requests.get("https://fapi.binance.com/fapi/v1/time", timeout=5).json()["serverTime"]
            assert ATTEMPTS == []
        """
    )
    chaos_pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


def test_an_allowed_host_goes_through_the_socket_layer_for_real(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makeconftest(REAL_NETWORK)
    chaos_pytester.makepyfile(
        """
        import socket
        import pytest, requests
        from conftest import ATTEMPTS

        @pytest.mark.exchange_chaos(allow_hosts=["helper.internal"])
        def test_allowed_name_and_what_it_resolved_to(exchange_chaos):
            address = socket.getaddrinfo("helper.internal", 8080, type=socket.SOCK_STREAM)[0][4]
            assert address == ("198.51.100.7", 8080)
            # Allowed: the connection reaches the layer below the guard, which refuses it.
            with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="the test forbids"):
                sock.connect(address)
            # An address no allowed name resolved to is still refused by the guard.
            with socket.socket() as sock, pytest.raises(BaseException, match="refused a connection to 198.51.100.8:8080"):
                sock.connect(("198.51.100.8", 8080))
            exchange_chaos._engine.unserved.clear()  # refused on purpose
            assert ATTEMPTS == [("getaddrinfo", "helper.internal"), ("connect", "198.51.100.7")]
            assert requests.get("https://fapi.binance.com/fapi/v1/time", timeout=5).ok

        @pytest.mark.exchange_chaos(allow_hosts=["198.51.100.*"])
        def test_allowed_address_glob():
            with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="the test forbids"):
                sock.connect(("198.51.100.9", 8080))
            assert requests.get("https://fapi.binance.com/fapi/v1/time", timeout=5).ok

        @pytest.mark.exchange_chaos(allow_hosts=["*"])
        def test_a_venue_host_is_never_allowed_around_the_transports():
            with pytest.raises(BaseException, match="this is a simulated venue's host"):
                socket.getaddrinfo("fapi.binance.com", 443)
            # ...while the venue answers it through the clients it simulates.
            assert requests.get("https://fapi.binance.com/fapi/v1/time", timeout=5).ok
        """
    )
    result = chaos_pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_a_venue_host_is_never_allowed_around_the_transports*"])
    result.stdout.fnmatch_lines(["*this is a simulated venue's host*"])


CLIENTS = {
    "requests": "import requests\nanswer = requests.get(URL, timeout=5).content",
    "httpx": "import httpx\nanswer = httpx.get(URL, timeout=5).content",
    "httpx-async": "import asyncio, httpx\n"
    "async def get():\n"
    "    async with httpx.AsyncClient(timeout=5) as client:\n"
    "        return (await client.get(URL)).content\n"
    "answer = asyncio.run(get())",
    "aiohttp": "import asyncio, aiohttp\n"
    "async def get():\n"
    # The stand-in DNS is socket.getaddrinfo's: aiodns (when installed) would not see it.
    "    connector = aiohttp.TCPConnector(resolver=aiohttp.ThreadedResolver())\n"
    "    async with aiohttp.ClientSession(connector=connector) as session:\n"
    "        async with session.get(URL) as response:\n"
    "            return await response.read()\n"
    "answer = asyncio.run(get())",
    "urllib": "import urllib.request\nanswer = urllib.request.urlopen(URL, timeout=5).read()",
}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_a_client_reaches_an_allowed_host_by_name_through_the_guard(
    chaos_pytester: pytest.Pytester, client: str
) -> None:
    chaos_pytester.makeconftest(REAL_NETWORK)
    chaos_pytester.makepyfile(
        f"""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import pytest
from conftest import ATTEMPTS, HELPER

{PING}
@pytest.mark.exchange_chaos(allow_hosts=["helper.internal"])
def test_bot():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ping)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    HELPER["on"] = True
    URL = f"http://helper.internal:{{server.server_address[1]}}/"
    try:
{_indented(CLIENTS[client])}
    finally:
        server.shutdown()
        server.server_close()
    assert answer == b"pong"
    assert ("getaddrinfo", "helper.internal") in ATTEMPTS
    import requests
    assert requests.get("https://fapi.binance.com/fapi/v1/time", timeout=5).ok
"""
    )
    chaos_pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_every_client_reaches_a_loopback_server_without_allowing_it(
    chaos_pytester: pytest.Pytester, client: str, host: str
) -> None:
    chaos_pytester.makeconftest(REAL_NETWORK)
    chaos_pytester.makepyfile(
        f"""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import pytest, requests
from conftest import ATTEMPTS

{PING}
@pytest.fixture
def own_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ping)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()

@pytest.mark.exchange_chaos
def test_bot(own_server, exchange_chaos):
    URL = f"http://{host}:{{own_server}}/"
{_indented(CLIENTS[client]).replace("        ", "    ", 1).replace(chr(10) + "        ", chr(10) + "    ")}
    assert answer == b"pong"
    assert requests.get("https://fapi.binance.com/fapi/v1/time", timeout=5).ok
    assert [record.path for record in exchange_chaos.journal] == ["/fapi/v1/time"]
    assert ATTEMPTS == []
"""
    )
    chaos_pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)


# -- child processes -------------------------------------------------------------------------------

CHILDREN = {
    "spawn": "multiprocessing.get_context('spawn').Process(target=print).start()",
    "forkserver": "multiprocessing.get_context('forkserver').Process(target=print).start()",
    "fork": "multiprocessing.get_context('fork').Process(target=print).start()",
    "pool": "concurrent.futures.ProcessPoolExecutor(mp_context=multiprocessing.get_context('spawn')).submit(print)",
    "os.fork": "os.fork()",
}


@pytest.mark.parametrize("how", sorted(CHILDREN))
def test_a_child_process_is_refused_inside_a_chaos_test(chaos_pytester: pytest.Pytester, how: str) -> None:
    chaos_pytester.makepyfile(
        f"""
        import concurrent.futures, multiprocessing, os
        import pytest

        @pytest.mark.exchange_chaos
        def test_bot():
            try:
                {CHILDREN[how]}
            except BaseException as error:
                print("bot swallowed", type(error).__name__)
        """
    )
    result = chaos_pytester.runpytest("-s", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*bot swallowed UnservedRequestError",
            "exchange-chaos refused starting a child process * a child process would run outside the "
            "simulated venues and the guard*",
        ]
    )


# -- allow_hosts patterns that can never match -----------------------------------------------------

BAD_PATTERNS = {
    "https://api.example.com/v1": "'https://api.example.com/v1' has a scheme; hosts are matched without it: write 'api.example.com'",
    "api.example.com:443": "'api.example.com:443' has a port; hosts are matched without one: write 'api.example.com'",
    "10.0.0.0/8": "'10.0.0.0/8' is a network range (CIDR), which allow_hosts does not read; write the addresses as a glob (e.g. '10.0.0.*') or the host names",
    "": "'' is empty and matches no host; remove it",
    " localhost": "' localhost' contains whitespace and matches no host; write 'localhost'",
    "*.*": "'*.*' matches (nearly) every host; if every host is really meant, write allow_hosts=('*',) alone*",
    "[::1]": "'[::1]': write an IPv6 address without brackets or port, e.g. '::1'",
    # Globs that spell out no "*" alone yet match every host.
    "*[!_]*": "'*[!_]*' matches (nearly) every host; if every host is really meant, write allow_hosts=('*',) alone*",
    "[a-z]*": "'[a-z]*' matches (nearly) every host; if every host is really meant, write allow_hosts=('*',) alone*",
}


@pytest.mark.parametrize(
    ("where", "pattern"),
    [
        *(("marker", pattern) for pattern in sorted(BAD_PATTERNS)),
        *(("option", pattern) for pattern in sorted(BAD_PATTERNS)),
        # An ini line list strips its lines and drops blank ones itself; it shares the option's check.
        ("ini", "api.example.com:443"),
        ("ini", "10.0.0.0/8"),
    ],
)
def test_an_allow_host_that_can_never_match_is_a_usage_error(
    chaos_pytester: pytest.Pytester, pattern: str, where: str
) -> None:
    hosts = [pattern] if where == "marker" else []
    chaos_pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.exchange_chaos(allow_hosts={hosts!r})
        def test_it():
            pass
        """
    )
    args = []
    if where == "option":
        args.append(f"--chaos-allow-host={pattern}")
    if where == "ini":
        chaos_pytester.makeini(
            f"[pytest]\nasyncio_default_fixture_loop_scope = function\nchaos_allow_hosts =\n    {pattern}\n"
        )
    result = chaos_pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    prefix = {
        "marker": f"test_*::test_it: exchange_chaos(allow_hosts={hosts!r}): ",
        "option": "--chaos-allow-host: ",
        "ini": "the ini's chaos_allow_hosts: ",
    }[where]
    result.stderr.fnmatch_lines([_literal("ERROR: " + prefix + BAD_PATTERNS[pattern])])
    assert "Traceback" not in result.stderr.str()


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        (
            "'*'",
            "exchange_chaos(allow_hosts='*') would let this test reach every host no venue serves; if that is really meant, spell it out as allow_hosts=('*',)",
        ),
        (
            "['*', 'localhost']",
            "exchange_chaos(allow_hosts=['*', 'localhost']): '*' already allows every host; write it alone ('*',), or list the hosts without it",
        ),
    ],
)
def test_every_host_must_be_spelled_out(chaos_pytester: pytest.Pytester, hosts: str, expected: str) -> None:
    chaos_pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.exchange_chaos(allow_hosts={hosts})
        def test_it():
            pass
        """
    )
    result = chaos_pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: test_*::test_it: " + _literal(expected)])


def test_every_host_spelled_out_is_warned_about_in_the_header(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        """
        import pytest, requests

        @pytest.mark.exchange_chaos(allow_hosts=("*",))
        def test_everywhere():
            assert requests.get("https://fapi.binance.com/fapi/v1/time", timeout=5).ok

        @pytest.mark.exchange_chaos(allow_hosts=["localhost"])
        def test_somewhere():
            assert requests.get("https://fapi.binance.com/fapi/v1/time", timeout=5).ok
        """
    )
    result = chaos_pytester.runpytest("--chaos-allow-host=*")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "exchange-chaos: WARNING: --chaos-allow-host='*' lets chaos tests reach ANY host no venue "
            "serves, for real*",
            "exchange-chaos: WARNING: allow_hosts=('*',) on 1 test(s) (test_every_host_*.py::test_everywhere) "
            "lets chaos tests reach ANY host*",
        ]
    )


def test_no_warning_without_every_host(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        """
        import pytest, requests

        @pytest.mark.exchange_chaos(allow_hosts=["localhost", "*.internal", "::1"])
        def test_somewhere():
            assert requests.get("https://fapi.binance.com/fapi/v1/time", timeout=5).ok
        """
    )
    result = chaos_pytester.runpytest("--chaos-allow-host=127.0.0.*")
    result.assert_outcomes(passed=1)
    assert "WARNING" not in result.stdout.str()


# -- the plugin switched off -----------------------------------------------------------------------

SWITCHED_OFF_SUITE = """
import pytest

@pytest.mark.exchange_chaos(seed=1)
def test_marked():
    raise AssertionError("a switched-off chaos test must not run")

@pytest.mark.retry_budget()
def test_budgeted():
    raise AssertionError("a switched-off chaos test must not run")

@pytest.fixture
def bot(exchange_chaos):
    raise AssertionError("a bot fixture of a switched-off chaos test must not run")

def test_fixture_only(bot):
    pass

def test_fixture_at_run_time(request):
    request.getfixturevalue("exchange_chaos")
    raise AssertionError("a switched-off chaos test must not run")

def test_plain():
    pass
"""


def test_switched_off_chaos_tests_fail_with_a_message_saying_so(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(SWITCHED_OFF_SUITE)
    result = chaos_pytester.runpytest("-p", "no:exchange_chaos", "--strict-markers", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1, errors=3)
    text = result.stdout.str()
    assert text.count("exchange-chaos is switched off (-p no:exchange_chaos)") >= 4
    assert "must not run" not in text
    result.stdout.fnmatch_lines(["*Switch the plugin back on (drop -p no:exchange_chaos), or deselect*"])


def test_switched_off_chaos_tests_can_be_deselected(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(SWITCHED_OFF_SUITE)
    result = chaos_pytester.runpytest(
        "-p",
        "no:exchange_chaos",
        "--strict-markers",
        "-m",
        "not exchange_chaos and not retry_budget",
        "-k",
        "not fixture",
    )
    result.assert_outcomes(passed=1, deselected=4)


def test_switched_on_the_stand_in_does_nothing(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        """
        def test_it(pytestconfig):
            manager = pytestconfig.pluginmanager
            assert manager.has_plugin("exchange_chaos_off")
            assert manager.get_plugin("exchange_chaos_switched_off") is None
        """
    )
    chaos_pytester.runpytest().assert_outcomes(passed=1)


def test_an_allowed_name_resolved_by_aiodns_is_connected_to(chaos_pytester: pytest.Pytester) -> None:
    # aiohttp resolves in c-ares when aiodns is installed (ccxt before 4.5.1 requires it, as does
    # aiohttp[speedups]): socket.getaddrinfo never sees the name, so the guard must learn the
    # addresses from aiohttp's resolver, or it refuses the connection to an allowed host.
    pytest.importorskip("aiodns")
    chaos_pytester.makeconftest(REAL_NETWORK)
    chaos_pytester.makepyfile(
        """
import asyncio, socket
from types import SimpleNamespace
import aiodns, aiohttp, pytest
from conftest import ATTEMPTS

async def fake_getaddrinfo(self, host, *args, **kwargs):
    if host != "helper.internal":
        raise aiodns.error.DNSError(4, "Domain name not found")
    ATTEMPTS.append(("aiodns", host))
    node = SimpleNamespace(addr=(b"198.51.100.7", 8080), family=socket.AF_INET)
    return SimpleNamespace(nodes=[node])

@pytest.mark.exchange_chaos(allow_hosts=["helper.internal"], expect_requests=False)
def test_bot(monkeypatch):
    monkeypatch.setattr(aiodns.DNSResolver, "getaddrinfo", fake_getaddrinfo)
    assert aiohttp.resolver.DefaultResolver is aiohttp.resolver.AsyncResolver

    async def get():
        async with aiohttp.ClientSession() as session:
            await session.get("http://helper.internal:8080/")

    # The guard lets the connection through; the test's stand-in network then refuses it.
    with pytest.raises(aiohttp.ClientConnectorError):
        asyncio.run(get())
    assert ATTEMPTS == [("aiodns", "helper.internal"), ("connect", "198.51.100.7")]
"""
    )
    chaos_pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)
