"""Binance's rate limiter, reacting to what the bot does rather than to a fixed schedule.

Binance counts every request an IP sends to a host in fixed windows (2,400 request weight a
minute on USD-M futures). Past the limit it answers ``429 Too Many Requests`` with a
``Retry-After`` header: the seconds to wait "to prevent a ban". A client that sends again before
that wait is over is banned: ``418 I'm a teapot``, ``Retry-After`` the length of the ban, and
bans "scale in duration for repeat offenders, from 2 minutes to 3 days". Binance does not publish
the steps; here every request sent while the venue said wait (during a 429's wait or during a
ban) earns the next ban, each twice as long as the one before, up to ``max_ban``.

Pure: no pytest and no HTTP client. The marker takes a ``BinanceRateLimits`` among its schedules;
a script passes ``limits.start()`` to ``session.chaos_session(deciders=...)``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from pytest_exchange_chaos._durations import Duration, format_clock, parse_duration, shown
from pytest_exchange_chaos.faults import Fault, FaultContext, HttpFault
from pytest_exchange_chaos.outcome import Outcome
from pytest_exchange_chaos.venues.base import Call, ExchangeRequest

__all__ = ["BinanceRateLimits", "RateLimiter"]

_IP = "203.0.113.7"
"""The bot's IP as the answers quote it: a documentation address (RFC 5737)."""

# A request sent on the very instant a wait ends is on time: the chaos clock adds seconds to
# seconds, so the bot's sleep and the venue's deadline may differ in the last bit.
_ON_TIME = 1e-6


def _per_words(seconds: float) -> str:
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % length == 0:
            count = int(seconds // length)
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds:g} seconds"


def _venues(venue: object) -> frozenset[str]:
    values = (venue,) if isinstance(venue, str) else venue
    if isinstance(values, (bytes, bytearray)) or not isinstance(values, Iterable):
        raise TypeError(f"BinanceRateLimits(venue={shown(venue)}): write a ccxt id, e.g. venue='binanceusdm'")
    ids = list(values)
    if not ids or not all(isinstance(v, str) for v in ids):
        raise TypeError(
            f"BinanceRateLimits(venue={shown(venue)}): write a ccxt id or a list of them, e.g. "
            "venue='binanceusdm'"
        )
    others = sorted(v for v in ids if not v.startswith("binance"))
    if others:
        raise ValueError(
            f"BinanceRateLimits(venue={', '.join(map(repr, others))}): these answers are Binance's "
            "(429 and 418 with Retry-After, code -1003); write a Binance venue such as "
            "venue='binanceusdm'. Bybit limits differently (retCode 10006 per endpoint, 403 per IP)"
        )
    return frozenset(ids)


class BinanceRateLimits:
    """Binance's rate limits on ``venue``: at most ``limit`` requests in each ``per`` window of
    the chaos clock (windows start with the test), then ``429`` with ``Retry-After`` until the
    window ends; a request sent before a 429's or a ban's ``Retry-After`` elapsed gets ``418``
    and a ban, ``ban`` long the first time and twice as long each time after, up to ``max_ban``.

    ``required=True`` (the default) fails the test when it never limited a request: a limit the
    bot never reached tested nothing. Every request counts as 1 (Binance weighs some endpoints
    more: set ``limit`` in requests).
    """

    __slots__ = ("ban", "limit", "max_ban", "per", "required", "venues")

    def __init__(
        self,
        limit: int = 2400,
        per: Duration = "1m",
        *,
        venue: str | Iterable[str] = "binanceusdm",
        ban: Duration = "2m",
        max_ban: Duration = "72h",
        required: bool = True,
    ) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(
                f"BinanceRateLimits(limit={shown(limit)}): write how many requests a window allows, "
                "a whole number from 1, e.g. limit=2400"
            )
        self.limit = limit
        self.per = parse_duration(per, what="BinanceRateLimits per")
        if self.per < 1:
            raise ValueError(
                f"BinanceRateLimits(per={shown(per)}): write a window of at least a second, e.g. per='1m' "
                "(Retry-After counts whole seconds)"
            )
        self.ban = parse_duration(ban, what="BinanceRateLimits ban")
        self.max_ban = parse_duration(max_ban, what="BinanceRateLimits max_ban")
        if self.ban < 1:
            raise ValueError(
                f"BinanceRateLimits(ban={shown(ban)}): write a ban of at least a second, e.g. ban='2m'"
            )
        if self.max_ban < self.ban:
            raise ValueError(
                f"BinanceRateLimits(ban={shown(ban)}, max_ban={shown(max_ban)}): the longest ban cannot be "
                "shorter than the first; Binance's go from 2 minutes to 3 days: ban='2m', max_ban='72h'"
            )
        self.venues = _venues(venue)
        if not isinstance(required, bool):
            raise TypeError(
                f"BinanceRateLimits(required={required!r}): write required=True (the test fails if it "
                "never limits a request) or required=False (a deliberately optional limit)"
            )
        self.required = required

    def __repr__(self) -> str:
        optional = "" if self.required else ", required=False"
        return (
            f"BinanceRateLimits({self.limit} requests per {_per_words(self.per)} on "
            f"{'/'.join(sorted(self.venues))}, bans from {self.ban:g}s to {self.max_ban:g}s{optional})"
        )

    def start(self) -> RateLimiter:
        """A fresh limiter for one test: a fault decider with the counters of that test."""
        return RateLimiter(self)


@dataclass
class _VenueState:
    window: int = -1
    count: int = 0
    wait_until: float = 0.0
    banned_until: float = 0.0
    bans: int = 0
    sent: int = 0
    busiest: int = 0
    busiest_window: int = 0


@dataclass(frozen=True)
class _Banned(Fault):
    """Binance's 418 for a ban of ``seconds``; the body says until when, on the exchange's clock."""

    seconds: int
    name: str = "ip_banned"

    def outcome(self, context: FaultContext) -> Outcome:
        venue_context = getattr(context.venue, "context", None)
        now = venue_context.wall_time() if venue_context is not None else time.time()
        until = round((now + self.seconds) * 1000)
        message = (
            f"Way too many requests; IP({_IP}) banned until {until}. "
            "Please use the websocket for live updates to avoid bans."
        )
        return _answer(self.name, 418, message, self.seconds).outcome(context)

    def describe(self) -> str:
        return f"418 I'm a Teapot (banned {self.seconds} s)"


def _answer(name: str, status: int, message: str, retry_after: int) -> HttpFault:
    body = json.dumps({"code": -1003, "msg": message}, separators=(",", ":")).encode()
    return HttpFault(
        name, status, body, {"Content-Type": "application/json", "Retry-After": str(retry_after)}
    )


class RateLimiter:
    """One test's running ``BinanceRateLimits``: called by the engine before the schedules for
    every request (a ``FaultDecider``), it answers 429 or 418 when Binance would."""

    def __init__(self, limits: BinanceRateLimits) -> None:
        self.limits = limits
        self._states: dict[str, _VenueState] = {}
        self.limited: list[tuple[float, str, int, int]] = []
        """Every answer it gave: (chaos-clock time, venue, status, Retry-After seconds)."""

    @property
    def bans(self) -> list[int]:
        """The length of every ban it handed out, in seconds, in order."""
        return [seconds for _, _, status, seconds in self.limited if status == 418]

    def __call__(self, request: ExchangeRequest, call: Call, now: float) -> Fault | None:
        if call.venue not in self.limits.venues:
            return None
        state = self._states.setdefault(call.venue, _VenueState())
        window = math.floor(now / self.limits.per)
        if window != state.window:
            state.window, state.count = window, 0
        state.count += 1
        state.sent += 1
        if state.count > state.busiest:
            state.busiest, state.busiest_window = state.count, window
        if now + _ON_TIME < max(state.wait_until, state.banned_until):
            return self._ban(call.venue, state, now)
        if state.count > self.limits.limit:
            window_end = (window + 1) * self.limits.per
            retry_after = max(1, math.ceil(window_end - now - _ON_TIME))
            state.wait_until = now + retry_after
            self.limited.append((now, call.venue, 429, retry_after))
            message = (
                f"Too many requests; current limit of IP({_IP}) is {self.limits.limit} requests per "
                f"{_per_words(self.limits.per)}. Please use the websocket for live updates to avoid "
                "polling the API."
            )
            return _answer("rate_limited", 429, message, retry_after)
        return None

    def _ban(self, venue: str, state: _VenueState, now: float) -> Fault:
        state.bans += 1
        # Doubling from the first ban: 64 doublings are past any max_ban already.
        seconds = min(self.limits.ban * 2 ** min(state.bans - 1, 64), self.limits.max_ban)
        ban = max(1, math.ceil(seconds))
        state.banned_until = now + ban
        state.wait_until = 0.0
        self.limited.append((now, venue, 418, ban))
        return _Banned(ban)

    def never_limited(self, *, seed: int | None = None) -> str | None:
        """Why a required limit never limited a request, with the fix; None when it did, or when
        it is optional."""
        limits = self.limits
        if self.limited or not limits.required:
            return None
        venues = "/".join(sorted(limits.venues))
        sent = sum(state.sent for state in self._states.values())
        lines = [f"{limits!r} never limited a request{f' (seed {seed})' if seed is not None else ''}"]
        if not sent:
            lines.append(f"  why: the bot sent no request to {venues}")
            lines.append(
                "  fix: make the bot trade on that venue inside the test, or name its venue: venue=..."
            )
        else:
            venue, state = max(self._states.items(), key=lambda item: item[1].busiest)
            start = state.busiest_window * limits.per
            lines.append(
                f"  why: the bot sent {sent} request(s) to {venues}; its busiest window, "
                f"{format_clock(start)} to {format_clock(start + limits.per)}, carried {state.busiest} "
                f"to {venue}, and the limit is {limits.limit}"
            )
            lower = (
                f"lower limit= below what the bot sends in one window (limit={state.busiest - 1}), or "
                if state.busiest > 1
                else ""
            )
            lines.append(f"  fix: {lower}have the bot send more requests within one window")
        lines.append(
            "       if this limit is deliberately optional, write BinanceRateLimits(..., required=False)"
        )
        return "\n".join(lines)
