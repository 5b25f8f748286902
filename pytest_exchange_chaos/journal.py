"""What happened to every request, and the logical operations (a bot's retries) they add up to."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from pytest_exchange_chaos._durations import format_clock
from pytest_exchange_chaos._frozen import fast_init
from pytest_exchange_chaos._redact import redact_url
from pytest_exchange_chaos.budget import Budget
from pytest_exchange_chaos.venues.base import Intent

__all__ = ["JournalRecord", "Operation", "group_operations", "redact_url"]


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


@dataclass
class Operation:
    """A bot's attempts at one thing (the same order, or the same call) until the first success."""

    venue: str | None
    intent: Intent
    symbol: str | None
    records: list[JournalRecord] = field(default_factory=list)
    succeeded: bool = False
    rejected: bool = False
    """The exchange refused it outright (an error code without a fault): retrying will not help."""
    abandoned: bool = False
    """The bot moved on: another order on the symbol was acknowledged before this one ever was."""

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
        return "\n".join(lines)

    def budget_breach(self, budget: Budget) -> str | None:
        """Why this operation broke ``budget``, in a trader's words; None when it kept it."""
        problems = []
        if not self.succeeded:
            why = (
                " (refused by the exchange)"
                if self.rejected
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


def group_operations(records: Iterable[JournalRecord]) -> Iterator[Operation]:
    """Fold a journal into logical operations, in the order they started.

    An operation gathers the requests with the same key (venue, intent, symbol and, for orders,
    side, type, amount and prices) until the first one acknowledged. An order that is never
    acknowledged ends when another order on its symbol is: the bot has moved on, and an
    identical order later is a new decision, not a retry.
    """
    open_ops: dict[tuple[Any, ...], Operation] = {}
    ordered: list[Operation] = []
    for record in records:
        key = record.operation_key
        operation = open_ops.get(key)
        if operation is None:
            operation = Operation(record.venue, record.intent, record.symbol)
            open_ops[key] = operation
            ordered.append(operation)
        operation.records.append(record)
        if record.accepted:
            operation.succeeded = True
            del open_ops[key]
            if record.side is not None:
                for other_key, other in list(open_ops.items()):
                    first = other.records[0]
                    if first.side is not None and (other.venue, other.symbol) == (
                        record.venue,
                        record.symbol,
                    ):
                        other.abandoned = True
                        del open_ops[other_key]
        elif record.fault is None and record.status is not None:
            # The exchange itself said no: a definitive answer, not a failure to get one.
            operation.rejected = True
            del open_ops[key]
    return iter(ordered)
