"""What stands in for the plugin when ``-p no:exchange_chaos`` switches it off.

A test marked ``exchange_chaos`` or ``retry_budget``, or asking for the ``exchange_chaos``
fixture, would then run with no venue, no fault and no guard: the bot's real ccxt would reach the
real exchange and the test could pass having tested nothing. This second entry point
(``exchange_chaos_off``) is loaded with the plugin; while the plugin is on it does nothing at all.
While it is off, it registers the markers (so ``--strict-markers`` does not stop the run with a
confusing "not found") and fails each such test before any of its fixtures runs.
"""

from __future__ import annotations

from typing import NoReturn

import pytest

__all__ = ["SWITCHED_OFF"]

_PLUGIN = "exchange_chaos"
_MARKERS = ("exchange_chaos", "retry_budget")

SWITCHED_OFF = (
    "exchange-chaos is switched off (-p no:exchange_chaos), so this chaos test would run without "
    "simulated exchanges, faults or the network guard: its requests would reach the real network and "
    "it could pass having tested nothing. Switch the plugin back on (drop -p no:exchange_chaos), or "
    "deselect the chaos tests: -m 'not exchange_chaos and not retry_budget' (a test that only asks "
    "for the exchange_chaos fixture: deselect it by name with -k or --deselect); see "
    "docs/howto/clients.md#switching-the-plugin-off"
)


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.is_blocked(_PLUGIN):
        return
    for marker in _MARKERS:
        config.addinivalue_line(
            "markers", f"{marker}(...): inactive, exchange-chaos is switched off; such tests fail"
        )
    config.pluginmanager.register(_RefuseChaosTests(), "exchange_chaos_switched_off")


def _fail() -> NoReturn:
    pytest.fail(SWITCHED_OFF, pytrace=False)


class _RefuseChaosTests:
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        # Before the test's fixtures: a bot fixture that loads markets would already be online.
        marked = any(next(item.iter_markers(name), None) is not None for name in _MARKERS)
        if marked or _PLUGIN in getattr(item, "fixturenames", ()):
            _fail()

    @pytest.fixture(name=_PLUGIN)
    def exchange_chaos(self) -> None:
        # Asked for from the body (request.getfixturevalue), after setup had nothing to refuse.
        _fail()
