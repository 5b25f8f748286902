"""Section 4: the memory a long chaos test holds, and that it grows linearly with the requests.

One chaos test sends ``n`` create_order calls through real async ccxt (aiohttp), alternating
buy and sell, under tracemalloc. At each quarter it records what stays allocated (after a
collection) and the journal's own deep size; a least-squares line through those points gives
the bytes each request keeps, and its fit says whether growth is linear (a per-request cost
that grew with the journal would bend the line).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tracemalloc
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import ccxt.async_support as ccxt_async
from harness import Result, Section, chaos_session, perf_counter

__all__ = ["run"]

SYMBOL = "BTC/USDT:USDT"
KEYS: dict[str, Any] = {"apiKey": "bench-key-0123456789", "secret": "bench-secret-abcdef"}
LINEAR_R2_TARGET = 0.99
GROWTH_TARGET = 1.25
GROWTH_RUNS = 3


@dataclass
class Fit:
    slope: float
    intercept: float
    r2: float


def linear_fit(points: list[tuple[float, float]]) -> Fit:
    count = len(points)
    mean_x = sum(x for x, _ in points) / count
    mean_y = sum(y for _, y in points) / count
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    total = sum((y - mean_y) ** 2 for _, y in points)
    residual = sum((y - (intercept + slope * x)) ** 2 for x, y in points)
    return Fit(slope, intercept, 1 - residual / total if total else 1.0)


def deep_size(roots: Iterable[Any]) -> int:
    """Bytes of the objects reachable from ``roots`` through containers and instance attributes."""
    seen: set[int] = set()
    stack = list(roots)
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        else:
            if hasattr(obj, "__dict__"):
                stack.append(vars(obj))
            for name in getattr(type(obj), "__slots__", ()):
                if hasattr(obj, name):
                    stack.append(getattr(obj, name))
    return total


@dataclass
class Checkpoint:
    requests: int
    retained: int
    journal: int


async def _orders(n: int, checkpoints: list[int], journal: Callable[[], list[Any]]) -> list[Checkpoint]:
    exchange = ccxt_async.binanceusdm({**KEYS, "enableRateLimit": False})
    seen: list[Checkpoint] = []
    try:
        await exchange.load_markets()
        await exchange.create_order(SYMBOL, "market", "buy", 0.01)
        await exchange.create_order(SYMBOL, "market", "sell", 0.01)
        gc.collect()
        base_requests = len(journal())
        base = tracemalloc.get_traced_memory()[0]
        base_journal = deep_size(journal())
        for index in range(1, n + 1):
            await exchange.create_order(SYMBOL, "market", "buy" if index % 2 else "sell", 0.01)
            if index in checkpoints:
                gc.collect()
                records = journal()
                seen.append(
                    Checkpoint(
                        len(records) - base_requests,
                        tracemalloc.get_traced_memory()[0] - base,
                        deep_size(records) - base_journal,
                    )
                )
    finally:
        await exchange.close()
    return seen


async def _block_times(n: int, block: int) -> list[float]:
    exchange = ccxt_async.binanceusdm({**KEYS, "enableRateLimit": False})
    times: list[float] = []
    try:
        await exchange.load_markets()
        for first in range(0, n, block):
            start = perf_counter()
            for index in range(first, first + block):
                await exchange.create_order(SYMBOL, "market", "buy" if index % 2 == 0 else "sell", 0.01)
            times.append((perf_counter() - start) / block)
    finally:
        await exchange.close()
    return times


def time_growth(n: int, block: int = 500) -> tuple[float, float]:
    """Seconds per request over the first and the last quarter of an ``n``-request test (the
    fastest ``block``-request block of each, no tracemalloc): equal when nothing scans the test's
    history. The fastest, because the machine's noise only ever adds time, and a real growth
    slows every block of the last quarter, the fastest included."""
    with chaos_session():
        times = asyncio.run(_block_times(n, block))
    quarter = max(1, len(times) // 4)
    return min(times[:quarter]), min(times[-quarter:])


def measure(n: int) -> tuple[int, list[Checkpoint]]:
    checkpoints = [n // 4, n // 2, 3 * n // 4, n]
    gc.collect()
    tracemalloc.start()
    try:
        with chaos_session() as chaos:
            # The engine's own list, not the controller's copy: the copy would count twice.
            seen = asyncio.run(_orders(n, checkpoints, lambda: chaos._engine.journal))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, seen


def run(*, n: int, progress: Callable[[str], None]) -> Section:
    section = Section(f"4. Memory ({n:,}-request chaos test under tracemalloc)")
    progress("measuring")
    peak, seen = measure(n)
    section.add(Result(f"peak traced memory of the {n:,}-request test", peak / 2**20, "MiB"))
    retained = linear_fit([(c.requests, c.retained) for c in seen])
    journal = linear_fit([(c.requests, c.journal) for c in seen])
    points = ", ".join(f"{c.requests:,}: {c.retained / 2**20:.1f} MiB" for c in seen)
    section.add(
        Result(
            "retained per request (journal + exchange book), linear fit slope",
            retained.slope,
            "B",
            target=f"linear (R² >= {LINEAR_R2_TARGET})",
            met=retained.r2 >= LINEAR_R2_TARGET,
            detail=f"R² {retained.r2:.5f}; {points}",
        )
    )
    section.add(
        Result(
            "journal per request, linear fit slope",
            journal.slope,
            "B",
            target=f"linear (R² >= {LINEAR_R2_TARGET})",
            met=journal.r2 >= LINEAR_R2_TARGET,
            detail=f"R² {journal.r2:.5f}; intercept {journal.intercept:,.0f} B; "
            + ", ".join(f"{c.requests:,}: {c.journal / c.requests:,.0f} B/request" for c in seen),
        )
    )
    progress("timing the first and last quarter")
    runs = sorted((time_growth(n) for _ in range(GROWTH_RUNS)), key=lambda run: run[1] / run[0])
    early, late = runs[len(runs) // 2]
    growth = late / early
    section.add(
        Result(
            "time per request, last quarter / first quarter of the test",
            growth,
            "x",
            target=f"<= {GROWTH_TARGET}",
            met=growth <= GROWTH_TARGET,
            detail=f"median of {GROWTH_RUNS} tests: {early * 1e6:.0f} µs then {late * 1e6:.0f} µs per "
            f"create_order (no tracemalloc); all: {', '.join(f'{b / a:.3f}' for a, b in runs)}",
        )
    )
    return section
