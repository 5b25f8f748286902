"""pytest-exchange-chaos: live through an exchange's bad day inside your bot's test suite.

The public face; everything a test needs is importable from here.
"""

from __future__ import annotations

from pytest_exchange_chaos import faults, profiles
from pytest_exchange_chaos.budget import Budget
from pytest_exchange_chaos.controller import ChaosController
from pytest_exchange_chaos.errors import UnservedRequestError
from pytest_exchange_chaos.journal import JournalRecord, Operation
from pytest_exchange_chaos.logreplay import waves_from_log
from pytest_exchange_chaos.schedule import Burst, Wave

__version__ = "0.1.0"

__all__ = [
    "Budget",
    "Burst",
    "ChaosController",
    "JournalRecord",
    "Operation",
    "UnservedRequestError",
    "Wave",
    "__version__",
    "faults",
    "profiles",
    "waves_from_log",
]
