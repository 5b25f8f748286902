"""The plugin's own errors, for what a bot must never be able to retry its way past."""

from __future__ import annotations

from pytest_exchange_chaos._redact import redact_text

__all__ = ["UnservedRequestError"]

GUARD_HELP = "see docs/howto/clients.md#the-guard"
COVERAGE_HELP = "see docs/howto/clients.md#what-the-guard-covers"

UNSERVED_REASON = (
    "no simulated venue serves this host, and chaos tests never reach the network. Serve it with a "
    "venue of your own (pytest_exchange_chaos_venues hook), mock it yourself, or allow it"
)


NOT_SIMULATED_REASON = (
    "the simulated venue serves this host but not this endpoint, and a made-up 404 would reach the "
    "bot as an outage it retries. Call an endpoint the venue simulates, or serve this one with a "
    "venue of your own (pytest_exchange_chaos_venues hook)"
)
VENUE_HELP = "see docs/howto/venues.md#what-each-venue-simulates"
_NOT_SIMULATED = " is not simulated (sent with "


class UnservedRequestError(BaseException):
    """A chaos test sent a request that no simulated venue serves, or tried to reach the network
    another way (a raw socket, urllib, a child process).

    It derives from BaseException, as ``pytest.fail`` does, so a bot's ``except Exception``
    retry loop cannot swallow it and turn a test bug into an apparent outage; the plugin also
    fails the test afterwards in case something caught it anyway.
    """

    def __init__(self, description: str, *, reason: str = UNSERVED_REASON, help: str = GUARD_HELP) -> None:
        if reason is UNSERVED_REASON and _NOT_SIMULATED in description:
            # A venue's own refusal (Venue.not_simulated), raised by whichever transport sent it.
            reason, help = NOT_SIMULATED_REASON, VENUE_HELP
        # Whatever built the description, the message never shows a credential.
        super().__init__(f"exchange-chaos refused {redact_text(description)}: {reason}; {help}")


# Why the network guard refused something other than an HTTP request: each names its own fix.
SOCKET_REASON = (
    "no simulated venue serves this host, and chaos tests never reach the network (the venues answer "
    "only aiohttp, requests and httpx, and every other way out is refused). Mock this call yourself, "
    "or allow the host if it is a local helper service"
)
VENUE_SOCKET_REASON = (
    "this is a simulated venue's host, but the venues answer only requests sent with aiohttp, requests "
    "or httpx; this call went around them and would have reached the real exchange. Send it with one "
    "of those clients"
)
WEBSOCKET_REASON = (
    "websockets are not simulated yet, so a chaos test refuses every websocket to a host that is not "
    "allowed (ccxt.pro's watch_* methods included). Test the REST side, or allow the host for a local "
    "websocket server"
)
CHILD_PROCESS_REASON = (
    "a child process would run outside the simulated venues and the guard (its requests would reach "
    "the real network, or a copy of the venues whose journal this test never sees). Start it before "
    "the chaos test (in a module- or session-scoped fixture), or run that work in threads in tests"
)
