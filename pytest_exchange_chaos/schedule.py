"""When faults happen: waves on the chaos clock and bursts by request count."""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Iterable
from dataclasses import dataclass

from pytest_exchange_chaos._durations import Duration, format_clock, parse_duration
from pytest_exchange_chaos.faults import Fault
from pytest_exchange_chaos.venues.base import INTENTS, Call, Intent

__all__ = ["Burst", "Matcher", "Schedule", "ScheduleRun", "Wave", "flatten_schedules"]

_HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


def _as_set(value: str | Iterable[str] | None, what: str) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset({value})
    values = frozenset(value)
    if not values or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{what} must be a string or a collection of strings, not {value!r}")
    return values


@dataclass(frozen=True)
class Matcher:
    """Which requests a wave or burst applies to; ``None`` matches everything."""

    intent: frozenset[str] | None = None
    endpoint: tuple[str, str] | None = None
    venue: frozenset[str] | None = None
    symbol: frozenset[str] | None = None

    @classmethod
    def build(
        cls,
        *,
        intent: Intent | Iterable[Intent] | None = None,
        endpoint: str | None = None,
        venue: str | Iterable[str] | None = None,
        symbol: str | Iterable[str] | None = None,
    ) -> Matcher:
        intents = _as_set(intent, "intent")
        if intents is not None and not intents <= set(INTENTS):
            unknown = ", ".join(sorted(intents - set(INTENTS)))
            raise ValueError(f"intent {unknown!r} is not one of: {', '.join(INTENTS)}")
        parsed_endpoint = None
        if endpoint is not None:
            method, _, path = endpoint.strip().partition(" ")
            if method.upper() not in _HTTP_METHODS or not path.startswith("/"):
                raise ValueError(
                    f'endpoint={endpoint!r} is not "METHOD /path": write e.g. '
                    'endpoint="POST /fapi/v1/order" (the path may be a glob such as "/fapi/*/order")'
                )
            parsed_endpoint = (method.upper(), path.strip())
        symbols = _as_set(symbol, "symbol")
        if symbols is not None:
            for sym in symbols:
                if "/" not in sym:
                    raise ValueError(
                        f"symbol={sym!r} is an exchange id; write the ccxt unified symbol, "
                        'e.g. symbol="BTC/USDT:USDT"'
                    )
        return cls(intents, parsed_endpoint, _as_set(venue, "venue"), symbols)

    def matches(self, call: Call) -> bool:
        if self.intent is not None and call.intent not in self.intent:
            return False
        if self.venue is not None and call.venue not in self.venue:
            return False
        if self.symbol is not None and call.symbol not in self.symbol:
            return False
        if self.endpoint is not None:
            method, _, path = call.endpoint.partition(" ")
            if method != self.endpoint[0] or not fnmatch.fnmatchcase(path, self.endpoint[1]):
                return False
        return True

    def describe(self) -> str:
        parts = []
        if self.intent is not None:
            parts.append("intent " + "/".join(sorted(self.intent)))
        if self.endpoint is not None:
            parts.append(" ".join(self.endpoint))
        if self.venue is not None:
            parts.append("on " + "/".join(sorted(self.venue)))
        if self.symbol is not None:
            parts.append("/".join(sorted(self.symbol)))
        return ", ".join(parts) or "every request"


def _check_fault(fault: object, owner: str) -> Fault:
    if not isinstance(fault, Fault):
        raise TypeError(f"{owner}(fault=...) takes a fault such as faults.bad_gateway(), not {fault!r}")
    return fault


class Wave:
    """From ``start`` for ``duration`` on the chaos clock, matching requests fail with ``fault``
    with probability ``rate``; ``limit`` caps how many fail (a log's count for that minute)."""

    __slots__ = ("duration", "fault", "limit", "matcher", "rate", "start")

    def __init__(
        self,
        start: Duration,
        duration: Duration,
        fault: Fault,
        *,
        rate: float = 1.0,
        intent: Intent | Iterable[Intent] | None = None,
        endpoint: str | None = None,
        venue: str | Iterable[str] | None = None,
        symbol: str | Iterable[str] | None = None,
        limit: int | None = None,
    ) -> None:
        self.start = parse_duration(start, what="Wave start")
        self.duration = parse_duration(duration, what="Wave duration")
        self.fault = _check_fault(fault, "Wave")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
            raise ValueError(f"Wave rate={rate!r}: write a probability between 0.0 and 1.0")
        self.rate = float(rate)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"Wave limit={limit!r}: write a whole number of faults, or None")
        self.limit = limit
        self.matcher = Matcher.build(intent=intent, endpoint=endpoint, venue=venue, symbol=symbol)

    @property
    def end(self) -> float:
        return self.start + self.duration

    def __repr__(self) -> str:
        limit = f", limit={self.limit}" if self.limit is not None else ""
        return (
            f"Wave({format_clock(self.start)} for {self.duration:g}s, {self.fault.name}, "
            f"rate={self.rate:g}{limit}, {self.matcher.describe()})"
        )


class Burst:
    """The next ``count`` matching requests fail with ``fault``, after ``after`` went through."""

    __slots__ = ("after", "count", "fault", "matcher")

    def __init__(
        self,
        count: int,
        fault: Fault,
        *,
        after: int = 0,
        intent: Intent | Iterable[Intent] | None = None,
        endpoint: str | None = None,
        venue: str | Iterable[str] | None = None,
        symbol: str | Iterable[str] | None = None,
    ) -> None:
        for name, value in (("count", count), ("after", after)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Burst {name}={value!r}: write a whole number of requests")
        self.count = count
        self.after = after
        self.fault = _check_fault(fault, "Burst")
        self.matcher = Matcher.build(intent=intent, endpoint=endpoint, venue=venue, symbol=symbol)

    def __repr__(self) -> str:
        after = f" after {self.after}" if self.after else ""
        return f"Burst({self.count}x {self.fault.name}{after}, {self.matcher.describe()})"


Schedule = Wave | Burst


def flatten_schedules(items: Iterable[object], *, where: str) -> list[Schedule]:
    """Waves and bursts, with lists of them (a profile) spliced in; anything else is a TypeError."""
    flat: list[Schedule] = []
    for item in items:
        if isinstance(item, (Wave, Burst)):
            flat.append(item)
        elif isinstance(item, (list, tuple)):
            flat.extend(flatten_schedules(item, where=where))
        else:
            raise TypeError(
                f"{where} takes Wave(...) and Burst(...) (or lists of them, e.g. profiles.<name>()), "
                f"not {item!r}"
            )
    return flat


class ScheduleRun:
    """One test's schedules with their counters: decides the fault, if any, for each request."""

    def __init__(self, rng: random.Random, schedules: Iterable[Schedule] = ()) -> None:
        self._rng = rng
        self._schedules: list[Schedule] = []
        self._hits: list[int] = []
        self._seen: list[int] = []
        self.add(*schedules)

    def add(self, *schedules: Schedule) -> None:
        for schedule in flatten_schedules(schedules, where="add()"):
            self._schedules.append(schedule)
            self._hits.append(0)
            self._seen.append(0)

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        return tuple(self._schedules)

    def decide(self, call: Call, now: float) -> Fault | None:
        # The first schedule that fires wins; random draws happen only for matching, active
        # waves with rate < 1, so the same requests in the same order draw the same numbers.
        for index, schedule in enumerate(self._schedules):
            if not schedule.matcher.matches(call):
                continue
            if isinstance(schedule, Wave):
                if not schedule.start <= now < schedule.end:
                    continue
                if schedule.limit is not None and self._hits[index] >= schedule.limit:
                    continue
                if schedule.rate < 1.0 and self._rng.random() >= schedule.rate:
                    continue
                self._hits[index] += 1
                return schedule.fault
            self._seen[index] += 1
            if self._seen[index] > schedule.after and self._hits[index] < schedule.count:
                self._hits[index] += 1
                return schedule.fault
        return None
