"""Why a schedule never fired: what it waited for, what the bot sent instead, and the fix.

Pure text from the schedule's counters and the journal: no pytest here, so scripts that run a
chaos session directly can print the same explanation the plugin fails a test with.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_exchange_chaos._durations import format_clock
from pytest_exchange_chaos.journal import JournalRecord
from pytest_exchange_chaos.schedule import Burst, Matcher, ScheduleTally, Wave

if TYPE_CHECKING:
    from pytest_exchange_chaos.streams import StreamHub

__all__ = ["UnfiredSchedule", "explain"]

_SHOWN = 5
_DIMENSIONS = ("endpoint", "intent", "symbol", "venue")


class UnfiredSchedule:
    """A required schedule (or a group of them, such as a profile) that injected no fault."""

    def __init__(self, tallies: Sequence[ScheduleTally], explanation: str) -> None:
        self.tallies = tuple(tallies)
        self.schedules = tuple(t.schedule for t in tallies)
        self.explanation = explanation

    @property
    def label(self) -> str:
        group = self.schedules[0].group
        return repr(group) if group is not None else repr(self.schedules[0])

    def __repr__(self) -> str:
        return f"UnfiredSchedule({self.label})"

    def __str__(self) -> str:
        return self.explanation


def _wanted(matcher: Matcher, dimension: str) -> list[str]:
    if dimension == "endpoint":
        return [" ".join(pair) for pair in matcher.endpoint or ()]
    values = getattr(matcher, dimension)
    return sorted(values) if values is not None else []


def _value(record: JournalRecord, dimension: str) -> str | None:
    value = getattr(record, dimension)
    return value if value is None else str(value)


def _closeness(value: str, wanted: Sequence[str]) -> float:
    return max(difflib.SequenceMatcher(None, value.lower(), w.lower()).ratio() for w in wanted)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _ranked(dimension: str, wanted: Sequence[str], journal: Sequence[JournalRecord]) -> list[str]:
    counts = Counter(v for r in journal if (v := _value(r, dimension)) is not None)
    return sorted(counts, key=lambda v: (-_closeness(v, wanted), -counts[v], v))


def _were(count: int) -> str:
    return "was" if count == 1 else "were"


def _sent_values(dimension: str, wanted: Sequence[str], journal: Sequence[JournalRecord]) -> str:
    counts = Counter(v for r in journal if (v := _value(r, dimension)) is not None)
    if not counts:
        return f"no request the bot sent had a {dimension}"
    ranked = _ranked(dimension, wanted, journal)
    shown = ", ".join(f"{v} ({counts[v]})" for v in ranked[:_SHOWN])
    more = f", and {len(ranked) - _SHOWN} more" if len(ranked) > _SHOWN else ""
    return f"{dimension}s sent, closest first: {shown}{more}"


def _describe_record(record: JournalRecord) -> str:
    where = f" {record.symbol}" if record.symbol else ""
    return f"{record.endpoint} (intent {record.intent},{where} on {record.venue})".replace(",)", ")")


def _no_match(
    matcher: Matcher, journal: Sequence[JournalRecord], venues: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Lines saying what was sent instead, and the matcher values that would have matched."""
    lines: list[str] = []
    suggestions: list[str] = []
    dimensions = [d for d in _DIMENSIONS if _wanted(matcher, d)]
    if matcher.venue is not None and venues:
        unknown = sorted(matcher.venue - set(venues))
        if unknown:
            lines.append(
                f"venue {', '.join(map(repr, unknown))} is no venue of this test; the venues are "
                + ", ".join(map(repr, venues))
            )
    # A request that matches everything yet never reached the schedule was answered by a hook
    # decider first: the note about hooks says so, it is no near miss.
    misses = [(record, missed) for record in journal if (missed := matcher.mismatches(record))]
    answered = len(journal) - len(misses)
    if answered:
        lines.append(
            f"{_plural(answered, 'request')} matched it, but a pytest_exchange_chaos_decide_fault hook "
            "answered them before the schedules saw them"
        )
        return lines, suggestions
    fewest = min((len(missed) for _, missed in misses), default=0)
    near: Counter[tuple[tuple[str, str | None], ...]] = Counter()
    example: dict[tuple[tuple[str, str | None], ...], JournalRecord] = {}
    for record, missed in misses:
        if len(missed) == fewest and fewest < len(dimensions):
            key = tuple((d, _value(record, d)) for d in missed)
            near[key] += 1
            example.setdefault(key, record)
    for key, count in near.most_common(3):
        only = " and ".join(f"the {d}" for d, _ in key)
        lines.append(f"{_plural(count, 'request')} matched all but {only}: {_describe_record(example[key])}")
        suggestion = ", ".join(f"{d}={v!r}" for d, v in key if v is not None)
        if suggestion and suggestion not in suggestions:
            suggestions.append(suggestion)
    for dimension in dimensions:
        wanted = _wanted(matcher, dimension)
        if not any(dimension not in missed for _, missed in misses):
            closest = _ranked(dimension, wanted, journal)
            if closest and f"{dimension}={closest[0]!r}" not in suggestions:
                suggestions.append(f"{dimension}={closest[0]!r}")
            lines.append(
                f"no request matched {dimension} {' or '.join(wanted)}; "
                + _sent_values(dimension, wanted, journal)
            )
    return lines, suggestions


def _ccxt_hints(matcher: Matcher, journal: Sequence[JournalRecord]) -> list[str]:
    hints = []
    sent = {r.endpoint for r in journal}
    if (
        matcher.matches_endpoint("POST /fapi/v1/order")
        and not matcher.matches_endpoint("POST /fapi/v1/algoOrder")
        and "POST /fapi/v1/algoOrder" in sent
    ):
        hints.append(
            "ccxt 4.5 sends stop and trigger orders to POST /fapi/v1/algoOrder, not "
            "POST /fapi/v1/order (Binance's December 2025 change): write "
            'endpoint="POST /fapi/v1/algoOrder", or match the stop by intent="stop_loss" alone'
        )
    return hints


def _window(tallies: Sequence[ScheduleTally]) -> str:
    waves = [t.schedule for t in tallies if isinstance(t.schedule, Wave)]
    if not waves:
        return ""
    start, end = min(w.start for w in waves), max(w.end for w in waves)
    within = f"in {len(waves)} windows " if len(waves) > 1 else ""
    return f"{within}from {format_clock(start)} to {format_clock(end)} on the chaos clock"


def _is_stream(tally: ScheduleTally) -> bool:
    return tally.schedule.matcher.stream is not None


def _waited_for(tallies: Sequence[ScheduleTally]) -> str:
    matchers = []
    for tally in tallies:
        described = tally.schedule.matcher.describe()
        if described not in matchers:
            matchers.append(described)
    parts = [" | ".join(matchers)]
    window = _window(tallies)
    if window:
        parts.append(window)
    bursts = [t.schedule for t in tallies if isinstance(t.schedule, Burst)]
    for burst in bursts:
        if burst.per_operation:
            first = (
                f"attempts {burst.after + 1} to {burst.after + burst.count}"
                if burst.after
                else f"the first {burst.count} attempt(s)"
            )
            parts.append(f"{first} of every matching operation")
            continue
        after = f" after {burst.after} went through" if burst.after else ""
        unit = "stream message(s)" if burst.matcher.stream is not None else "request(s)"
        parts.append(f"the next {burst.count} matching {unit}{after}")
    return ", ".join(parts)


def _missed_chances(tallies: Sequence[ScheduleTally], seed: int | None) -> tuple[list[str], list[str]]:
    """Why schedules that met matching requests in their window still never fired."""
    why: list[str] = []
    fix: list[str] = []
    streams = all(_is_stream(t) for t in tallies)
    unit = "matching stream event" if streams else "matching request"
    shadowed = sum(t.shadowed for t in tallies)
    if shadowed:
        why.append(
            f"an earlier schedule fired on {_plural(shadowed, unit)} first "
            "(the first schedule that fires wins)"
        )
        fix.append("narrow the earlier schedule's matchers, or give this one first")
    for tally in tallies:
        schedule, chances = tally.schedule, tally.in_window - tally.shadowed
        if chances <= 0:
            continue
        if isinstance(schedule, Wave):
            if schedule.rate < 1.0:
                seeded = f" (seed {seed})" if seed is not None else ""
                why.append(
                    f"{_plural(chances, unit)} inside the window drew against "
                    f"rate={schedule.rate:g} and no draw hit{seeded}"
                )
                more = "stream traffic" if streams else "requests"
                fix.append(f"raise rate, or have the bot send more {more} inside the window")
        elif schedule.per_operation:
            if tally.most_attempts <= schedule.after:
                why.append(
                    f"it lets the first {_plural(schedule.after, 'attempt')} of each operation through, "
                    f"and no matching operation took more than {_plural(tally.most_attempts, 'attempt')}"
                )
                fix.append("lower after, or make the bot retry the operation more often")
        elif chances <= schedule.after:
            plural = "stream messages" if streams else "requests"
            why.append(
                f"it lets after={schedule.after} matching {plural} through first, and only {chances} came"
            )
            fix.append(f"lower after, or have the bot get more than {schedule.after} matching {plural}")
    return why, fix


@dataclass(frozen=True)
class _Opened:
    """One websocket the bot opened, as far as a stream schedule cares."""

    venue: str
    number: int
    kinds: frozenset[str]
    private: bool
    opened: float
    closed: float | None
    listen_keys: bool
    """Its venue hands out listen keys (``faults.stream.listen_key_expired()`` strikes there)."""
    symbol: str | None = None
    """The symbol of the last message it carried that named one."""

    def describe(self) -> str:
        return f"{self.venue} {', '.join(sorted(self.kinds)) or '(no stream subscribed)'}"


def _opened(hub: StreamHub) -> list[_Opened]:
    subscribed: dict[int, set[str]] = {}
    symbols: dict[int, str] = {}
    for record in hub.records:
        if record.event == "subscribed" and record.stream:
            subscribed.setdefault(record.connection, set()).add(record.stream)
        elif record.symbol:
            symbols[record.connection] = record.symbol
    return [
        _Opened(
            c.venue,
            c.id,
            frozenset(subscribed.get(c.id, set()) | c.kinds),
            c.private,
            c.opened_at,
            c.closed_at,
            type(c.server).hands_out_listen_keys(),
            symbols.get(c.id),
        )
        for c in hub.connections
    ]


def _covers(matcher: Matcher, opened: _Opened) -> bool:
    """Whether ``matcher``'s venue and stream= take in this connection (as the hub matches)."""
    from pytest_exchange_chaos.streams._hub import stream_covers

    if matcher.venue is not None and opened.venue not in matcher.venue:
        return False
    return stream_covers(matcher.stream, private=opened.private, kinds=opened.kinds)


def _streams_open(opened: Sequence[_Opened]) -> str:
    by_venue: dict[str, set[str]] = {}
    for o in opened:
        by_venue.setdefault(o.venue, set()).update(o.kinds)
    return "; ".join(
        f"{venue}: {', '.join(sorted(kinds)) or '(none subscribed)'}" for venue, kinds in by_venue.items()
    )


def _during(wave: Wave, opened: _Opened) -> bool:
    return opened.opened < wave.end and (opened.closed is None or opened.closed > wave.start)


def _stream_story(
    tallies: Sequence[ScheduleTally], hub: StreamHub | None, requests: int
) -> tuple[list[str], list[str]] | None:
    """Why a stream schedule never fired, from the streams the bot had open; None when the
    counters tell it well enough (rate, after, an earlier schedule)."""
    opened = _opened(hub) if hub is not None else []
    matched = sum(t.matched for t in tallies)
    in_window = sum(t.in_window for t in tallies)
    if not opened:
        return [
            "no websocket stream matched it: the bot never opened a websocket stream "
            f"({_plural(requests, 'HTTP request')} sent)"
        ], [
            "have the bot open that stream during the test (ccxt.pro's watch_orders, watch_ticker... "
            "on a simulated venue), or use an HTTP fault for a bot that only polls over REST"
        ]
    shown = _streams_open(opened)
    expiring = [t for t in tallies if getattr(t.schedule.fault, "kind", None) == "listen_key_expired"]
    if expiring and not any(o.listen_keys and o.private for o in opened):
        return [
            "faults.stream.listen_key_expired() strikes only Binance user streams (a connection "
            "listening with a listenKey), and the bot had none open; its streams were " + shown
        ], [
            "for Bybit's private stream, schedule faults.stream.disconnect() or stall() with "
            'stream="private"; or have the bot watch its Binance USD-M user stream (watch_orders on '
            "binanceusdm)"
        ]
    matchers: list[Matcher] = []
    for tally in tallies:
        if tally.schedule.matcher not in matchers:
            matchers.append(tally.schedule.matcher)
    covered = [o for o in opened if any(_covers(m, o) for m in matchers)]
    if not covered:
        why = [f"no websocket stream matched it: the streams the bot had open were {shown}"]
        fix: list[str] = []
        for matcher in matchers[:2]:
            if matcher.venue is not None and not {o.venue for o in opened} & matcher.venue:
                venues = sorted({o.venue for o in opened})
                fix.append(f"the bot streamed from {', '.join(venues)}: write venue={venues[0]!r}")
            wanted = sorted((matcher.stream or frozenset()) - {"*", "public", "private"})
            kinds = sorted({k for o in opened for k in o.kinds})
            if wanted and kinds:
                close = difflib.get_close_matches(wanted[0], kinds, n=1, cutoff=0.0)
                fix.append(f"match a stream the bot had open, e.g. stream={close[0]!r}")
        fix.append("or have the bot open the stream it names during the test (ccxt.pro's watch_*)")
        return why, fix
    if matched and not in_window:
        waves = [t.schedule for t in tallies if isinstance(t.schedule, Wave)]
        open_then = [o for o in covered if any(_during(w, o) for w in waves)]
        if open_then:
            private = all(o.private for o in open_then)
            where = ", ".join(f"{o.describe()} (connection {o.number})" for o in open_then[:3])
            if private:
                hint = (
                    "a private stream publishes only when the bot's orders, fills or positions change: "
                    "have the bot trade inside the window, or let a price move fill its orders there "
                    "(exchange_chaos.venue(...).set_price(...))"
                )
            else:
                symbol = next((o.symbol for o in open_then if o.symbol), "BTC/USDT:USDT")
                hint = (
                    "a public stream publishes only when the price moves: move it inside the window, "
                    f"e.g. exchange_chaos.venue({open_then[0].venue!r}).set_price({symbol!r}, <new price>)"
                )
            return [
                f"a matching stream was open during its window ({where}), but the venue sent "
                f"nothing on it then; {_plural(matched, 'matching message')} came outside it"
            ], [hint, "or move the window (start=...) to when the stream carries messages"]
        spans = ", ".join(
            f"{o.describe()} from {format_clock(o.opened)}"
            + (f" to {format_clock(o.closed)}" if o.closed is not None else "")
            for o in covered[:3]
        )
        return [
            f"{_plural(matched, 'matching stream event')} came, but no matching stream was open "
            f"inside its window (the bot's were {spans})"
        ], [
            "move the window (start=...) to when the bot streams, or keep the stream open into it "
            "(the chaos clock jumps ahead while the bot sleeps: await asyncio.sleep(...))"
        ]
    if not matched:
        where = ", ".join(f"{o.describe()} (connection {o.number})" for o in covered[:3])
        return [
            f"a matching stream was open ({where}), but no message on it matched every matcher "
            "(symbol=, intent=), or the venue sent nothing on it"
        ], [
            "widen symbol=/intent=, or make the stream carry messages: trade, or move the price with "
            "exchange_chaos.venue(...).set_price(...)"
        ]
    return None


def explain(
    tallies: Sequence[ScheduleTally],
    journal: Sequence[JournalRecord],
    *,
    now: float,
    venues: Sequence[str] = (),
    seed: int | None = None,
    requests_scheduled: int | None = None,
    streams: StreamHub | None = None,
) -> UnfiredSchedule:
    """Explain why the schedule (or group) behind ``tallies`` never injected a fault.
    ``streams``: the session's stream hub, if the bot opened a websocket, for a stream fault's
    schedule (what the bot had open, and when)."""
    schedules = [t.schedule for t in tallies]
    group = schedules[0].group
    if group is not None:
        kind = "wave" if all(isinstance(s, Wave) for s in schedules) else "schedule"
        name = (
            f"{group!r} ({_plural(len(schedules), kind)}: "
            + ", ".join(map(repr, schedules[:3]))
            + (f", and {len(schedules) - 3} more)" if len(schedules) > 3 else ")")
        )
    else:
        name = repr(schedules[0])
    lines = [f"{name} never injected a fault", f"  waited for: {_waited_for(tallies)}"]
    why: list[str] = []
    fix: list[str] = []
    matched = sum(t.matched for t in tallies)
    in_window = sum(t.in_window for t in tallies)
    streams_only = all(_is_stream(t) for t in tallies)
    story = _stream_story(tallies, streams, len(journal)) if streams_only else None
    if story is not None:
        why, fix = story
    elif streams_only:
        why, fix = _missed_chances(tallies, seed)
        if not why:
            why.append(
                f"{_plural(in_window, 'matching stream event')} came while it was active, but none fired"
            )
    elif not journal:
        why.append("the bot sent no request at all")
        fix.append("make sure the bot runs inside the test (did you forget to await it?)")
    elif not matched and any(_is_stream(t) for t in tallies):
        why.append(
            "no websocket stream matched it: the bot never had a stream open that it covers "
            f"({_plural(len(journal), 'HTTP request')} sent)"
        )
        fix.append(
            "have the bot open that stream during the test (ccxt.pro's watch_orders, watch_ticker... "
            "on a simulated venue), or widen stream=, venue=, intent=, symbol="
        )
    elif not matched:
        hooked = any(t.schedule.matcher.matches(r) for t in tallies for r in journal)
        what = "no matching request reached it" if hooked else "nothing the bot sent matched it"
        why.append(f"{what} ({_plural(len(journal), 'request')} sent)")
        matchers: list[Matcher] = []
        for schedule in schedules:
            if schedule.matcher not in matchers:
                matchers.append(schedule.matcher)
        for matcher in matchers[:2]:
            detail, suggestions = _no_match(matcher, journal, venues)
            prefix = f"[{matcher.describe()}] " if len(matchers) > 1 else ""
            why.extend(prefix + line for line in detail)
            hints = _ccxt_hints(matcher, journal)
            fix.extend(hints)
            if suggestions and not hints:
                fix.append("match what the bot sends, e.g. " + " or ".join(suggestions[:2]))
        if not fix:
            fix.append("match what the bot sends (see above), or make the bot send what the fault targets")
    elif not in_window:
        first = min(t.first_match for t in tallies if t.first_match is not None)
        last = max(t.last_match for t in tallies if t.last_match is not None)
        sent_at = (
            format_clock(first) if first == last else f"from {format_clock(first)} to {format_clock(last)}"
        )
        why.append(
            f"{_plural(matched, 'matching request')} {_were(matched)} sent ({sent_at}), but none inside "
            f"{'any of its windows' if len(tallies) > 1 else 'its window'}; the test ended at "
            f"{format_clock(now)} on the chaos clock"
        )
        fix.append(
            "move the window to when the bot sends them (start=...), or keep the bot running into it "
            "(the chaos clock jumps ahead while the bot sleeps: await asyncio.sleep(...))"
        )
    else:
        why, fix = _missed_chances(tallies, seed)
        if not why:
            why.append(f"{_plural(in_window, 'matching request')} came while it was active, but none fired")
    if not streams_only and matched and requests_scheduled is not None and requests_scheduled < len(journal):
        by_hook = len(journal) - requests_scheduled
        why.append(
            f"{_plural(by_hook, 'request')} {_were(by_hook)} answered by a "
            "pytest_exchange_chaos_decide_fault hook before the schedules saw them"
        )
    optional = f"pass required=False to {group!r}" if group is not None else "write required=False"
    fix.append(f"if this fault is deliberately optional, {optional}")
    lines.append("  why: " + why[0])
    lines.extend("       " + line for line in why[1:])
    lines.append("  fix: " + fix[0])
    lines.extend("       " + line for line in fix[1:])
    return UnfiredSchedule(tallies, "\n".join(lines))
