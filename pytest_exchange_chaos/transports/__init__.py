"""Transports: capture a client's request for the engine, then answer it as that client would.

Each transport imports its client lazily, so the plugin loads in a suite that has only one of
them installed.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pytest_exchange_chaos.engine import ChaosEngine

__all__ = ["Transport", "available_transports", "start_transports"]


class Transport(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


# client name -> (modules that must be importable, module holding the transport class)
_TRANSPORTS: dict[str, tuple[tuple[str, ...], str]] = {
    "aiohttp": (("aiohttp", "aioresponses"), "pytest_exchange_chaos.transports.aiohttp"),
    "requests": (("requests", "responses"), "pytest_exchange_chaos.transports.requests"),
    "httpx": (("httpx", "respx"), "pytest_exchange_chaos.transports.httpx"),
}


def available_transports() -> list[str]:
    return [
        name
        for name, (needs, _) in _TRANSPORTS.items()
        if all(importlib.util.find_spec(module) is not None for module in needs)
    ]


def start_transports(engine: ChaosEngine) -> Callable[[], None]:
    """Start every available transport; returns the function that stops them all."""
    started: list[Transport] = []

    def stop_all() -> None:
        while started:
            started.pop().stop()

    try:
        for name in available_transports():
            module = importlib.import_module(_TRANSPORTS[name][1])
            transport: Transport = module.make_transport(engine)
            transport.start()
            started.append(transport)
    except BaseException:
        stop_all()
        raise
    return stop_all
