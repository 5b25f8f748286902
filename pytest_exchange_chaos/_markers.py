"""Reading the ``exchange_chaos`` and ``retry_budget`` markers, with errors that say what to write."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_exchange_chaos import profiles
from pytest_exchange_chaos._durations import shown
from pytest_exchange_chaos._seeds import MAX_SEED
from pytest_exchange_chaos._stream_kinds import (
    STREAM_WORDS,
    VenueStreams,
    stream_kind_problem,
    stream_kinds_of,
)
from pytest_exchange_chaos.budget import Budget
from pytest_exchange_chaos.clock import ClockMode
from pytest_exchange_chaos.ratelimits import BinanceRateLimits
from pytest_exchange_chaos.schedule import Schedule, flatten_schedules
from pytest_exchange_chaos.venues.base import INTENTS, Venue

__all__ = ["ChaosSettings", "read_settings", "venue_classes"]

_CHAOS_KWARGS = ("seed", "profile", "clock", "allow_hosts", "expect_requests", "retry_after")
_VENUES_KEY = pytest.StashKey["dict[str, frozenset[str] | None]"]()
_CLOCKS: tuple[ClockMode, ...] = ("virtual", "real")


@dataclass(frozen=True)
class ChaosSettings:
    schedules: tuple[Schedule, ...] = ()
    seed: int | None = None
    clock: ClockMode = "virtual"
    budgets: Mapping[str, Budget] = field(default_factory=dict)
    allow_hosts: tuple[str, ...] = ()
    expect_requests: bool = True
    """False for a test that only inspects the venues: it may end without a single request."""
    rate_limits: tuple[BinanceRateLimits, ...] = ()
    """Venues that limit the bot's request rate as Binance does (429, then growing 418 bans)."""
    retry_after_respected: bool = False
    """``retry_after="respected"``: the test fails if the bot sent before a Retry-After elapsed."""


def venue_classes(config: pytest.Config) -> list[type[Venue]]:
    """The built-in venues, with those of ``pytest_exchange_chaos_venues`` replacing or adding."""
    from pytest_exchange_chaos.venues import builtin_venues

    by_id: dict[str, type[Venue]] = {cls.id: cls for cls in builtin_venues()}
    for result in config.hook.pytest_exchange_chaos_venues(config=config):
        for cls in result or ():
            if not (isinstance(cls, type) and issubclass(cls, Venue)):
                raise pytest.UsageError(
                    f"pytest_exchange_chaos_venues returned {cls!r}; return subclasses of "
                    "pytest_exchange_chaos.venues.Venue (the class, not an instance)"
                )
            by_id[cls.id] = cls
    return list(by_id.values())


def _symbols_by_venue(config: pytest.Config) -> dict[str, frozenset[str] | None]:
    """Each venue id with the unified symbols it lists, or None where that is not known at
    collection (a venue of a plugin's own)."""
    known = config.stash.get(_VENUES_KEY, None)
    if known is None:
        from pytest_exchange_chaos.venues import builtin_venues
        from pytest_exchange_chaos.venues._instruments import builtin_listings

        builtin = set(builtin_venues())
        listings = builtin_listings()
        known = {cls.id: listings.get(cls.id) if cls in builtin else None for cls in venue_classes(config)}
        config.stash[_VENUES_KEY] = known
    return known


def _check_matchers(item: pytest.Item, schedules: list[Schedule]) -> None:
    named = [s for s in schedules if s.matcher.venue is not None or s.matcher.symbol is not None]
    if not named:
        return
    venues = _symbols_by_venue(item.config)
    for schedule in named:
        unknown = sorted((schedule.matcher.venue or frozenset()) - set(venues))
        if unknown:
            raise _usage(
                item,
                f"{schedule!r}: venue {', '.join(map(repr, unknown))} is no venue; write a ccxt id: "
                f"{', '.join(map(repr, sorted(venues)))} (a venue of your own comes from the "
                "pytest_exchange_chaos_venues hook)",
            )
        targets = sorted(schedule.matcher.venue or venues)
        listings = [venues[v] for v in targets]
        if schedule.matcher.symbol is None or any(listing is None for listing in listings):
            continue
        listed = frozenset().union(*(listing for listing in listings if listing is not None))
        for symbol in sorted(schedule.matcher.symbol - listed):
            close = difflib.get_close_matches(symbol, sorted(listed), n=1, cutoff=0.0)
            raise _usage(
                item,
                f"{schedule!r}: symbol {symbol!r} is not listed on {', '.join(targets)}, so it can "
                "never match; the venues list linear perpetuals (BTC/USDT:USDT) and spot pairs "
                "(BTC/USDT) in ccxt's form" + (f", e.g. {close[0]!r}" if close else ""),
            )


_STREAMS_KEY = pytest.StashKey["dict[str, VenueStreams]"]()


def _venue_streams(config: pytest.Config) -> dict[str, VenueStreams]:
    """Each venue's stream kinds and whether it hands out listen keys (see stream_kinds_of)."""
    known = config.stash.get(_STREAMS_KEY, None)
    if known is None:
        known = config.stash[_STREAMS_KEY] = stream_kinds_of(venue_classes(config))
    return known


def _check_listen_keys(item: pytest.Item, schedules: list[Schedule]) -> None:
    """``listen_key_expired`` strikes only where listen keys exist: named elsewhere, it would
    never strike."""
    expiring = [
        s
        for s in schedules
        if getattr(s.fault, "kind", None) == "listen_key_expired" and s.matcher.stream is not None
    ]
    if not expiring:
        return
    streams = _venue_streams(item.config)
    for schedule in expiring:
        assert schedule.matcher.stream is not None
        wanted = schedule.matcher.stream - STREAM_WORDS
        targets = sorted(schedule.matcher.venue or streams)
        reached = [
            venue
            for venue in targets
            if streams[venue].kinds is None or not wanted or wanted & (streams[venue].kinds or frozenset())
        ]
        if reached and not any(streams[v].listen_keys or streams[v].kinds is None for v in reached):
            with_keys = sorted(v for v, s in streams.items() if s.listen_keys)
            raise _usage(
                item,
                f"{schedule!r}: faults.stream.listen_key_expired() strikes only user streams that listen "
                f"with a listenKey ({', '.join(with_keys) or 'no venue of this session'}), and "
                f"{', '.join(reached)} has none; for Bybit's private stream schedule "
                'faults.stream.disconnect() or stall() with stream="private"',
            )


def _check_streams(item: pytest.Item, schedules: list[Schedule]) -> None:
    """A stream= kind no venue publishes would match nothing: the test would pass untested (or
    fail with a misleading "never fired")."""
    if not any(s.matcher.stream is not None and s.matcher.stream - STREAM_WORDS for s in schedules):
        return
    by_venue = _venue_streams(item.config)
    for schedule in schedules:
        problem = stream_kind_problem(schedule, by_venue)
        if problem is not None:
            raise _usage(item, problem)


def _usage(item: pytest.Item, message: str) -> pytest.UsageError:
    return pytest.UsageError(f"{item.nodeid}: {message}")


def read_settings(item: pytest.Item) -> ChaosSettings:
    """Parse both markers; any mistake is a UsageError naming the test and the fix."""
    schedules: list[Schedule] = []
    rate_limits: list[BinanceRateLimits] = []
    options: dict[str, Any] = {}
    # Closest marker first: a function's own settings win over its class's or module's.
    for marker in item.iter_markers("exchange_chaos"):
        unknown = sorted(set(marker.kwargs) - set(_CHAOS_KWARGS))
        if unknown:
            raise _usage(
                item,
                f"exchange_chaos() got unexpected argument(s) {', '.join(unknown)}; it takes schedules "
                f"(Wave(...), Burst(...)) and the keywords {', '.join(_CHAOS_KWARGS)}",
            )
        try:
            schedules.extend(
                flatten_schedules(
                    [a for a in marker.args if not isinstance(a, BinanceRateLimits)], where="exchange_chaos()"
                )
            )
        except (TypeError, ValueError) as exc:
            raise _usage(item, str(exc)) from None
        for key, value in marker.kwargs.items():
            options.setdefault(key, value)
        rate_limits.extend(a for a in marker.args if isinstance(a, BinanceRateLimits))

    seed = options.get("seed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED
    ):
        raise _usage(
            item,
            f"exchange_chaos(seed={shown(seed)}): write a whole number, e.g. seed=7 (from 0 to {MAX_SEED})",
        )
    clock = options.get("clock", "virtual")
    if clock not in _CLOCKS:
        raise _usage(item, f"exchange_chaos(clock={shown(clock)}): write clock='virtual' or clock='real'")
    profile = options.get("profile")
    if profile is not None:
        if not isinstance(profile, str):
            raise _usage(
                item, f"exchange_chaos(profile={shown(profile)}): write a profile's name as a string"
            )
        try:
            schedules.extend(profiles.get(profile))
        except ValueError as exc:
            raise _usage(item, str(exc)) from None

    allow_hosts = options.get("allow_hosts", ())
    if allow_hosts == "*":
        raise _usage(
            item,
            "exchange_chaos(allow_hosts='*') would let this test reach every host no venue serves; "
            "if that is really meant, spell it out as allow_hosts=('*',)",
        )
    if isinstance(allow_hosts, str):
        allow_hosts = (allow_hosts,)
    if not isinstance(allow_hosts, (list, tuple)) or not all(isinstance(h, str) for h in allow_hosts):
        raise _usage(
            item,
            f"exchange_chaos(allow_hosts={allow_hosts!r}): write host names, e.g. allow_hosts=['localhost']",
        )
    if allow_hosts:
        from pytest_exchange_chaos._network_guard import allow_hosts_problem

        problem = allow_hosts_problem(allow_hosts)
        if problem is not None:
            raise _usage(item, f"exchange_chaos(allow_hosts={allow_hosts!r}): {problem}")

    expect_requests = options.get("expect_requests", True)
    if not isinstance(expect_requests, bool):
        raise _usage(
            item,
            f"exchange_chaos(expect_requests={expect_requests!r}): write expect_requests=False for a "
            "test that may send no request (it only inspects the venues), or leave it out",
        )
    _check_matchers(item, schedules)
    _check_streams(item, schedules)
    _check_listen_keys(item, schedules)
    retry_after = options.get("retry_after")
    if retry_after is not None and retry_after != "respected":
        raise _usage(
            item,
            f"exchange_chaos(retry_after={shown(retry_after)}): write retry_after='respected' (the test "
            "fails if the bot sends to a venue before a 429's or 418's Retry-After has elapsed), or "
            "leave it out",
        )
    if rate_limits:
        known = _symbols_by_venue(item.config)
        for limits in rate_limits:
            unknown = sorted(limits.venues - set(known))
            if unknown:
                raise _usage(
                    item,
                    f"{limits!r}: venue {', '.join(map(repr, unknown))} is no venue; write a ccxt id: "
                    f"{', '.join(map(repr, sorted(v for v in known if v.startswith('binance'))))}",
                )

    budgets: dict[str, Budget] = {}
    for marker in item.iter_markers("retry_budget"):
        if not marker.args and not marker.kwargs:
            raise _usage(
                item,
                "retry_budget() without a budget checks nothing: write one per intent, e.g. "
                "retry_budget(stop_loss=Budget(attempts=5, seconds=60))",
            )
        if marker.args:
            raise _usage(
                item,
                "retry_budget() takes keywords only, one per intent: e.g. "
                "retry_budget(stop_loss=Budget(attempts=5, seconds=60))",
            )
        for intent, budget in marker.kwargs.items():
            if intent not in INTENTS:
                raise _usage(
                    item,
                    f"retry_budget({intent}=...): {intent!r} is not an intent; "
                    f"use one of {', '.join(INTENTS)}",
                )
            if not isinstance(budget, Budget):
                raise _usage(
                    item,
                    f"retry_budget({intent}={shown(budget)}): write {intent}=Budget(attempts=5, seconds=60)",
                )
            budgets.setdefault(intent, budget)
    return ChaosSettings(
        tuple(schedules),
        seed,
        clock,
        budgets,
        tuple(allow_hosts),
        expect_requests,
        rate_limits=tuple(rate_limits),
        retry_after_respected=retry_after == "respected",
    )
