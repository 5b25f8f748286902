"""What every benchmark shares: a chaos session like the fixture's, interleaved rounds and results.

``chaos_session`` builds exactly what the ``exchange_chaos`` fixture builds for a test (the same
venues, seeds, engine, clock and transports, in the same order) without a pytest run around it:
per request, the code that runs is the plugin's, and the fixture's per-test setup is not what
these numbers are about.
"""

from __future__ import annotations

import contextlib
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pytest_exchange_chaos import session
from pytest_exchange_chaos.clock import ClockMode
from pytest_exchange_chaos.controller import ChaosController
from pytest_exchange_chaos.schedule import Schedule

__all__ = [
    "Result",
    "Section",
    "chaos_session",
    "interleave",
    "perf_counter",
]

# Captured before any chaos clock is installed: benchmarks always measure real time.
perf_counter = time.perf_counter

DEFAULT_NODEID = "benchmarks/run.py::bench"


def chaos_session(
    *schedules: Schedule,
    seed: int = 1,
    nodeid: str = DEFAULT_NODEID,
    clock_mode: ClockMode = "virtual",
) -> contextlib.AbstractContextManager[ChaosController]:
    """The ``exchange_chaos`` fixture's session, outside pytest."""
    return session.chaos_session(schedules, seed=seed, name=nodeid, clock=clock_mode)


def interleave(
    sides: Sequence[tuple[str, Callable[[], float]]], rounds: int, *, progress: Callable[[str], None]
) -> dict[str, list[float]]:
    """Run every side once per round, A B C, then B C A, ...: the machine's drift (other jobs,
    frequency changes) lands on every side alike. Each side returns the seconds it measured."""
    samples: dict[str, list[float]] = {name: [] for name, _ in sides}
    for number in range(rounds):
        shift = number % len(sides)
        for name, run in [*sides[shift:], *sides[:shift]]:
            # A full collection walks every object the process holds (ccxt's markets alone are
            # some 100,000): about 100 ms here, landing on whichever side happens to cross the
            # threshold, often for garbage the other side left. Each side starts clean and pays
            # for the collections its own run causes.
            gc.collect()
            samples[name].append(run())
        progress(f"round {number + 1}/{rounds}")
    return samples


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """The median of the per-round ratios: each pair ran side by side, under the same load."""
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))


@dataclass
class Result:
    """One line of the table."""

    name: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None
    """None when the line is informational."""
    detail: str = ""

    def formatted_value(self) -> str:
        if self.unit == "x":
            return f"{self.value:,.3f}" if self.value < 100 else f"{self.value:,.0f}"
        if self.unit in ("µs", "ms", "s"):
            return f"{self.value:,.1f} {self.unit}" if self.value >= 10 else f"{self.value:.3f} {self.unit}"
        if self.unit == "%":
            return f"{self.value:+.1f} %"
        if self.unit == "B":
            return f"{self.value:,.0f} B"
        if self.unit == "MiB":
            return f"{self.value:,.1f} MiB"
        return f"{self.value:,.4g} {self.unit}".strip()


@dataclass
class Section:
    title: str
    results: list[Result] = field(default_factory=list)

    def add(self, result: Result) -> Result:
        self.results.append(result)
        return result


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
