"""The keys under which the plugin keeps its state in ``config.stash`` and ``item.stash``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_exchange_chaos._markers import ChaosSettings
    from pytest_exchange_chaos.controller import ChaosController

__all__ = ["CONTROLLER_KEY", "ENTRIES_KEY", "SEED_KEY", "SETTINGS_KEY"]

SEED_KEY: pytest.StashKey[int] = pytest.StashKey()
SETTINGS_KEY: pytest.StashKey[ChaosSettings] = pytest.StashKey()
CONTROLLER_KEY: pytest.StashKey[ChaosController] = pytest.StashKey()
ENTRIES_KEY: pytest.StashKey[list[dict[str, Any]]] = pytest.StashKey()
