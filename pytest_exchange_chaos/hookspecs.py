"""Extension points. Implement them in a conftest.py or a plugin of your own."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import pytest

    from pytest_exchange_chaos.controller import ChaosController
    from pytest_exchange_chaos.engine import InjectedFault
    from pytest_exchange_chaos.faults import Fault
    from pytest_exchange_chaos.venues.base import Call, ExchangeRequest, Venue

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_exchange_chaos_venues(config: pytest.Config) -> list[type[Venue]] | None:
    """Return venue classes (subclasses of ``pytest_exchange_chaos.venues.Venue``) to simulate
    exchanges the plugin does not ship. Each chaos test gets fresh instances of every venue.
    A venue whose ``id`` equals a built-in one replaces it."""


@hookspec(firstresult=True)
def pytest_exchange_chaos_decide_fault(
    request: ExchangeRequest, call: Call, now: float, controller: ChaosController
) -> Fault | None:
    """Decide the fault for one request before the schedule does.

    Return a fault to inject it, or None to let the test's waves and bursts decide. ``now`` is
    chaos-clock seconds since the test started; ``call`` says what the request is for (venue,
    intent, symbol, order)."""


@hookspec
def pytest_exchange_chaos_fault_injected(injected: InjectedFault, controller: ChaosController) -> None:
    """Called for every injected fault, with the fault, the request and its journal record."""
