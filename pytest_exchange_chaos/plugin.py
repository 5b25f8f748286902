"""The pytest layer: options, markers, the ``exchange_chaos`` fixture, budgets and the report."""

from __future__ import annotations

import random
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from pytest_exchange_chaos import hookspecs, report
from pytest_exchange_chaos._markers import BUDGET_HELP, CHAOS_HELP, read_settings
from pytest_exchange_chaos._seeds import derive_seed, fresh_seed
from pytest_exchange_chaos._stash import CONTROLLER_KEY, SEED_KEY, SETTINGS_KEY
from pytest_exchange_chaos.clock import ChaosClock
from pytest_exchange_chaos.controller import ChaosController
from pytest_exchange_chaos.engine import ChaosEngine, FaultDecider, FaultObserver
from pytest_exchange_chaos.errors import UnservedRequestError
from pytest_exchange_chaos.faults import Fault
from pytest_exchange_chaos.schedule import ScheduleRun
from pytest_exchange_chaos.transports import available_transports, start_transports
from pytest_exchange_chaos.venues import Venue, VenueContext, builtin_venues
from pytest_exchange_chaos.venues.base import Call, ExchangeRequest

__all__ = ["exchange_chaos"]

FIXTURE = "exchange_chaos"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("exchange-chaos", "exchange chaos (simulated exchanges and faults)")
    group.addoption(
        "--chaos-seed",
        dest="chaos_seed",
        default=None,
        metavar="SEED",
        help="seed for fault decisions (default: the ini's chaos_seed, else a fresh one, "
        "printed in the header)",
    )
    parser.addini("chaos_seed", "seed for fault decisions, overridden by --chaos-seed", default=None)
    group.addoption(
        "--chaos-report",
        dest="chaos_report",
        default=None,
        metavar="PATH",
        help="write every chaos test's journal, operations and verdicts as JSON to PATH",
    )
    parser.addini("chaos_report", "path of the JSON chaos report, overridden by --chaos-report", default=None)
    group.addoption(
        "--chaos-timeline",
        dest="chaos_timeline",
        default=None,
        metavar="PATH",
        help="draw every chaos test's waves, attempts and successes on the chaos clock to PATH "
        "(.svg, or .html for a page with one picture per test)",
    )
    parser.addini(
        "chaos_timeline", "path of the chaos timeline picture, overridden by --chaos-timeline", default=None
    )
    group.addoption(
        "--chaos-allow-host",
        dest="chaos_allow_hosts",
        action="append",
        default=None,
        metavar="HOST",
        help="let chaos tests reach HOST for real (repeatable; globs like *.internal); every other "
        "host no venue serves fails the test",
    )
    parser.addini(
        "chaos_allow_hosts",
        "hosts chaos tests may reach for real, added to --chaos-allow-host",
        type="linelist",
    )


def _option_or_ini(config: pytest.Config, name: str) -> Any:
    value = config.getoption(name)
    return value if value is not None else config.getini(name)


def _resolve_seed(config: pytest.Config) -> int:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "chaos_seed" in workerinput:
        return int(workerinput["chaos_seed"])
    raw = _option_or_ini(config, "chaos_seed")
    if raw in (None, ""):
        return fresh_seed()
    try:
        return int(str(raw))
    except ValueError:
        raise pytest.UsageError(
            f"--chaos-seed={raw!r} is not a whole number; write e.g. --chaos-seed=7"
        ) from None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", CHAOS_HELP)
    config.addinivalue_line("markers", BUDGET_HELP)
    config.stash[SEED_KEY] = _resolve_seed(config)
    report.configure(config)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistSeed(), "exchange_chaos_xdist")


class _XdistSeed:
    """Hands the controller's seed to every worker, so `-n` runs repeat like serial ones."""

    @pytest.hookimpl
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["chaos_seed"] = node.config.stash[SEED_KEY]


def pytest_report_header(config: pytest.Config) -> str:
    seed = config.stash[SEED_KEY]
    clients = ", ".join(available_transports()) or "none installed"
    return f"exchange-chaos: seed={seed} (repeat with --chaos-seed={seed}); clients: {clients}"


def _uses_chaos(item: pytest.Item) -> bool:
    return any(True for _ in item.iter_markers("exchange_chaos")) or any(
        True for _ in item.iter_markers("retry_budget")
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not _uses_chaos(item):
            continue
        # Validate at collection, so a typo stops the run with one clear line, not a traceback.
        item.stash[SETTINGS_KEY] = read_settings(item)
        fixturenames = getattr(item, "fixturenames", None)
        if fixturenames is not None and FIXTURE not in fixturenames:
            # First, so the bot's own fixtures already run inside the chaos.
            fixturenames.insert(0, FIXTURE)


def _venue_classes(config: pytest.Config) -> list[type[Venue]]:
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


def _hook_deciders(config: pytest.Config, controller: list[ChaosController]) -> list[FaultDecider]:
    hook = config.hook.pytest_exchange_chaos_decide_fault
    if not hook.get_hookimpls():
        return []

    def decide(request: ExchangeRequest, call: Call, now: float) -> Fault | None:
        fault = hook(request=request, call=call, now=now, controller=controller[0])
        if fault is not None and not isinstance(fault, Fault):
            raise TypeError(
                f"pytest_exchange_chaos_decide_fault returned {fault!r}; return a fault such as "
                "faults.bad_gateway(), or None to let the schedule decide"
            )
        return fault

    return [decide]


def _hook_observers(config: pytest.Config, controller: list[ChaosController]) -> list[FaultObserver]:
    hook = config.hook.pytest_exchange_chaos_fault_injected
    if not hook.get_hookimpls():
        return []
    return [lambda injected: hook(injected=injected, controller=controller[0])]


@pytest.fixture
def exchange_chaos(request: pytest.FixtureRequest) -> Iterator[ChaosController]:
    """The chaos controller: simulated venues, faults on a chaos clock, journal and verdicts."""
    item = request.node
    config = request.config
    settings = item.stash.get(SETTINGS_KEY, None) or read_settings(item)
    seed = settings.seed if settings.seed is not None else config.stash[SEED_KEY]
    nodeid = item.nodeid
    clock = ChaosClock(settings.clock)
    venues = [
        cls(
            VenueContext(
                now=clock.now,
                wall_time=clock.wall_time,
                rng=random.Random(derive_seed(seed, nodeid, "venue", cls.id)),
                seed=derive_seed(seed, nodeid, "venue-seed", cls.id),
            )
        )
        for cls in _venue_classes(config)
    ]
    holder: list[ChaosController] = []
    engine = ChaosEngine(
        venues=venues,
        schedule=ScheduleRun(random.Random(derive_seed(seed, nodeid, "schedule")), settings.schedules),
        clock=clock,
        rng=random.Random(derive_seed(seed, nodeid, "faults")),
        deciders=_hook_deciders(config, holder),
        observers=_hook_observers(config, holder),
        allowed_hosts=(
            *(config.getoption("chaos_allow_hosts") or ()),
            *config.getini("chaos_allow_hosts"),
            *settings.allow_hosts,
        ),
    )
    controller = ChaosController(engine, seed=seed)
    holder.append(controller)
    item.stash[CONTROLLER_KEY] = controller
    clock.install()
    try:
        stop_transports = start_transports(engine)
        try:
            yield controller
        finally:
            stop_transports()
    finally:
        clock.uninstall()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    result = yield
    controller = item.stash.get(CONTROLLER_KEY, None)
    if controller is None:
        return result
    _check_guard(controller)
    settings = item.stash.get(SETTINGS_KEY, None)
    if settings is not None and settings.budgets:
        breaches = controller.budget_breaches(settings.budgets)
        if breaches:
            pytest.fail(
                f"retry budget broken by {len(breaches)} operation(s) (seed {controller.seed}):\n\n"
                + "\n\n".join(breaches),
                pytrace=False,
            )
    return result


def _check_guard(controller: ChaosController) -> None:
    unserved = controller.unserved
    if unserved:
        listed = ", ".join(u.describe() for u in unserved[:5])
        more = f" and {len(unserved) - 5} more" if len(unserved) > 5 else ""
        pytest.fail(str(UnservedRequestError(listed + more)), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    test_report = yield
    controller = item.stash.get(CONTROLLER_KEY, None)
    if controller is not None and call.when == "teardown":
        test_report.user_properties.append((report.PROPERTY, report.test_entry(item, controller)))
    return test_report
