"""Is a schedule's ``stream=`` a stream the venues publish? The marker (a usage error) and
``exchange_chaos.add()`` (a ValueError) ask the same, before a stream= that matches nothing
lets a test pass untested. No pytest here."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from pytest_exchange_chaos.schedule import Schedule

__all__ = ["STREAM_WORDS", "VenueStreams", "closest_stream", "stream_kind_problem", "stream_kinds_of"]

STREAM_WORDS = frozenset({"public", "private", "*"})
"""stream= words every venue understands, whatever it publishes."""

# Words a trader may reach for, by what they mean: each venue names the stream its own way.
_STREAM_SYNONYMS = (
    frozenset({"orderbook", "depth", "book", "orderbooks", "books", "l2"}),
    frozenset({"ticker", "tickers", "markprice", "mark", "price", "prices", "bookticker"}),
    frozenset({"order", "orders", "user", "userdata", "account", "private"}),
    frozenset({"execution", "executions", "trades", "mytrades", "fills", "fill", "user"}),
    frozenset({"wallet", "balance", "balances", "user"}),
    frozenset({"position", "positions", "user"}),
    frozenset({"kline", "klines", "ohlcv", "candles", "candle"}),
)


class VenueStreams(NamedTuple):
    kinds: frozenset[str] | None
    """The stream kinds its stream server publishes (empty: it has none), or None where its
    server does not say (a stream server of a plugin's own, without ``stream_kinds``: no
    stream= is refused for such a venue)."""
    listen_keys: bool
    """Its user streams listen with a key it can expire."""


def stream_kinds_of(venues: Iterable[Any]) -> dict[str, VenueStreams]:
    """Each venue id (a venue or its class) with what its streams are."""
    from pytest_exchange_chaos.streams import stream_server_class

    known: dict[str, VenueStreams] = {}
    for venue in venues:
        # It reads only the id and stream_server_class: a venue's class will do.
        server = stream_server_class(venue)
        kinds = frozenset() if server is None else getattr(server, "stream_kinds", None)
        listen_keys = server is not None and server.hands_out_listen_keys()
        known[str(venue.id)] = VenueStreams(frozenset(kinds) if kinds is not None else None, listen_keys)
    return known


def closest_stream(kind: str, published: frozenset[str]) -> str | None:
    word = kind.lower().replace("_", "").replace("-", "")
    for synonyms in _STREAM_SYNONYMS:
        if word in synonyms:
            meant = sorted(published & {*synonyms, *(k for k in published if k.lower() in synonyms)})
            if meant:
                return max(meant, key=lambda k: difflib.SequenceMatcher(None, word, k.lower()).ratio())
    close = difflib.get_close_matches(kind, sorted(published | {"public", "private"}), n=1, cutoff=0.5)
    return close[0] if close else None


def stream_kind_problem(schedule: Schedule, by_venue: Mapping[str, VenueStreams]) -> str | None:
    """Why ``schedule``'s stream= would match nothing on these venues, or None when it may."""
    stream = schedule.matcher.stream
    if stream is None or not stream - STREAM_WORDS:
        return None
    targets = sorted(schedule.matcher.venue or by_venue)
    kinds = {v: by_venue[v].kinds if v in by_venue else None for v in targets}
    if any(k is None for k in kinds.values()):
        return None
    published = frozenset().union(*(k for k in kinds.values() if k is not None))
    for kind in sorted(stream - STREAM_WORDS - published):
        where = f"{', '.join(targets)} publishes" if schedule.matcher.venue else "any venue publishes"
        # The venues that publish something first: they are where the fix is.
        each = "; ".join(
            [f"{venue} publishes {', '.join(sorted(k))}" for venue, k in kinds.items() if k]
            + [f"{venue} publishes no stream" for venue, k in kinds.items() if not k]
        )
        close = closest_stream(kind, published)
        meant = ""
        if close is not None:
            on = [v for v, k in kinds.items() if k and close in k]
            at = f" (on {', '.join(on)})" if on and not schedule.matcher.venue else ""
            meant = f"; did you mean {close!r}{at}?"
        return (
            f"{schedule!r}: stream={kind!r} is no stream {where}: {each}{meant} "
            '(stream="public", "private" or "*" cover every venue\'s streams of that side)'
        )
    return None
