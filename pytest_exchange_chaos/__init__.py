"""pytest-exchange-chaos: live through an exchange's bad day inside your bot's test suite.

The public face; everything a test needs is importable from here. The names load on first
use: pytest imports this package for every run, including the many that never use chaos.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_exchange_chaos import faults, profiles
    from pytest_exchange_chaos.budget import Budget
    from pytest_exchange_chaos.controller import ChaosController
    from pytest_exchange_chaos.errors import UnservedRequestError
    from pytest_exchange_chaos.journal import JournalRecord, Operation
    from pytest_exchange_chaos.logreplay import waves_from_log
    from pytest_exchange_chaos.naked_time import UnprotectedInterval
    from pytest_exchange_chaos.ratelimits import BinanceRateLimits
    from pytest_exchange_chaos.schedule import Burst, Wave
    from pytest_exchange_chaos.venues.base import InstrumentView

__version__ = "0.1.0"

__all__ = [
    "BinanceRateLimits",
    "Budget",
    "Burst",
    "ChaosController",
    "InstrumentView",
    "JournalRecord",
    "Operation",
    "UnprotectedInterval",
    "UnservedRequestError",
    "Wave",
    "__version__",
    "faults",
    "profiles",
    "waves_from_log",
]

# public name -> (module, attribute in it; None for the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "BinanceRateLimits": ("pytest_exchange_chaos.ratelimits", "BinanceRateLimits"),
    "Budget": ("pytest_exchange_chaos.budget", "Budget"),
    "Burst": ("pytest_exchange_chaos.schedule", "Burst"),
    "ChaosController": ("pytest_exchange_chaos.controller", "ChaosController"),
    "InstrumentView": ("pytest_exchange_chaos.venues.base", "InstrumentView"),
    "JournalRecord": ("pytest_exchange_chaos.journal", "JournalRecord"),
    "Operation": ("pytest_exchange_chaos.journal", "Operation"),
    "UnprotectedInterval": ("pytest_exchange_chaos.naked_time", "UnprotectedInterval"),
    "UnservedRequestError": ("pytest_exchange_chaos.errors", "UnservedRequestError"),
    "Wave": ("pytest_exchange_chaos.schedule", "Wave"),
    "faults": ("pytest_exchange_chaos.faults", None),
    "profiles": ("pytest_exchange_chaos.profiles", None),
    "waves_from_log": ("pytest_exchange_chaos.logreplay", "waves_from_log"),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'pytest_exchange_chaos' has no attribute {name!r}") from None
    # Not cached here: whoever re-imports a submodule (pytester restores sys.modules after each
    # in-process run) must get the same class the rest of the plugin now uses.
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)


def __dir__() -> list[str]:
    return sorted(__all__)
