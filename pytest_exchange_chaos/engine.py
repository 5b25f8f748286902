"""One decision per request: which venue, which fault, what the exchange does, what is journalled.

Synchronous and pure: no HTTP client and no pytest here. Transports call :meth:`ChaosEngine.handle`
and render the :class:`Outcome` in their client's own terms.
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from pytest_exchange_chaos._redact import redact_all_query_values
from pytest_exchange_chaos.clock import ChaosClock
from pytest_exchange_chaos.faults import Fault, FaultContext
from pytest_exchange_chaos.faults._base import reason_phrase
from pytest_exchange_chaos.journal import JournalRecord, OperationTracker, redact_url
from pytest_exchange_chaos.outcome import ClientTimeouts, Outcome
from pytest_exchange_chaos.schedule import ScheduleRun
from pytest_exchange_chaos.venues.base import Call, ExchangeRequest, Venue, VenueReply

__all__ = ["ChaosEngine", "FaultDecider", "FaultObserver", "InjectedFault", "UnservedRequest"]


@dataclass(frozen=True)
class InjectedFault:
    """Handed to fault observers: the fault, the request it hit and the journal record."""

    fault: Fault
    request: ExchangeRequest
    call: Call
    record: JournalRecord


@dataclass(frozen=True)
class UnservedRequest:
    """A request no venue answers: the plugin refuses to let it reach the network."""

    t: float
    method: str
    url: str
    client: str

    def describe(self) -> str:
        # Whoever built it, the guard's message never shows a credential: a refused request's
        # query values are hidden whatever their names, as no name policy knows every exchange's.
        return f"{self.method} {redact_all_query_values(self.url)} (sent with {self.client})"


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The wait an answer asks for in its ``Retry-After`` header (whole seconds, as Binance
    sends it; an HTTP date is not an exchange's habit and counts as none)."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < float("inf") else None


def may_be_loopback(url: str) -> bool:
    """A quick look, for every request: could this URL's host be loopback (127.x, ::1,
    localhost)? A userinfo part or an unusual spelling hides it: such a host is then refused."""
    return "://127." in url or "://localhost" in url or "://[::1]" in url


FaultDecider = Callable[[ExchangeRequest, Call, float], "Fault | None"]
FaultObserver = Callable[[InjectedFault], None]


class ChaosEngine:
    def __init__(
        self,
        *,
        venues: Iterable[Venue],
        schedule: ScheduleRun,
        clock: ChaosClock,
        rng: random.Random,
        deciders: Iterable[FaultDecider] = (),
        observers: Iterable[FaultObserver] = (),
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        self.venues = list(venues)
        self.schedule = schedule
        self.clock = clock
        self.rng = rng
        self.deciders = list(deciders)
        self.observers = list(observers)
        self.journal: list[JournalRecord] = []
        # Which logical operation each request belongs to, as it arrives (per-operation
        # bursts need its attempt number): group_operations replays the same rule.
        self._operations = OperationTracker(remember=False)
        self.unserved: list[UnservedRequest] = []
        self.allowed_hosts = tuple(host.lower() for host in allowed_hosts)
        self._venue_by_host = {host: venue for venue in self.venues for host in venue.hosts}
        self._after_request: list[Callable[[], None]] = []

    def after_each_request(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after each request a venue answered, whatever client sent it (the
        stream hub publishes the fill or cancel it caused). Returns what removes it again."""
        self._after_request.append(listener)
        return lambda: self._after_request.remove(listener)

    def passes_through(self, url: str) -> bool:
        """True for a host no venue serves that the test explicitly allowed, or that is loopback
        (a bot's own test server): the transport then lets the real client send it. Everything
        else is answered here or refused."""
        if not self.allowed_hosts and not may_be_loopback(url):
            return False
        request = ExchangeRequest("GET", url)
        if self.venue_for(request) is not None:
            return False
        if any(fnmatch.fnmatchcase(request.host, pattern) for pattern in self.allowed_hosts):
            return True
        from pytest_exchange_chaos._network_guard import is_loopback

        return is_loopback(request.host)

    def venue_for(self, request: ExchangeRequest) -> Venue | None:
        venue = self._venue_by_host.get(request.host)
        if venue is not None:
            return venue
        return next((v for v in self.venues if v.serves(request)), None)

    def handle(self, request: ExchangeRequest, timeouts: ClientTimeouts) -> Outcome:
        now = self.clock.now()
        venue = self.venue_for(request)
        if venue is None:
            unserved = UnservedRequest(now, request.method, redact_url(request.url), request.client)
            self.unserved.append(unserved)
            return Outcome(network="unserved", message=unserved.describe())
        missing = venue.not_simulated(request)
        if missing is not None:
            return self._refuse_not_simulated(now, request, missing)
        call = venue.classify(request)
        order = call.order
        if order is not None:
            key: tuple[object, ...] = (call.venue, call.intent, call.symbol, *order.key)
            operation, attempt = self._operations.attempt(
                key,
                now,
                call.venue,
                call.intent,
                call.symbol,
                client_order_id=order.client_order_id,
                is_order=True,
            )
        else:
            key = (call.venue, call.intent, call.symbol, call.endpoint)
            operation, attempt = self._operations.attempt(key, now, call.venue, call.intent, call.symbol)
        fault = self._decide(request, call, now, attempt)
        reply: VenueReply | None = None
        if fault is None or fault.executes:
            reply = venue.execute(request, call)
        if fault is None:
            assert reply is not None
            outcome = Outcome(
                status=reply.status,
                reason=reason_phrase(reply.status),
                headers=reply.headers,
                body=reply.body,
            )
        else:
            outcome = fault.outcome(FaultContext(request, venue, timeouts, self.rng, reply))
        record = self._record(now, request, call, fault, reply, outcome, key)
        self.journal.append(record)
        self._operations.answered(key, operation, record)
        if fault is not None:
            injected = InjectedFault(fault, request, call, record)
            for observe in self.observers:
                observe(injected)
        for listener in self._after_request:
            listener()
        return outcome

    def _refuse_not_simulated(self, now: float, request: ExchangeRequest, missing: str) -> Outcome:
        """A served host, a path its venue does not simulate: refused, and the test fails, rather
        than a made-up 404 that ccxt would raise as a retryable outage."""
        from pytest_exchange_chaos._network_guard import Refusal
        from pytest_exchange_chaos.errors import NOT_SIMULATED_REASON, VENUE_HELP

        what = f"{missing} (sent with {request.client})"
        refusal = Refusal(
            now,
            request.method,
            redact_url(request.url),
            request.client,
            what=what,
            reason=NOT_SIMULATED_REASON,
            help=VENUE_HELP,
        )
        self.unserved.append(refusal)
        return Outcome(network="unserved", message=what)

    def _decide(self, request: ExchangeRequest, call: Call, now: float, attempt: int) -> Fault | None:
        for decide in self.deciders:
            fault = decide(request, call, now)
            if fault is not None:
                return fault
        return self.schedule.decide(call, now, attempt)

    def _record(
        self,
        now: float,
        request: ExchangeRequest,
        call: Call,
        fault: Fault | None,
        reply: VenueReply | None,
        outcome: Outcome,
        operation_key: tuple[object, ...],
    ) -> JournalRecord:
        order = call.order
        # The client saw an acknowledgement only if the venue accepted and that answer got through.
        acknowledged = (
            reply is not None
            and reply.accepted
            and outcome.status == reply.status
            and (fault is None or outcome.body == reply.body)
        )
        return JournalRecord(
            t=now,
            method=request.method,
            url=redact_url(request.url),
            path=request.path,
            venue=call.venue,
            intent=call.intent,
            symbol=call.symbol,
            fault=fault.name if fault is not None else None,
            status=outcome.status,
            executed=reply is not None,
            client=request.client,
            endpoint=call.endpoint,
            delay=outcome.delay,
            accepted=acknowledged,
            error_code=reply.error_code if reply is not None and fault is None else None,
            order_id=reply.order_id if reply is not None else None,
            client_order_id=order.client_order_id if order else None,
            side=order.side if order else None,
            order_type=order.order_type if order else None,
            amount=order.amount if order else None,
            price=order.price if order else None,
            trigger_price=order.trigger_price if order else None,
            attached_stop_loss=order.attached_stop_loss if order else None,
            retry_after=retry_after_seconds(outcome.headers),
            operation_key=operation_key,
        )
