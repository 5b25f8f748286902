"""When faults happen: waves on the chaos clock and bursts by request count."""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pytest_exchange_chaos._durations import Duration, format_clock, parse_duration, shown
from pytest_exchange_chaos.faults import Fault
from pytest_exchange_chaos.venues.base import INTENTS, Call, Intent

__all__ = [
    "Burst",
    "Matcher",
    "Schedule",
    "ScheduleGroup",
    "ScheduleRun",
    "ScheduleTally",
    "Wave",
    "flatten_schedules",
    "grouped",
]

_HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


def _as_set(value: str | Iterable[str] | None, what: str) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset({value})
    values: frozenset[Any]
    try:
        values = frozenset(_collection(value, what))
    except TypeError:  # unhashable members: lists in the list
        values = frozenset({None})
    if not all(isinstance(v, str) for v in values):
        raise TypeError(f"{what} must be a string or a collection of strings, not {shown(value)}")
    if not values:
        raise ValueError(
            f"{what}={value!r} is empty and would match nothing: name at least one, "
            "or leave it out to match every request"
        )
    return values


class Requested(Protocol):
    """What matchers read from a request: a venue's ``Call``, or a journal record."""

    @property
    def venue(self) -> str | None: ...
    @property
    def intent(self) -> str: ...
    @property
    def endpoint(self) -> str: ...
    @property
    def symbol(self) -> str | None: ...


def _collection(value: object, what: str) -> Iterable[object]:
    if isinstance(value, (bytes, bytearray)) or not isinstance(value, Iterable):
        raise TypeError(f"{what} must be a string or a collection of strings, not {shown(value)}")
    return value


def _parse_endpoints(endpoint: str | Iterable[str]) -> tuple[tuple[str, str], ...]:
    texts = (endpoint,) if isinstance(endpoint, str) else tuple(_collection(endpoint, "endpoint"))
    if not texts:
        raise ValueError(
            f"endpoint={endpoint!r} is empty and would match nothing: name at least one "
            '"METHOD /path", or leave it out to match every request'
        )
    parsed = []
    for text in texts:
        method, _, path = text.strip().partition(" ") if isinstance(text, str) else ("", "", "")
        if method.upper() not in _HTTP_METHODS or not path.strip().startswith("/"):
            raise ValueError(
                f'endpoint={shown(text)} is not "METHOD /path": write e.g. '
                'endpoint="POST /fapi/v1/order" (the path may be a glob such as "/fapi/*/order"), '
                'or a list of them: endpoint=["POST /fapi/v1/order", "POST /fapi/v1/algoOrder"]'
            )
        pair = (method.upper(), path.strip())
        if pair not in parsed:
            parsed.append(pair)
    return tuple(parsed)


@dataclass(frozen=True)
class Matcher:
    """Which requests a wave or burst applies to; ``None`` matches everything."""

    intent: frozenset[str] | None = None
    endpoint: tuple[tuple[str, str], ...] | None = None
    """``(METHOD, path glob)`` pairs; a request matches if it matches any of them."""
    venue: frozenset[str] | None = None
    symbol: frozenset[str] | None = None
    stream: frozenset[str] | None = None
    """Stream kinds (``"user"``, ``"ticker"``, ``"public"``, ``"private"``; ``"*"``: every stream)
    for a stream fault's schedule; None for an HTTP one. The two never match each other's."""

    @classmethod
    def build(
        cls,
        *,
        intent: Intent | Iterable[Intent] | None = None,
        endpoint: str | Iterable[str] | None = None,
        venue: str | Iterable[str] | None = None,
        symbol: str | Iterable[str] | None = None,
        stream: str | Iterable[str] | None = None,
    ) -> Matcher:
        intents = _as_set(intent, "intent")
        if intents is not None and not intents <= set(INTENTS):
            unknown = ", ".join(sorted(intents - set(INTENTS)))
            raise ValueError(f"intent {unknown!r} is not one of: {', '.join(INTENTS)}")
        parsed_endpoint = None if endpoint is None else _parse_endpoints(endpoint)
        symbols = _as_set(symbol, "symbol")
        if symbols is not None:
            for sym in symbols:
                if "/" not in sym:
                    raise ValueError(
                        f"symbol={sym!r} is an exchange id; write the ccxt unified symbol, "
                        'e.g. symbol="BTC/USDT:USDT"'
                    )
        return cls(intents, parsed_endpoint, _as_set(venue, "venue"), symbols, _as_set(stream, "stream"))

    def matches(self, call: Requested) -> bool:
        if self.stream is not None:
            return False  # a stream schedule: the stream hub matches it against stream events
        if self.intent is not None and call.intent not in self.intent:
            return False
        if self.venue is not None and call.venue not in self.venue:
            return False
        if self.symbol is not None and call.symbol not in self.symbol:
            return False
        return self.endpoint is None or self.matches_endpoint(call.endpoint)

    def matches_endpoint(self, endpoint: str) -> bool:
        if self.endpoint is None:
            return True
        method, _, path = endpoint.partition(" ")
        return any(method == m and fnmatch.fnmatchcase(path, glob) for m, glob in self.endpoint)

    def mismatches(self, call: Requested) -> tuple[str, ...]:
        """The matchers (``intent``, ``endpoint``, ``venue``, ``symbol``) that ``call`` misses."""
        missed = []
        if self.intent is not None and call.intent not in self.intent:
            missed.append("intent")
        if not self.matches_endpoint(call.endpoint):
            missed.append("endpoint")
        if self.venue is not None and call.venue not in self.venue:
            missed.append("venue")
        if self.symbol is not None and call.symbol not in self.symbol:
            missed.append("symbol")
        return tuple(missed)

    def describe(self) -> str:
        parts = []
        if self.intent is not None:
            parts.append("intent " + "/".join(sorted(self.intent)))
        if self.endpoint is not None:
            parts.append(" or ".join(" ".join(pair) for pair in self.endpoint))
        if self.venue is not None:
            parts.append("on " + "/".join(sorted(self.venue)))
        if self.symbol is not None:
            parts.append("/".join(sorted(self.symbol)))
        if self.stream is not None:
            parts.append("every stream" if "*" in self.stream else "stream " + "/".join(sorted(self.stream)))
        return ", ".join(parts) or "every request"


def _check_fault(fault: object, owner: str) -> Fault:
    if not isinstance(fault, Fault):
        raise TypeError(f"{owner}(fault=...) takes a fault such as faults.bad_gateway(), not {shown(fault)}")
    return fault


# What a stream message or connection carries as its intent: private streams are the account's,
# public ones market data. No stream carries an order's intent (entry, stop_loss...).
_STREAM_INTENTS = frozenset({"account", "market_data"})


def _stream_matcher(
    owner: str,
    fault: Fault,
    stream: str | Iterable[str] | None,
    endpoint: str | Iterable[str] | None,
    *,
    intent: object = None,
    symbol: object = None,
) -> str | Iterable[str] | None:
    """``stream=`` for a stream fault (every stream when left out); refused for an HTTP fault.
    ``intent=`` and ``symbol=`` that no stream event could ever carry are refused here, rather
    than leave a schedule that silently matches nothing."""
    if not getattr(fault, "on_streams", False):
        if stream is not None:
            raise ValueError(
                f"{owner}(stream={stream!r}) with {fault.name}, an HTTP fault: stream= narrows a stream "
                "fault such as faults.stream.disconnect(); leave it out for an HTTP fault"
            )
        return None
    if endpoint is not None:
        raise ValueError(
            f"{owner}(endpoint={endpoint!r}) with {fault.name}, a stream fault: an HTTP endpoint never "
            'names a stream; write stream="user" (or "ticker", "public", "private"...) instead'
        )
    intents = {intent} if isinstance(intent, str) else set(intent) if isinstance(intent, Iterable) else set()
    # An intent that is none at all is Matcher.build's to refuse, with the list of intents.
    never = sorted(str(i) for i in intents if i in INTENTS and i not in _STREAM_INTENTS)
    if never:
        raise ValueError(
            f"{owner}(intent={intent!r}) with {fault.name}, a stream fault: a stream message carries no "
            f"order's intent, so {', '.join(map(repr, never))} never matches one; a stream's intent is "
            "'account' (private streams) or 'market_data' (public ones). Narrow by stream instead: "
            'stream="private" (or a kind such as "user" on Binance, "order" on Bybit), stream="public"'
        )
    if symbol is not None and owner == "Wave" and not getattr(fault, "per_message", False):
        raise ValueError(
            f"{owner}(symbol={symbol!r}) with {fault.name}, a per-connection fault: a wave of it strikes "
            "whole connections, which carry no symbol, so it would never fire; leave symbol= out and "
            'narrow with stream= (e.g. stream="order") or venue=, or use a per-message fault '
            "(faults.stream.drop(), duplicate(), delay()), whose messages carry their symbol"
        )
    return "*" if stream is None else stream


def _check_required(required: object, owner: str) -> bool:
    if not isinstance(required, bool):
        raise TypeError(
            f"{owner}(required={required!r}): write required=True (the test fails if it never "
            "injects a fault) or required=False (a deliberately optional fault)"
        )
    return required


class ScheduleGroup:
    """Schedules built together (a profile's waves, a replayed log) that must inject at least
    one fault as a whole: each member alone may stay quiet."""

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return self.label


def grouped(schedules: Iterable[_S], label: str) -> list[_S]:
    """Tie ``schedules`` into one group named ``label`` (e.g. ``"profiles.flapping_gateway()"``)."""
    group = ScheduleGroup(label)
    members = list(schedules)
    for schedule in members:
        schedule.group = group
    return members


class Wave:
    """From ``start`` for ``duration`` on the chaos clock, matching requests fail with ``fault``
    with probability ``rate``; ``limit`` caps how many fail (a log's count for that minute)."""

    __slots__ = ("duration", "fault", "group", "limit", "matcher", "rate", "required", "start")

    def __init__(
        self,
        start: Duration,
        duration: Duration,
        fault: Fault,
        *,
        rate: float = 1.0,
        intent: Intent | Iterable[Intent] | None = None,
        endpoint: str | Iterable[str] | None = None,
        venue: str | Iterable[str] | None = None,
        symbol: str | Iterable[str] | None = None,
        limit: int | None = None,
        required: bool = True,
        stream: str | Iterable[str] | None = None,
    ) -> None:
        self.start = parse_duration(start, what="Wave start")
        self.duration = parse_duration(duration, what="Wave duration")
        if self.duration == 0:
            raise ValueError(f"Wave duration={duration!r} never fires: write a positive duration, e.g. '1m'")
        self.fault = _check_fault(fault, "Wave")
        # A rate or a limit of 0 is a wave that never fires: a test carrying it would pass untested.
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 < rate <= 1.0:
            raise ValueError(
                f"Wave rate={shown(rate)}: write a probability above 0.0 and at most 1.0, e.g. "
                "rate=0.5 (rate=0 would never fire; leave the wave out instead)"
            )
        self.rate = float(rate)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(
                f"Wave limit={shown(limit)}: write a whole number of faults, at least 1, or None"
            )
        self.limit = limit
        self.matcher = Matcher.build(
            intent=intent,
            endpoint=endpoint,
            venue=venue,
            symbol=symbol,
            stream=_stream_matcher("Wave", self.fault, stream, endpoint, intent=intent, symbol=symbol),
        )
        self.required = _check_required(required, "Wave")
        """Whether the test fails when this wave never injects a fault (see ``ScheduleRun.unfired``)."""
        self.group: ScheduleGroup | None = None

    @property
    def end(self) -> float:
        return self.start + self.duration

    def __repr__(self) -> str:
        limit = f", limit={self.limit}" if self.limit is not None else ""
        optional = "" if self.required else ", required=False"
        return (
            f"Wave({format_clock(self.start)} for {self.duration:g}s, {self.fault.name}, "
            f"rate={self.rate:g}{limit}, {self.matcher.describe()}{optional})"
        )


class Burst:
    """The next ``count`` matching requests fail with ``fault``, after ``after`` went through.

    With ``per_operation=True`` the count starts again for every logical operation (a bot's
    attempts at one order, see ``journal.OperationTracker``): attempts ``after + 1`` to
    ``after + count`` of each matching operation fail, however many operations the bot sends
    and whenever it sends them. "Does every stop-loss survive 3 consecutive 502s" is then
    ``Burst(3, faults.bad_gateway(), intent="stop_loss", per_operation=True)``.
    """

    __slots__ = ("after", "count", "fault", "group", "matcher", "per_operation", "required")

    def __init__(
        self,
        count: int,
        fault: Fault,
        *,
        after: int = 0,
        intent: Intent | Iterable[Intent] | None = None,
        endpoint: str | Iterable[str] | None = None,
        venue: str | Iterable[str] | None = None,
        symbol: str | Iterable[str] | None = None,
        per_operation: bool = False,
        required: bool = True,
        stream: str | Iterable[str] | None = None,
    ) -> None:
        unit = "attempts" if per_operation is True else "requests"
        for name, value, least in (("count", count, 1), ("after", after, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(
                    f"Burst {name}={shown(value)}: write a whole number of {unit}, at least {least}"
                )
        if not isinstance(per_operation, bool):
            raise TypeError(
                f"Burst(per_operation={per_operation!r}): write per_operation=True (the first count "
                "attempts of every matching operation fail) or per_operation=False (the next count "
                "matching requests fail, once)"
            )
        self.count = count
        self.after = after
        self.fault = _check_fault(fault, "Burst")
        if per_operation and getattr(self.fault, "on_streams", False):
            raise ValueError(
                f"Burst(per_operation=True) with {self.fault.name}: stream messages belong to no "
                "order operation; leave per_operation out for a stream fault"
            )
        self.matcher = Matcher.build(
            intent=intent,
            endpoint=endpoint,
            venue=venue,
            symbol=symbol,
            stream=_stream_matcher("Burst", self.fault, stream, endpoint, intent=intent, symbol=symbol),
        )
        self.per_operation = per_operation
        self.required = _check_required(required, "Burst")
        """Whether the test fails when this burst never injects a fault (see ``ScheduleRun.unfired``)."""
        self.group: ScheduleGroup | None = None

    def __repr__(self) -> str:
        optional = "" if self.required else ", required=False"
        if self.per_operation:
            after = f" after {self.after}" if self.after else ""
            return (
                f"Burst({self.count}x {self.fault.name} per operation{after}, "
                f"{self.matcher.describe()}{optional})"
            )
        after = f" after {self.after}" if self.after else ""
        return f"Burst({self.count}x {self.fault.name}{after}, {self.matcher.describe()}{optional})"


Schedule = Wave | Burst
_S = TypeVar("_S", bound="Wave | Burst")


def flatten_schedules(items: Iterable[object], *, where: str) -> list[Schedule]:
    """Waves and bursts, with lists of them (a profile) spliced in; anything else is a TypeError."""
    flat: list[Schedule] = []
    for item in items:
        if isinstance(item, (Wave, Burst)):
            flat.append(item)
        elif isinstance(item, (list, tuple)):
            if not item:
                # An empty list (a generated schedule that came out empty) would pass untested.
                raise ValueError(
                    f"{where} got an empty list of schedules, which injects nothing: pass the "
                    "Wave(...)/Burst(...) you mean, or leave the list out"
                )
            flat.extend(flatten_schedules(item, where=where))
        else:
            raise TypeError(
                f"{where} takes Wave(...) and Burst(...) (or lists of them, e.g. profiles.<name>()), "
                f"not {item!r}"
            )
    return flat


@dataclass
class ScheduleTally:
    """What one schedule saw during a test: enough to say why it never fired."""

    schedule: Schedule
    matched: int = 0
    """Requests its matchers matched, at any time."""
    in_window: int = 0
    """Of those, the ones it could fire on: inside a wave's window; every one for a burst."""
    shadowed: int = 0
    """Of those, the ones an earlier schedule fired on first (the first that fires wins)."""
    fired: int = 0
    """Faults it injected."""
    first_match: float | None = None
    last_match: float | None = None
    """Chaos-clock times of the first and last request it matched."""
    most_attempts: int = 0
    """The highest attempt number (within its logical operation) of a request it matched."""


class ScheduleRun:
    """One test's schedules with their counters: decides the fault, if any, for each request."""

    def __init__(self, rng: random.Random, schedules: Iterable[Schedule] = ()) -> None:
        self._rng = rng
        self._schedules: list[Schedule] = []
        self._tallies: list[ScheduleTally] = []
        self._seen: list[int] = []
        self.requests = 0
        """How many requests the schedules were asked about (hook deciders may answer first)."""
        self.add(*schedules)

    def add(self, *schedules: Schedule) -> None:
        for schedule in flatten_schedules(schedules, where="add()"):
            self._schedules.append(schedule)
            self._tallies.append(ScheduleTally(schedule))
            self._seen.append(0)

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        return tuple(self._schedules)

    def tallies(self) -> list[ScheduleTally]:
        """Every schedule's counters, in the order the schedules were given."""
        return list(self._tallies)

    def unfired(self) -> list[list[ScheduleTally]]:
        """The required schedules that injected no fault: one entry per schedule, or per group
        (a profile's waves, a replayed log) none of whose members fired."""
        entries: list[list[ScheduleTally]] = []
        by_group: dict[ScheduleGroup, list[ScheduleTally]] = {}
        for tally in self._tallies:
            group = tally.schedule.group
            if group is None:
                entries.append([tally])
            elif group in by_group:
                by_group[group].append(tally)
            else:
                by_group[group] = [tally]
                entries.append(by_group[group])
        return [
            entry
            for entry in entries
            if any(t.schedule.required for t in entry) and not any(t.fired for t in entry)
        ]

    def decide(self, call: Call, now: float, attempt: int = 1) -> Fault | None:
        """The fault for ``call``, sent at ``now`` as ``attempt`` (1 for the first) of its
        logical operation, or None."""
        # The first schedule that fires wins; random draws happen only for matching, active
        # waves with rate < 1 that nothing fired on yet, so the same requests in the same order
        # draw the same numbers. Later schedules still count the match, to explain a quiet one.
        self.requests += 1
        chosen: Fault | None = None
        for index, schedule in enumerate(self._schedules):
            if not schedule.matcher.matches(call):
                continue
            tally = self._tallies[index]
            tally.matched += 1
            if tally.first_match is None:
                tally.first_match = now
            tally.last_match = now
            if attempt > tally.most_attempts:
                tally.most_attempts = attempt
            if isinstance(schedule, Wave):
                if not schedule.start <= now < schedule.end:
                    continue
                tally.in_window += 1
                if chosen is not None:
                    tally.shadowed += 1
                    continue
                if schedule.limit is not None and tally.fired >= schedule.limit:
                    continue
                if schedule.rate < 1.0 and self._rng.random() >= schedule.rate:
                    continue
                tally.fired += 1
                chosen = schedule.fault
                continue
            tally.in_window += 1
            if chosen is not None:
                tally.shadowed += 1
                continue
            if schedule.per_operation:
                if schedule.after < attempt <= schedule.after + schedule.count:
                    tally.fired += 1
                    chosen = schedule.fault
                continue
            self._seen[index] += 1
            if self._seen[index] > schedule.after and tally.fired < schedule.count:
                tally.fired += 1
                chosen = schedule.fault
        return chosen
