"""What a chaos test needs at run time, imported only when one runs: building the venues,
schedule, engine and clock for a test, and the checks after its body."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator, Iterator

import pytest

from pytest_exchange_chaos import report, session
from pytest_exchange_chaos._markers import ChaosSettings, read_settings, venue_classes
from pytest_exchange_chaos._network_guard import refusal_message
from pytest_exchange_chaos._redact import redact_report
from pytest_exchange_chaos._stash import CONTROLLER_KEY, SEED_KEY, SETTINGS_KEY
from pytest_exchange_chaos.controller import ChaosController
from pytest_exchange_chaos.engine import FaultDecider, FaultObserver
from pytest_exchange_chaos.faults import Fault
from pytest_exchange_chaos.ratelimits import RateLimiter
from pytest_exchange_chaos.venues.base import Call, ExchangeRequest

__all__ = ["ChaosTestHooks", "chaos_session"]

_CHECKED_KEY = pytest.StashKey[bool]()
_BODY_FAILED_KEY = pytest.StashKey[bool]()
_LIMITERS_KEY = pytest.StashKey[list[RateLimiter]]()
_BUDGET_STORY_KEY = pytest.StashKey[str]()
"""A broken budget's attempt-by-attempt story, for a body that raised before the checks ran."""


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


def chaos_session(request: pytest.FixtureRequest) -> Iterator[ChaosController]:
    """Run one test's chaos session with the settings its markers, options and hooks give."""
    item = request.node
    config = request.config
    settings = item.stash.get(SETTINGS_KEY, None)
    if settings is None:
        # Requested at run time (no marker, or request.getfixturevalue): the checks after the
        # body read the same settings.
        settings = item.stash[SETTINGS_KEY] = read_settings(item)
    # Hooks are handed the controller, which exists only once the session has started.
    holder: list[ChaosController] = []
    limiters = item.stash[_LIMITERS_KEY] = [limits.start() for limits in settings.rate_limits]
    with session.chaos_session(
        settings.schedules,
        seed=settings.seed if settings.seed is not None else config.stash[SEED_KEY],
        pinned_seed=settings.seed is not None,
        name=item.nodeid,
        clock=settings.clock,
        venues=venue_classes(config),
        # Binance's limiter stands in front of everything, as its gateway does: before the hooks.
        deciders=[*limiters, *_hook_deciders(config, holder)],
        observers=_hook_observers(config, holder),
        allowed_hosts=(
            *(config.getoption("chaos_allow_hosts") or ()),
            *config.getini("chaos_allow_hosts"),
            *settings.allow_hosts,
        ),
    ) as controller:
        holder.append(controller)
        item.stash[CONTROLLER_KEY] = controller
        yield controller
        # Here, after the fixtures built on exchange_chaos were torn down (where a bot's thread
        # is stopped) and before the guard and the transports stop.
        _check_nothing_outlives(item, controller)
        if not item.stash.get(_CHECKED_KEY, False) and _BODY_FAILED_KEY in item.stash:
            # The fixture was requested from the test body, after the call hook had started: the
            # checks that hook makes happen here instead, and fail the test's teardown. (With no
            # call report, a fixture's setup failed and the body never ran: nothing to check.)
            _check_after_body(item, controller, body_failed=item.stash.get(_BODY_FAILED_KEY, False))


class ChaosTestHooks:
    """The per-test hooks, registered only once collection finds a chaos test: a suite that
    never uses chaos pays nothing per test."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        return (yield from _checked_call(item))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        test_report = yield
        if call.when == "call":
            item.stash[_BODY_FAILED_KEY] = test_report.failed
            story = item.stash.get(_BUDGET_STORY_KEY, None)
            if story is not None and test_report.failed:
                _add_budget_story(test_report, story)
        controller = item.stash.get(CONTROLLER_KEY, None)
        if controller is not None and (test_report.longrepr is not None or test_report.sections):
            # The bot's HTTP stack holds its API key and signatures in locals that -l, junit.xml
            # and captured logs would show: redact before any reporter sees the report.
            redact_report(test_report)
        if controller is not None and call.when == "teardown":
            test_report.user_properties.append((report.PROPERTY, report.test_entry(item, controller)))
        return test_report


def _checked_call(item: pytest.Item) -> Generator[None, object, object]:
    # Whatever the body does, this hook owns the checks for this test (see chaos_session).
    item.stash[_CHECKED_KEY] = True
    try:
        result = yield
    except BaseException:
        # The body's own exception is what the user sees; a budget it broke on the way is
        # still told, attempt by attempt, beside it (the checks below do not run).
        controller = item.stash.get(CONTROLLER_KEY, None)
        if controller is not None:
            story = _budget_story(item, controller)
            if story is not None:
                item.stash[_BUDGET_STORY_KEY] = story
        raise
    controller = item.stash.get(CONTROLLER_KEY, None)
    if controller is None:
        return result
    _check_after_body(item, controller)
    return result


def _budget_story(item: pytest.Item, controller: ChaosController) -> str | None:
    settings = item.stash.get(SETTINGS_KEY, None)
    if settings is None or not settings.budgets:
        return None
    breaches = controller.budget_breaches(settings.budgets)
    if not breaches:
        return None
    return f"retry budget broken by {len(breaches)} operation(s) (seed {controller.seed}):\n\n" + "\n\n".join(
        breaches
    )


def _add_budget_story(test_report: pytest.TestReport, story: str) -> None:
    longrepr = test_report.longrepr
    told = str(longrepr)
    # assert_placed(within=...) tells the same operations' stories: each is told once.
    if all(breach.split("\n", 1)[0] in told for breach in story.split("\n\n")[1:]):
        return
    addsection = getattr(longrepr, "addsection", None)  # a traceback's representation
    if callable(addsection):
        addsection("exchange chaos: retry budget", story)
    elif isinstance(longrepr, str):  # pytest.fail(..., pytrace=False)
        test_report.longrepr = f"{longrepr}\n\n{story}"


def _check_after_body(item: pytest.Item, controller: ChaosController, *, body_failed: bool = False) -> None:
    _check_guard(controller)
    settings = item.stash.get(SETTINGS_KEY, None) or ChaosSettings()
    if not body_failed:
        # A body that already failed has told its story; what it did not get to send is no news.
        _check_something_was_sent(controller, settings)
    # A broken budget is the bot's bug and comes first; a quiet schedule is the test's, and is
    # told in the same failure so that fixing one does not hide the other.
    verdicts = []
    if settings.budgets:
        story = _budget_story(item, controller)
        if story is not None:
            verdicts.append(story)
        if not body_failed:
            verdicts.extend(controller.unexercised_budgets(settings.budgets))
    if not body_failed:
        unfired = controller.unfired_schedules()
        if unfired:
            count = f"{len(unfired)} schedule(s)" if len(unfired) > 1 else "a schedule"
            verdicts.append(
                f"{count} never injected a fault (seed {controller.seed}), so the test did not test "
                "what it claims:\n\n" + "\n\n".join(str(u) for u in unfired)
            )
    verdicts.extend(_rate_limit_verdicts(item, controller, settings, body_failed=body_failed))
    if verdicts:
        pytest.fail("\n\n".join(verdicts), pytrace=False)


def _rate_limit_verdicts(
    item: pytest.Item, controller: ChaosController, settings: ChaosSettings, *, body_failed: bool
) -> list[str]:
    """``retry_after="respected"`` broken or left with nothing to check, and rate limits that
    never limited a request (a limit the bot never reached tested nothing)."""
    verdicts = []
    if settings.retry_after_respected:
        breaches = controller.retry_after_breaches()
        if breaches:
            verdicts.append(
                "exchange_chaos(retry_after='respected'): the bot sent again before Retry-After had "
                f"elapsed (seed {controller.seed}):\n" + "\n".join(breaches)
            )
        nothing = controller.unexercised_retry_after()
        if nothing is not None and not body_failed:
            verdicts.append(f"exchange_chaos(retry_after='respected') {nothing}")
    if not body_failed:
        for limiter in item.stash.get(_LIMITERS_KEY, []):
            quiet = limiter.never_limited(seed=controller.seed)
            if quiet is not None:
                verdicts.append(
                    f"a rate limit never limited the bot, so the test did not test what it claims:\n\n{quiet}"
                )
    return verdicts


def _check_nothing_outlives(item: pytest.Item, controller: ChaosController) -> None:
    clock = controller._engine.clock
    threads = clock.threads_left_running()
    outliving = _loops_outliving(item)
    tasks = [t for t in clock.tasks_left_pending() if any(t.get_loop() is loop for loop in outliving)]
    if not threads and not tasks:
        return
    left = [f"thread {t.name!r} running {_thread_target(t)}" for t in threads]
    left += [f"asyncio task {t.get_name()!r} running {_coroutine_name(t)}" for t in tasks]
    pytest.fail(
        "the chaos test ended with the bot still running: "
        + "; ".join(left)
        + ". After this test, without the chaos clock, the simulated exchanges and the network "
        "guard, it would send its requests (signed ones too) to the real network, and a later "
        "test would pass without noticing. Stop it and wait for it before the test ends: "
        "join the thread, or cancel and await the task, in the test or in the teardown of a "
        "fixture that requests exchange_chaos.",
        pytrace=False,
    )


def _thread_target(thread: threading.Thread) -> str:
    target = getattr(thread, "_target", None)
    if target is None:
        return f"{type(thread).__qualname__}.run()"
    return f"{getattr(target, '__qualname__', repr(target))}()"


def _coroutine_name(task: asyncio.Task[object]) -> str:
    coro = task.get_coro()
    return f"{getattr(coro, '__qualname__', repr(coro))}()"


def _loops_outliving(item: pytest.Item) -> list[asyncio.AbstractEventLoop]:
    """Event loops a fixture scoped wider than the test holds (pytest-asyncio's module, package or
    session loop): a task left pending on one runs in the tests after. A loop of the test's own
    is closed with it, its tasks cancelled."""
    request = getattr(item, "_request", None)
    fixturedefs = dict(getattr(request, "_fixture_defs", None) or {})
    loops = []
    for fixturedef in fixturedefs.values():
        cached = getattr(fixturedef, "cached_result", None)
        if getattr(fixturedef, "scope", "function") == "function" or cached is None:
            continue
        value = cached[0]
        # pytest-asyncio 1.x hands out an asyncio.Runner, older versions the loop itself.
        loop = value if isinstance(value, asyncio.AbstractEventLoop) else getattr(value, "_loop", None)
        if isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_closed():
            loops.append(loop)
    return loops


def _check_something_was_sent(controller: ChaosController, settings: ChaosSettings) -> None:
    if controller.requests_sent or not settings.expect_requests:
        return
    scheduled = controller.schedules
    waiting = f" ({len(scheduled)} schedule(s) waited for it)" if scheduled else ""
    pytest.fail(
        f"the bot sent nothing: this chaos test ended without a single request reaching the "
        f"simulated exchanges{waiting}, so it tested nothing. Did you forget to await the bot's "
        "coroutine, or build the exchange outside the test? A test that only inspects the venues "
        "says so with @pytest.mark.exchange_chaos(expect_requests=False).",
        pytrace=False,
    )


def _check_guard(controller: ChaosController) -> None:
    unserved = controller.unserved
    if unserved:
        pytest.fail(refusal_message(unserved), pytrace=False)
