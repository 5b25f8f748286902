"""One chaos session without pytest: venues, schedule, engine and clock for one test, with the
client libraries intercepted while it runs. The ``exchange_chaos`` fixture is this plus pytest's
settings; scripts (the benchmarks, a notebook) use it directly."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterable, Iterator, Sequence

from pytest_exchange_chaos._network_guard import NetworkGuard
from pytest_exchange_chaos._seeds import derive_seed, seeded_global_random
from pytest_exchange_chaos.clock import ChaosClock, ClockMode
from pytest_exchange_chaos.controller import ChaosController
from pytest_exchange_chaos.engine import ChaosEngine, FaultDecider, FaultObserver
from pytest_exchange_chaos.schedule import Schedule, ScheduleRun
from pytest_exchange_chaos.transports import start_transports
from pytest_exchange_chaos.venues import Venue, VenueContext, builtin_venues

__all__ = ["chaos_session"]


@contextlib.contextmanager
def chaos_session(
    schedules: Iterable[Schedule] = (),
    *,
    seed: int,
    name: str = "chaos",
    clock: ClockMode = "virtual",
    venues: Sequence[type[Venue]] | None = None,
    deciders: Iterable[FaultDecider] = (),
    observers: Iterable[FaultObserver] = (),
    allowed_hosts: Iterable[str] = (),
    pinned_seed: bool = False,
) -> Iterator[ChaosController]:
    """Run the body as a chaos test named ``name`` (a pytest node id): every random draw comes
    from ``seed`` and the name, so the same pair repeats the same journal. With ``pinned_seed``
    (the seed is written on the test itself) the draws come from the seed alone, so a copied or
    renamed test repeats them too. The global ``random`` (and ``numpy.random``, if imported) is
    seeded the same way for the body and restored after."""
    test = () if pinned_seed else (name,)
    chaos_clock = ChaosClock(clock)
    simulated = [
        cls(
            VenueContext(
                now=chaos_clock.now,
                wall_time=chaos_clock.wall_time,
                rng=random.Random(derive_seed(seed, *test, "venue", cls.id)),
                seed=derive_seed(seed, *test, "venue-seed", cls.id),
            )
        )
        for cls in (builtin_venues() if venues is None else venues)
    ]
    engine = ChaosEngine(
        venues=simulated,
        schedule=ScheduleRun(random.Random(derive_seed(seed, *test, "schedule")), schedules),
        clock=chaos_clock,
        rng=random.Random(derive_seed(seed, *test, "faults")),
        deciders=deciders,
        observers=observers,
        allowed_hosts=allowed_hosts,
    )
    controller = ChaosController(engine, seed=seed)
    chaos_clock.install()
    try:
        stop_transports = start_transports(engine)
        # Behind the transports: every other way out to the network is refused.
        guard = NetworkGuard(engine)
        try:
            guard.start()
            with seeded_global_random(derive_seed(seed, *test, "random")):
                yield controller
        finally:
            guard.stop()
            stop_transports()
    finally:
        chaos_clock.uninstall()
