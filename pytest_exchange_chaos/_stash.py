"""The keys under which the plugin keeps its state in ``config.stash`` and ``item.stash``."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_exchange_chaos._markers import ChaosSettings
from pytest_exchange_chaos.controller import ChaosController

__all__ = ["CONTROLLER_KEY", "ENTRIES_KEY", "SEED_KEY", "SETTINGS_KEY"]

SEED_KEY = pytest.StashKey[int]()
SETTINGS_KEY = pytest.StashKey[ChaosSettings]()
CONTROLLER_KEY = pytest.StashKey[ChaosController]()
ENTRIES_KEY = pytest.StashKey[list[dict[str, Any]]]()
