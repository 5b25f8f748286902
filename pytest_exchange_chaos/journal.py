"""What happened to every request, and the logical operations (a bot's retries) they add up to."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from pytest_exchange_chaos._durations import format_clock
from pytest_exchange_chaos._frozen import fast_init
from pytest_exchange_chaos._redact import redact_url
from pytest_exchange_chaos.budget import Budget
from pytest_exchange_chaos.venues.base import Intent

__all__ = [
    "GIVE_UP_AFTER",
    "GIVE_UP_FACTOR",
    "JournalRecord",
    "Operation",
    "OperationTracker",
    "group_operations",
    "redact_url",
]

GIVE_UP_AFTER = 30.0
"""Seconds of silence after an attempt's answer beyond which sending the same order again is a
new decision, not a retry; a bot whose own retries waited longer is allowed more (see
:data:`GIVE_UP_FACTOR`)."""
GIVE_UP_FACTOR = 4.0
"""A wait this many times longer than the longest wait between the operation's earlier attempts
is no step of its backoff: exponential backoff doubles, jitter rarely doubles it again."""

# ccxt's Binance adapter sends a fresh newClientOrderId ("x-" + broker id + 22 hex digits) with
# every order it places, retries included: such an id says nothing about the bot's intent.
_CCXT_BROKER_ID = re.compile(r"x-[A-Za-z0-9]{8}[0-9a-f]{16,}")


@fast_init
@dataclass(frozen=True)
class JournalRecord:
    """One request: when it was sent on the chaos clock, what it was, and what the bot got."""

    t: float
    method: str
    url: str
    path: str
    venue: str | None
    intent: Intent
    symbol: str | None
    fault: str | None
    """The injected fault's name, or None."""
    status: int | None
    """What the client saw; None for a network failure."""
    executed: bool
    """Whether the exchange processed the request (ghosts and late answers included)."""
    client: str = "unknown"
    endpoint: str = ""
    delay: float = 0.0
    accepted: bool = False
    """The exchange acknowledged it and the client saw that acknowledgement."""
    error_code: int | None = None
    order_id: str | None = None
    """The id of the order this request placed on the exchange, seen by the bot or not."""
    client_order_id: str | None = None
    side: str | None = None
    order_type: str | None = None
    amount: str | None = None
    price: str | None = None
    trigger_price: str | None = None
    attached_stop_loss: str | None = None
    """The stop-loss price an entry carried with it, if the venue attaches one (Bybit)."""
    retry_after: float | None = None
    """Seconds the answer told the client to wait before sending again (its ``Retry-After``)."""
    operation_key: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    @property
    def answered_at(self) -> float:
        return self.t + self.delay

    def to_dict(self) -> dict[str, Any]:
        # Every field is a str, number, bool or None: what asdict() returns, without its deep
        # copy per value (the report converts every record of every test).
        return {name: getattr(self, name) for name in _REPORTED_FIELDS}


_REPORTED_FIELDS = tuple(f.name for f in fields(JournalRecord) if f.name != "operation_key")


@dataclass(slots=True)
class Operation:
    """A bot's attempts at one thing (the same order, or the same call) until the first
    success, a refusal, or the bot giving up (see :class:`OperationTracker`)."""

    venue: str | None
    intent: Intent
    symbol: str | None
    records: list[JournalRecord] = field(default_factory=list)
    succeeded: bool = False
    rejected: bool = False
    """The exchange refused it outright (an error code without a fault): retrying will not help."""
    abandoned: bool = False
    """The bot moved on: another order on the symbol was acknowledged before this one ever was,
    or the bot gave up on it (see :attr:`gave_up`)."""
    gave_up: bool = False
    """The bot stopped retrying it unacknowledged: it sent the same order again only after
    waiting longer than its own backoff allowed, or with a client order id of its own that
    changed (both a new operation), or sent nothing more for it while the test went on."""
    gave_up_because: str | None = None
    """How the bot gave up, in words (the end of :meth:`story`)."""
    # What the tracker needs to tell the bot's next attempt from a new decision.
    _answered_at: float = field(default=0.0, repr=False, compare=False)
    _longest_wait: float = field(default=0.0, repr=False, compare=False)
    _client_order_id: str | None = field(default=None, repr=False, compare=False)

    @property
    def attempts(self) -> int:
        return len(self.records)

    @property
    def started_at(self) -> float:
        return self.records[0].t

    @property
    def ended_at(self) -> float:
        return max(r.answered_at for r in self.records)

    @property
    def seconds(self) -> float:
        return self.ended_at - self.started_at

    @property
    def faults(self) -> list[str]:
        return [r.fault for r in self.records if r.fault is not None]

    @property
    def placements(self) -> list[JournalRecord]:
        """Requests that put an order on the book, whether or not the bot learned of it."""
        return [r for r in self.records if r.executed and r.order_id is not None]

    @property
    def label(self) -> str:
        first = self.records[0]
        what = self.intent.replace("_", "-")
        if first.side and first.amount:
            what += f" {first.side} {first.amount}"
        if self.symbol:
            what += f" {self.symbol}"
        if first.trigger_price:
            what += f" @ trigger {first.trigger_price}"
        elif first.price:
            what += f" @ {first.price}"
        if self.venue:
            what += f" on {self.venue}"
        return what

    @property
    def gave_up_after(self) -> str:
        """``"the bot gave up after 3 attempts"``."""
        return f"the bot gave up after {_plural(self.attempts, 'attempt')}"

    def story(self) -> str:
        """Attempt by attempt, as an incident timeline."""
        lines = []
        for number, record in enumerate(self.records, 1):
            if record.fault is not None:
                seen = f"{record.status}" if record.status is not None else "no response"
                result = f"{record.fault} ({seen})"
            elif record.accepted:
                result = f"acknowledged ({record.status})"
            else:
                result = f"refused ({record.status}, code {record.error_code})"
            ghost = (
                ", but the exchange executed it"
                if record.executed and not record.accepted and record.order_id
                else ""
            )
            lines.append(f"    attempt {number} at {format_clock(record.t)}: {result}{ghost}")
        if self.gave_up:
            lines.append(f"    {self.gave_up_after}: {self.gave_up_because}")
        return "\n".join(lines)

    def budget_breach(self, budget: Budget) -> str | None:
        """Why this operation broke ``budget``, in a trader's words; None when it kept it."""
        problems = []
        if not self.succeeded:
            why = (
                " (refused by the exchange)"
                if self.rejected
                else f", {self.gave_up_after}"
                if self.gave_up
                else " (the bot gave up on it)"
                if self.abandoned
                else ""
            )
            problems.append("never acknowledged" + why)
        if budget.attempts is not None and self.attempts > budget.attempts:
            problems.append(f"took {self.attempts} attempts")
        if budget.seconds is not None and self.seconds > budget.seconds:
            problems.append(f"took {self.seconds:.1f} s")
        if not problems:
            return None
        faults = sorted(set(self.faults))
        return (
            f"{self.label}, first tried at {format_clock(self.started_at)}: {' and '.join(problems)} "
            f"({self.attempts} attempt{'s' if self.attempts != 1 else ''} over {self.seconds:.1f} s"
            f"{', faults: ' + ', '.join(faults) if faults else ''}); budget {budget.describe()}\n"
            f"{self.story()}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "venue": self.venue,
            "intent": self.intent,
            "symbol": self.symbol,
            "attempts": self.attempts,
            "seconds": self.seconds,
            "succeeded": self.succeeded,
            "rejected": self.rejected,
            "abandoned": self.abandoned,
            "started_at": self.started_at,
            "faults": self.faults,
            "placements": len(self.placements),
        }

    def allowed_wait(self) -> float:
        """How long after its last answer the bot may send this again and still be retrying:
        :data:`GIVE_UP_AFTER`, or :data:`GIVE_UP_FACTOR` times its longest wait so far if that
        is more, plus any ``Retry-After`` the last answer asked for."""
        allowed = max(GIVE_UP_AFTER, GIVE_UP_FACTOR * self._longest_wait)
        retry_after = getattr(self.records[-1], "retry_after", None) if self.records else None
        if isinstance(retry_after, (int, float)) and retry_after > 0:
            allowed += retry_after
        return allowed


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _bots_own(client_order_id: str | None) -> str | None:
    if client_order_id is None or _CCXT_BROKER_ID.fullmatch(client_order_id):
        return None
    return client_order_id


class OperationTracker:
    """Which logical operation each request belongs to, and which attempt of it it is.

    One rule, used twice so the two can never disagree: online by the engine, before it decides
    a request's fault (``Burst(per_operation=True)`` needs the attempt number), and offline by
    :func:`group_operations` over a journal. Feed every request in the order it was sent:
    :meth:`attempt` before its answer is known, :meth:`answered` once it is.

    A request joins the open operation with the same key (venue, intent, symbol and, for an
    order, side, type, amount, prices and flags) unless the bot gave up on that one:

    - both requests carry a client order id the bot chose (not the one ccxt generates for
      every Binance order) and the ids differ: the bot says itself that this is a new order;
      the same id is always the same order, however long the bot waited;
    - or the previous attempt was answered and the bot then waited longer than
      :meth:`Operation.allowed_wait` (30 s, or 4 times its longest wait between earlier
      attempts, plus any Retry-After it was given) before sending it again.

    An operation ends with its first acknowledgement (succeeded), an outright refusal
    (rejected), or, for an order, when another order on its symbol is acknowledged first
    (abandoned: the bot moved on).
    """

    __slots__ = ("_open", "_orders_on", "_remember", "operations")

    def __init__(self, *, remember: bool = True) -> None:
        self.operations: list[Operation] = []
        """Every operation, in the order they started (none kept with ``remember=False``: the
        engine only needs the open ones, and the journal holds every request anyway)."""
        self._remember = remember
        self._open: dict[tuple[Any, ...], Operation] = {}
        # The open order operations by (venue, symbol): an acknowledged order abandons them.
        self._orders_on: dict[tuple[str | None, str | None], dict[tuple[Any, ...], Operation]] = {}

    def attempt(
        self,
        key: tuple[Any, ...],
        t: float,
        venue: str | None,
        intent: Intent,
        symbol: str | None,
        *,
        client_order_id: str | None = None,
        is_order: bool = False,
    ) -> tuple[Operation, int]:
        """The operation a request sent at ``t`` belongs to, and its attempt number (from 1)."""
        operation = self._open.get(key)
        if operation is not None:
            why = self._gave_up(operation, t, client_order_id)
            if why is not None:
                operation.gave_up = operation.abandoned = True
                operation.gave_up_because = why
                self._close(key, operation)
                operation = None
        if operation is None:
            operation = Operation(venue, intent, symbol)
            operation._client_order_id = client_order_id
            if self._remember:
                self.operations.append(operation)
            self._open[key] = operation
            if is_order:
                self._orders_on.setdefault((venue, symbol), {})[key] = operation
        return operation, len(operation.records) + 1

    def answered(self, key: tuple[Any, ...], operation: Operation, record: JournalRecord) -> None:
        """Record what the request :meth:`attempt` placed in ``operation`` got."""
        records = operation.records
        if records:
            wait = record.t - operation._answered_at
            if wait > operation._longest_wait:
                operation._longest_wait = wait
            if record.answered_at > operation._answered_at:
                operation._answered_at = record.answered_at
        else:
            operation._answered_at = record.answered_at
        records.append(record)
        if self._open.get(key) is not operation:  # answered after it already ended
            return
        if record.accepted:
            operation.succeeded = True
            self._close(key, operation)
            if record.side is not None:
                others = self._orders_on.get((record.venue, record.symbol))
                for other_key, other in list(others.items()) if others else ():
                    other.abandoned = True
                    self._close(other_key, other)
        elif record.fault is None and record.status is not None:
            # The exchange itself said no: a definitive answer, not a failure to get one.
            operation.rejected = True
            self._close(key, operation)

    def finish(self, now: float) -> None:
        """At the end: an unacknowledged operation the bot sent nothing more for, although
        longer than its backoff allowed went by before ``now``, was given up."""
        for key, operation in list(self._open.items()):
            if not operation.records:
                continue
            silence = now - operation._answered_at
            if silence > operation.allowed_wait():
                operation.gave_up = operation.abandoned = True
                operation.gave_up_because = (
                    f"it sent nothing more for it in the {format_clock(silence).lstrip('+')} that followed"
                )
                self._close(key, operation)

    def _close(self, key: tuple[Any, ...], operation: Operation) -> None:
        del self._open[key]
        on_symbol = self._orders_on.get((operation.venue, operation.symbol))
        if on_symbol is not None:
            on_symbol.pop(key, None)

    @staticmethod
    def _gave_up(operation: Operation, t: float, client_order_id: str | None) -> str | None:
        if not operation.records:  # its first attempt has not been answered yet
            return None
        own, before = _bots_own(client_order_id), _bots_own(operation._client_order_id)
        if own is not None and before is not None:
            if own != before:
                return (
                    f"at {format_clock(t)} it sent the same order with a new client order id "
                    "of its own, a new operation"
                )
            return None
        wait = t - operation._answered_at
        allowed = operation.allowed_wait()
        if wait > allowed:
            return (
                f"it sent the same order again at {format_clock(t)}, {wait:.1f} s after the last answer: "
                f"longer than its own backoff allowed ({allowed:.1f} s), so a new operation"
            )
        return None


def group_operations(records: Iterable[JournalRecord], *, now: float | None = None) -> Iterator[Operation]:
    """Fold a journal into logical operations, in the order they started.

    The same rule the engine applies as requests arrive (see :class:`OperationTracker`). An
    operation still open at the end that the bot sent nothing more for, although longer than
    its backoff allowed went by before ``now`` (by default the journal's last answer), was
    given up.
    """
    tracker = OperationTracker()
    last = 0.0
    for record in records:
        operation, _ = tracker.attempt(
            record.operation_key,
            record.t,
            record.venue,
            record.intent,
            record.symbol,
            client_order_id=record.client_order_id,
            is_order=record.side is not None,
        )
        tracker.answered(record.operation_key, operation, record)
        if record.answered_at > last:
            last = record.answered_at
    tracker.finish(last if now is None else now)
    return iter(tracker.operations)
