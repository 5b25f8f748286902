"""The ``exchange_chaos`` fixture's object: schedules in, journal and verdicts out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from pytest_exchange_chaos._durations import Duration, format_clock, parse_duration, shown
from pytest_exchange_chaos._never_fired import UnfiredSchedule, explain
from pytest_exchange_chaos.budget import Budget
from pytest_exchange_chaos.engine import ChaosEngine, UnservedRequest
from pytest_exchange_chaos.faults._base import reason_phrase
from pytest_exchange_chaos.journal import JournalRecord, Operation, group_operations
from pytest_exchange_chaos.naked_time import UnprotectedInterval, format_span
from pytest_exchange_chaos.schedule import Schedule, flatten_schedules
from pytest_exchange_chaos.venues.base import INTENTS, Intent, Venue

__all__ = ["ChaosController"]

_SAYS_WAIT = (429, 418)
"""The answers whose Retry-After a client must honour: rate limited, and banned."""
_EARLY_SHOWN = 5
_WAITS_SHOWN = 10
_ON_TIME = 1e-6
"""Sending on the very instant a wait ends is on time, whatever the last bit of the sum says."""


def _check_intent(intent: str) -> None:
    if intent not in INTENTS:
        raise ValueError(f"intent {intent!r} is not one of: {', '.join(INTENTS)}")


def _wait_ends(record: JournalRecord) -> float:
    return record.answered_at + (record.retry_after or 0.0)


class ChaosController:
    """Controls one chaos test: add faults, read the chaos clock and journal, assert outcomes."""

    def __init__(self, engine: ChaosEngine, *, seed: int) -> None:
        self._engine = engine
        self.seed = seed
        """The seed this test's decisions were drawn from (repeat with ``--chaos-seed``)."""

    # -- inputs -------------------------------------------------------------------------------

    def add(self, *schedules: Schedule) -> None:
        """Add waves and bursts mid-test; wave times still count from the test's start. Like the
        marker's, each required one must inject a fault before the test ends."""
        flat = flatten_schedules(schedules, where="add()")
        known = [venue.id for venue in self._engine.venues]
        for schedule in flat:
            unknown = sorted((schedule.matcher.venue or frozenset()) - set(known))
            if unknown:
                raise ValueError(
                    f"{schedule!r}: venue {', '.join(map(repr, unknown))} is no venue of this test; "
                    f"write a ccxt id: {', '.join(map(repr, known))}"
                )
        if any(s.matcher.stream is not None for s in flat):
            from pytest_exchange_chaos._stream_kinds import stream_kind_problem, stream_kinds_of

            streams = stream_kinds_of(self._engine.venues)
            for schedule in flat:
                problem = stream_kind_problem(schedule, streams)
                if problem is not None:
                    raise ValueError(problem)
        self._engine.schedule.add(*flat)

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        return self._engine.schedule.schedules

    # -- observations -------------------------------------------------------------------------

    def now(self) -> float:
        """Seconds on the chaos clock since the test started."""
        return self._engine.clock.now()

    @property
    def journal(self) -> list[JournalRecord]:
        return list(self._engine.journal)

    def operations(self, intent: Intent | None = None, symbol: str | None = None) -> list[Operation]:
        if intent is not None:
            _check_intent(intent)
        return [
            op
            for op in group_operations(self._engine.journal)
            if (intent is None or op.intent == intent) and (symbol is None or op.symbol == symbol)
        ]

    def venue(self, name: str) -> Venue:
        for venue in self._engine.venues:
            if venue.id == name:
                return venue
        known = ", ".join(repr(v.id) for v in self._engine.venues)
        raise KeyError(f"no venue {name!r} in this test; the venues are: {known}")

    @property
    def venues(self) -> list[Venue]:
        return list(self._engine.venues)

    @property
    def unserved(self) -> list[UnservedRequest]:
        """Requests the guard refused: no venue serves their host and it was not allowed."""
        return list(self._engine.unserved)

    @property
    def requests_sent(self) -> int:
        """Requests that reached the simulated exchanges or the guard: served, faulted or refused;
        each websocket handshake to a simulated venue counts as one (a bot may only listen)."""
        from pytest_exchange_chaos.streams import StreamHub

        hub = StreamHub.existing(self._engine)
        handshakes = 0 if hub is None else sum(r.event in ("connected", "refused") for r in hub.records)
        return len(self._engine.journal) + len(self._engine.unserved) + handshakes

    # -- verdicts -----------------------------------------------------------------------------

    def unfired_schedules(self) -> list[UnfiredSchedule]:
        """The required waves and bursts (a profile or a replayed log counting as one) that
        injected no fault so far, each with why and how to fix it (``str()`` of each). The
        plugin fails a test that ends with any; a script can check the same."""
        from pytest_exchange_chaos.streams import StreamHub

        run = self._engine.schedule
        journal = self._engine.journal
        return [
            explain(
                tallies,
                journal,
                now=self.now(),
                venues=[venue.id for venue in self._engine.venues],
                seed=self.seed,
                requests_scheduled=run.requests,
                streams=StreamHub.existing(self._engine),
            )
            for tallies in run.unfired()
        ]

    def budget_breaches(self, budgets: Mapping[str, Budget]) -> list[str]:
        """Every operation of a budgeted intent that broke its budget, as report paragraphs."""
        breaches = []
        for operation in group_operations(self._engine.journal):
            budget = budgets.get(operation.intent)
            if budget is not None and (breach := operation.budget_breach(budget)) is not None:
                breaches.append(breach)
        return breaches

    def unexercised_budgets(self, budgets: Mapping[str, Budget]) -> list[str]:
        """The budgeted intents no operation was sent for: a budget with nothing to keep checked
        nothing, and a test that relied on it would pass having tested nothing."""
        # Every request belongs to an operation of its own intent: no need to group them here.
        sent = {record.intent for record in self._engine.journal}
        return [
            f"retry_budget({intent}={budget!r}) checked nothing: the bot sent no {intent} request "
            f"(the intents it sent: {', '.join(sorted(sent)) or 'none'}). Make the bot place it (an "
            "exception raised before the request was sent, such as ccxt's ArgumentsRequired, is a "
            f"common cause), or remove {intent}= from the marker"
            for intent, budget in budgets.items()
            if intent not in sent
        ]

    def retry_after_breaches(self) -> list[str]:
        """Every 429 or 418 whose ``Retry-After`` the bot did not wait out before sending to the
        same venue again, as report paragraphs: which answer said wait how long, and which
        requests came early and by how much.

        The whole venue counts: Binance limits and bans an IP, not an endpoint. A request
        already on its way when the answer came back is not early; one sent on the same instant
        after it is (a bot that retries at once under the virtual clock does just that). Each
        early request is told once, under the answer whose wait it broke by the most."""
        journal = self._engine.journal
        waiting: dict[str | None, list[int]] = {}
        broken: dict[int, list[JournalRecord]] = {}
        for index, record in enumerate(journal):
            waits = waiting.get(record.venue)
            if waits:
                waits[:] = [w for w in waits if record.t + _ON_TIME < _wait_ends(journal[w])]
                in_force = [w for w in waits if journal[w].answered_at <= record.t]
                if in_force:
                    binding = max(in_force, key=lambda w: _wait_ends(journal[w]))
                    broken.setdefault(binding, []).append(record)
            if record.retry_after is not None and record.status in _SAYS_WAIT:
                waiting.setdefault(record.venue, []).append(index)
        paragraphs = []
        for index, early in list(broken.items())[:_WAITS_SHOWN]:
            wait = journal[index]
            until = _wait_ends(wait)
            lines = [
                f"- {wait.status} {reason_phrase(wait.status or 0)} at {format_clock(wait.answered_at)} "
                f"({wait.endpoint} on {wait.venue}) said Retry-After: {wait.retry_after:g} s, until "
                f"{format_clock(until)}; the bot sent {len(early)} request(s) to {wait.venue} before then:"
            ]
            for record in early[:_EARLY_SHOWN]:
                got = (
                    f"{record.status} {reason_phrase(record.status)}"
                    if record.status is not None
                    else (record.fault or "no response")
                )
                then = f" (Retry-After: {record.retry_after:g} s)" if record.retry_after is not None else ""
                lines.append(
                    f"    {record.endpoint} at {format_clock(record.t)}, {until - record.t:.1f} s early: "
                    f"answered {got}{then}"
                )
            if len(early) > _EARLY_SHOWN:
                lines.append(f"    ... and {len(early) - _EARLY_SHOWN} more")
            paragraphs.append("\n".join(lines))
        if len(broken) > _WAITS_SHOWN:
            rest = list(broken.values())[_WAITS_SHOWN:]
            paragraphs.append(
                f"- and {len(rest)} more answer(s) whose wait the bot broke, with "
                f"{sum(map(len, rest))} early request(s) (the journal has them all)"
            )
        return paragraphs

    def unexercised_retry_after(self) -> str | None:
        """Why a Retry-After check would check nothing (the bot never got a 429 or 418 with
        ``Retry-After``), or None when there is something to check."""
        journal = self._engine.journal
        if any(r.retry_after is not None and r.status in _SAYS_WAIT for r in journal):
            return None
        answers = Counter(str(r.status) if r.status is not None else "no response" for r in journal)
        seen = ", ".join(f"{status} x{count}" for status, count in answers.most_common()) or "none"
        return (
            f"checked nothing: the bot never got a 429 or 418 answer with Retry-After ({len(journal)} "
            f"request(s) answered: {seen}). Make a venue limit it, e.g. "
            "@pytest.mark.exchange_chaos(BinanceRateLimits(limit=10, per='10s')) or a "
            "Burst(count=1, fault=faults.rate_limited(retry_after=30)), or remove the check"
        )

    def assert_respected_retry_after(self) -> None:
        """The bot sent nothing to a venue before the ``Retry-After`` of a 429 or 418 from that
        venue had elapsed on the chaos clock. Fails too when no such answer came: it would have
        checked nothing."""
        __tracebackhide__ = True
        nothing = self.unexercised_retry_after()
        if nothing is not None:
            raise AssertionError(f"assert_respected_retry_after() {nothing}")
        breaches = self.retry_after_breaches()
        if breaches:
            raise AssertionError(
                f"the bot sent again before Retry-After had elapsed (seed {self.seed}); Binance bans an "
                "IP that does, for longer each time:\n" + "\n".join(breaches)
            )

    def assert_placed(
        self,
        intent: Intent,
        *,
        symbol: str | None = None,
        within: Budget | None = None,
        count: int | None = None,
    ) -> None:
        """At least one (or exactly ``count``) ``intent`` order was acknowledged, each within budget."""
        __tracebackhide__ = True  # the user reads their own line and our message, not our code
        operations = self.operations(intent, symbol)
        what = intent.replace("_", "-") + (f" on {symbol}" if symbol else "")
        placed = [op for op in operations if op.succeeded]
        problems: list[str] = []
        if not operations:
            problems.append(f"no {what} order was ever sent")
        elif not placed:
            problems.append(f"no {what} order was acknowledged ({len(operations)} tried)")
        if count is not None and len(placed) != count:
            problems.append(f"expected {count} {what} order(s) placed, {len(placed)} were")
        if within is not None:
            problems.extend(b for op in operations if (b := op.budget_breach(within)) is not None)
        if problems:
            raise AssertionError(f"{what} not placed as required:\n" + "\n".join(f"- {p}" for p in problems))

    def assert_no_duplicate_orders(self) -> None:
        """No logical order reached the book more than once (ghosts included)."""
        __tracebackhide__ = True
        duplicates = [op for op in group_operations(self._engine.journal) if len(op.placements) > 1]
        if not duplicates:
            return
        lines = []
        for op in duplicates:
            placed = ", ".join(
                f"{format_clock(r.t)} (order {r.order_id}, client id {r.client_order_id or '-'}"
                f"{', bot saw ' + r.fault if r.fault else ''})"
                for r in op.placements
            )
            lines.append(f"- {op.label} was placed {len(op.placements)} times: {placed}")
        raise AssertionError(
            f"{len(duplicates)} order(s) placed more than once; a retry after a fault re-sent an order "
            "the exchange had already executed:\n" + "\n".join(lines)
        )

    def unprotected_intervals(self) -> list[UnprotectedInterval]:
        """Every interval, on every venue, in which a position had no stop-loss covering it,
        in the order they started; one still open has ``end`` None. Venues of your own that do
        not track it are left out."""
        intervals: list[UnprotectedInterval] = []
        for venue in self._engine.venues:
            try:
                intervals.extend(venue.unprotected_intervals())
            except NotImplementedError:
                continue
        return sorted(intervals, key=lambda interval: interval.start)

    def assert_positions_protected(
        self,
        within: Duration | Budget | None = None,
        *,
        max_unprotected: Duration | Budget | None = None,
    ) -> None:
        """Every open position has a reduce-only or close-position stop on the right side covering
        its size; with ``within``, it got one no later than that many seconds after opening; with
        ``max_unprotected``, no position was ever left without one for longer than that, at any
        time during the test (the gap while a trailing stop is replaced, a position grown past
        its stop, one still naked at the end). Either also takes a ``Budget``: its seconds are
        the limit, and its attempts, if any, bound each stop-loss operation sent meanwhile.

        With either, a test in which no position was ever opened fails: it checked nothing."""
        __tracebackhide__ = True
        limit, within_attempts = _time_limit(within, "within")
        most, naked_attempts = _time_limit(max_unprotected, "max_unprotected")
        problems = []
        for venue in self._engine.venues:
            for position in venue.positions():
                closing_side = "sell" if position.side == "long" else "buy"
                stops = [
                    order
                    for order in venue.open_orders(position.symbol)
                    if order.intent == "stop_loss"
                    and order.side == closing_side
                    and (order.reduce_only or order.close_position)
                ]
                covered = sum(o.amount for o in stops if not o.close_position)
                protected = any(o.close_position for o in stops) or covered >= position.contracts - 1e-12
                where = f"{position.side} {position.contracts:g} {position.symbol} on {venue.id}"
                opened = f"opened at {format_clock(position.opened_at)}"
                if not protected:
                    cover = f"stops cover {covered:g}" if stops else "no stop-loss order"
                    problems.append(f"- {where} ({opened}): {cover}")
                elif limit is not None:
                    placed_at = self._stop_placed_at(venue.id, position.symbol, position.opened_at)
                    if placed_at is None or placed_at - position.opened_at > limit:
                        late = "unknown" if placed_at is None else f"{placed_at - position.opened_at:.1f} s"
                        problems.append(
                            f"- {where} ({opened}): stop placed after {late}, allowed {limit:g} s"
                        )
                if within_attempts is not None:
                    opened_at = position.opened_at
                    problems.extend(
                        self._stop_attempts(venue.id, position.symbol, opened_at, None, within_attempts)
                    )
        sections = []
        if problems:
            sections.append("positions left without a protective stop:\n" + "\n".join(problems))
        if limit is not None or most is not None:
            argument = "max_unprotected" if most is not None else "within"
            nothing = self._nothing_opened(argument, max_unprotected if most is not None else within)
            if nothing is not None:
                sections.append(nothing)
        if most is not None:
            sections.extend(self._naked_too_long(most, max_unprotected, naked_attempts))
        if sections:
            raise AssertionError("\n".join(sections))

    def assert_state_reconciled(self) -> None:
        """The bot's view of its orders and positions is the exchange's, now: for every order
        (status and filled amount) and position (size and side), the last thing that reached
        the bot about it (a stream message actually delivered, or a REST answer showing it)
        agrees with the venue. Fails naming each order or position and both views: a fill or
        a cancel missed in a stream's gap that the bot never re-read over REST.

        Orders are checked on a venue once an order update reached the bot from its streams,
        positions once a position update did; a test in which none did fails: it checked
        nothing."""
        __tracebackhide__ = True
        from pytest_exchange_chaos._reconcile import reconcile
        from pytest_exchange_chaos.streams import StreamHub

        hub = StreamHub.existing(self._engine)
        records = hub.records if hub is not None else []
        verdict = reconcile(self._engine.venues, records, self._engine.journal, self.now())
        if verdict.problems:
            raise AssertionError(
                f"the bot's view of {len(verdict.problems)} order(s)/position(s) is not the exchange's "
                "(the last stream message or REST answer that reached the bot, against the venue now):\n"
                + "\n".join(verdict.problems)
                + "\nAfter a gap in a stream (a reconnect, a stall, a dropped message), re-read the orders "
                "and positions over REST (fetch_order, fetch_open_orders, fetch_positions)"
            )
        if verdict.checked == 0:
            streams = (
                f"{verdict.delivered} stream message(s) reached it ({', '.join(verdict.kinds)})"
                if verdict.delivered
                else "no stream message ever reached it"
            )
            raise AssertionError(
                "assert_state_reconciled() checked nothing: no order or position update from a stream "
                f"reached the bot ({streams}). Watch them (ccxt.pro's watch_orders(), watch_positions()) "
                "before trading, or leave this check out of a test without streams"
            )

    def _nothing_opened(self, argument: str, value: object) -> str | None:
        """Why a timed protection check checked nothing (no position was ever opened)."""
        opened = 0
        for venue in self._engine.venues:
            try:
                opened += venue.positions_opened()
            except NotImplementedError:
                return None  # cannot tell: the check of that venue says so itself
        if opened:
            return None
        venues = ", ".join(venue.id for venue in self._engine.venues)
        return (
            f"assert_positions_protected({argument}={shown(value)}) checked nothing: no position was "
            f"opened on {venues} during the test, so none could be left unprotected. Make the bot "
            "open one (an entry refused by the exchange, or never sent, opens none), or drop the check"
        )

    def _naked_too_long(self, most: float, value: object, attempts: int | None) -> list[str]:
        late = []
        slow = []
        untracked = []
        for venue in self._engine.venues:
            try:
                intervals = venue.unprotected_intervals()
            except NotImplementedError:
                untracked.append(venue.id)
                continue
            for interval in intervals:
                if interval.seconds > most:
                    late.append(f"- {interval.describe()}")
                if attempts is not None:
                    slow.extend(
                        self._stop_attempts(venue.id, interval.symbol, interval.start, interval.end, attempts)
                    )
        sections = []
        if late:
            sections.append(
                f"positions unprotected for longer than {format_span(most)} "
                f"(max_unprotected={shown(value)}):\n" + "\n".join(late)
            )
        if slow:
            sections.append(
                f"stop-loss orders sent while a position was unprotected broke the attempts of "
                f"max_unprotected={shown(value)}:\n" + "\n".join(slow)
            )
        if untracked:
            sections.append(
                f"max_unprotected cannot be checked on {', '.join(map(repr, untracked))}: the venue does "
                "not track the time its positions spent unprotected (Venue.unprotected_intervals)"
            )
        return sections

    def _stop_attempts(
        self, venue: str, symbol: str, since: float, until: float | None, attempts: int
    ) -> list[str]:
        """The stop-loss operations sent for a position from ``since`` (to ``until``) that took
        more than ``attempts`` requests."""
        budget = Budget(attempts=attempts)
        return [
            f"- {breach}"
            for op in group_operations(self._engine.journal)
            if op.intent == "stop_loss"
            and op.venue == venue
            and op.symbol == symbol
            and op.started_at >= since
            and (until is None or op.started_at <= until)
            and (breach := op.budget_breach(budget)) is not None
        ]

    def _stop_placed_at(self, venue: str, symbol: str, since: float) -> float | None:
        times = [
            r.answered_at
            for r in self._engine.journal
            if r.venue == venue
            and r.symbol == symbol
            and (r.intent == "stop_loss" or r.attached_stop_loss is not None)
            and r.executed
            and r.order_id is not None
            and r.t >= since
        ]
        return min(times) if times else None


def _time_limit(value: Duration | Budget | None, argument: str) -> tuple[float | None, int | None]:
    """``within=`` or ``max_unprotected=`` as seconds, and the attempts a Budget also gives."""
    if value is None:
        return None, None
    if isinstance(value, Budget):
        if value.seconds is None:
            raise ValueError(
                f"assert_positions_protected({argument}={value!r}): protection is measured in time, "
                f"and this Budget gives none; write {argument}=Budget(seconds=30) or {argument}='30s' "
                "(the attempts one stop-loss may take: retry_budget(stop_loss=Budget(attempts=5)) or "
                "assert_placed('stop_loss', within=Budget(attempts=5)))"
            )
        return value.seconds, value.attempts
    try:
        return parse_duration(value, what=argument), None
    except TypeError:
        raise TypeError(
            f"assert_positions_protected({argument}={shown(value)}): write seconds (30), a string "
            f"like '30s' or '4h', or a Budget(seconds=30); not {type(value).__name__}"
        ) from None
