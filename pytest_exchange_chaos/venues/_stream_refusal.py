"""A stream the venue's gateway serves but the simulation does not publish fails the test by name.

The venue answers the subscription with its own error shape, so ccxt raises at once; but a bot
that catches the error and carries on over REST would pass a test that never exercised its
streams. Recorded with the engine's refused requests, the refusal fails the test at teardown
whatever the bot did with the error, as ``Venue.not_simulated()`` does for a REST path.
"""

from __future__ import annotations

from pytest_exchange_chaos.streams import Connection

__all__ = ["STREAM_NOT_SIMULATED_HELP", "STREAM_NOT_SIMULATED_REASON", "refuse_not_simulated"]

STREAM_NOT_SIMULATED_REASON = (
    "the simulated venue serves this websocket host but does not publish this stream, so a bot "
    "waiting on it would wait forever or carry on over REST untested. Watch a stream the venue "
    "publishes, or serve this one with a stream server of your own "
    "(pytest_exchange_chaos/streams/README-for-venues.md)"
)
STREAM_NOT_SIMULATED_HELP = "see docs/howto/websockets.md#what-is-not-simulated"


def refuse_not_simulated(connection: Connection, what: str) -> None:
    """Record that ``connection`` asked for ``what`` (``"Bybit spot streams (/v5/public/spot):
    subscribe tickers.BTCUSDT"``), which the venue does not simulate: the test then fails."""
    # Imported here: the guard patches the process's sockets, which a venue module never needs.
    from pytest_exchange_chaos._network_guard import Refusal

    engine = connection.hub.engine
    refusal = Refusal(
        connection.hub.now(),
        "WS",
        connection.url.split("?")[0],
        "aiohttp",
        what=f"{what} (on the websocket {connection.host}{connection.path})",
        reason=STREAM_NOT_SIMULATED_REASON,
        help=STREAM_NOT_SIMULATED_HELP,
    )
    engine.unserved.append(refusal)
