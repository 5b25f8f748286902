"""The pytest layer: options, markers, the ``exchange_chaos`` fixture, budgets and the report."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_exchange_chaos import hookspecs, report
from pytest_exchange_chaos._durations import shown
from pytest_exchange_chaos._seeds import MAX_SEED, fresh_seed
from pytest_exchange_chaos._stash import SEED_KEY, SETTINGS_KEY
from pytest_exchange_chaos.transports import available_transports

if TYPE_CHECKING:
    from pytest_exchange_chaos.controller import ChaosController

__all__ = ["exchange_chaos"]

# Ready ccxt exchanges (chaos_binanceusdm, chaos_bybit and their _sync twins); ccxt imported lazily.
pytest_plugins = ["pytest_exchange_chaos.fixtures"]

FIXTURE = "exchange_chaos"
_TEST_HOOKS = "exchange_chaos_test_hooks"

CHAOS_HELP = (
    "exchange_chaos(*schedules, seed=None, profile=None, clock='virtual', allow_hosts=(), "
    "expect_requests=True): run the test against "
    "simulated exchanges, failing requests with the given Wave(...)/Burst(...) schedules or a named "
    "profile, on the virtual chaos clock (clock='real' for wall time); only allow_hosts may reach the "
    "network. A required schedule that never fired, or a test that sent no request, fails. "
    "See docs/reference/markers.md"
)
BUDGET_HELP = (
    "retry_budget(**{intent: Budget(attempts=None, seconds=None)}): fail the test when an operation of "
    "that intent (entry, exit, stop_loss, take_profit, cancel, market_data, account, other) is not "
    "acknowledged within its budget"
)


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
        help="write every chaos test's verdicts, operations and traffic as JSON to PATH",
    )
    parser.addini("chaos_report", "path of the JSON chaos report, overridden by --chaos-report", default=None)
    group.addoption(
        "--chaos-report-detail",
        dest="chaos_report_detail",
        default=None,
        metavar="LEVEL",
        help="what --chaos-report writes: summary (the default: totals, verdicts and every "
        "operation that met a fault or needed a retry) or full (every request too)",
    )
    parser.addini(
        "chaos_report_detail",
        "summary or full: what the JSON chaos report holds, overridden by --chaos-report-detail",
        default=None,
    )
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
    from_option = config.getoption("chaos_seed") is not None
    spelled = f"--chaos-seed={shown(raw)}" if from_option else f"ini chaos_seed = {shown(raw)}"
    try:
        seed = int(str(raw))
    except ValueError:
        raise pytest.UsageError(f"{spelled} is not a whole number; write e.g. --chaos-seed=7") from None
    if not 0 <= seed <= MAX_SEED:
        raise pytest.UsageError(
            f"{spelled}: the seed is a whole number from 0 to {MAX_SEED}; write e.g. --chaos-seed=7"
        )
    return seed


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", CHAOS_HELP)
    config.addinivalue_line("markers", BUDGET_HELP)
    config.stash[SEED_KEY] = _resolve_seed(config)
    _check_allowed_hosts(config)
    report.configure(config)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistSeed(), "exchange_chaos_xdist")


class _XdistSeed:
    """Hands the controller's seed to every worker, so `-n` runs repeat like serial ones."""

    @pytest.hookimpl
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["chaos_seed"] = node.config.stash[SEED_KEY]


def _check_allowed_hosts(config: pytest.Config) -> None:
    sources = (
        ("--chaos-allow-host", config.getoption("chaos_allow_hosts") or []),
        ("the ini's chaos_allow_hosts", config.getini("chaos_allow_hosts")),
    )
    for where, hosts in sources:
        if not hosts:
            continue
        from pytest_exchange_chaos._network_guard import allow_hosts_problem

        problem = allow_hosts_problem(hosts)
        if problem is not None:
            raise pytest.UsageError(f"{where}: {problem}")


def _everywhere_warning(where: str) -> str:
    return (
        f"exchange-chaos: WARNING: {where} lets chaos tests reach ANY host no venue serves, "
        "for real: nothing stops a request to an exchange's other hosts"
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    seed = config.stash[SEED_KEY]
    clients = ", ".join(available_transports()) or "none installed"
    lines = [f"exchange-chaos: seed={seed} (repeat with --chaos-seed={seed}); clients: {clients}"]
    if "*" in (config.getoption("chaos_allow_hosts") or ()):
        lines.append(_everywhere_warning("--chaos-allow-host='*'"))
    if "*" in config.getini("chaos_allow_hosts"):
        lines.append(_everywhere_warning("chaos_allow_hosts = * (ini)"))
    return lines


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]) -> list[str]:
    # A marker's allow_hosts=("*",) is read at collection, after the header is printed.
    everywhere = [
        item.nodeid
        for item in items
        if (settings := item.stash.get(SETTINGS_KEY, None)) is not None and settings.allow_hosts == ("*",)
    ]
    if not everywhere:
        return []
    listed = ", ".join(everywhere[:3]) + (f" and {len(everywhere) - 3} more" if len(everywhere) > 3 else "")
    return [_everywhere_warning(f"allow_hosts=('*',) on {len(everywhere)} test(s) ({listed})")]


def _uses_chaos(item: pytest.Item) -> bool:
    return any(True for _ in item.iter_markers("exchange_chaos")) or any(
        True for _ in item.iter_markers("retry_budget")
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chaos_tests = 0
    for item in items:
        fixturenames = getattr(item, "fixturenames", None)
        if not _uses_chaos(item):
            chaos_tests += fixturenames is not None and FIXTURE in fixturenames
            continue
        chaos_tests += 1
        from pytest_exchange_chaos._markers import read_settings

        # Validate at collection, so a typo stops the run with one clear line, not a traceback.
        item.stash[SETTINGS_KEY] = read_settings(item)
        if fixturenames is not None and FIXTURE not in fixturenames:
            # First, so the bot's own fixtures already run inside the chaos.
            fixturenames.insert(0, FIXTURE)
    if chaos_tests:
        _register_test_hooks(config)


def _register_test_hooks(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(_TEST_HOOKS):
        from pytest_exchange_chaos._runtime import ChaosTestHooks

        config.pluginmanager.register(ChaosTestHooks(), _TEST_HOOKS)


@pytest.fixture
def exchange_chaos(request: pytest.FixtureRequest) -> Iterator[ChaosController]:
    """The chaos controller: simulated venues, faults on a chaos clock, journal and verdicts."""
    from pytest_exchange_chaos._runtime import chaos_session

    # A test that asks for the fixture at run time (request.getfixturevalue) was not seen at
    # collection: its budget and guard checks and its report entry still need the hooks.
    _register_test_hooks(request.config)
    yield from chaos_session(request)
