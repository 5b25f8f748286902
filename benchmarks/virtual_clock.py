"""Section 2: how much faster than real time the virtual chaos clock lives through the incident's day.

- The day (7 h 22 min with every wave of ``binance_502_day``) for a bot that places an order every
  5 minutes through real async ccxt with its rate limiter on: chaos-clock seconds per wall second.
- The naive bot of ``tests/test_incident.py`` (``IncidentBot.run_day`` with its defaults, about
  4,400 requests), under the same seed and node id as that test, so the journal is the test's.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
from harness import Result, Section, chaos_session, interleave, median, perf_counter

from pytest_exchange_chaos import profiles
from pytest_exchange_chaos._durations import parse_duration

__all__ = ["run"]

DAY = parse_duration("7h22m")
EVERY = 300.0
SPEEDUP_TARGET = 10_000.0
NAIVE_DAY_TARGET_S = 5.0
INCIDENT_SEED = 2
INCIDENT_NODEID = "tests/test_incident.py::test_the_naive_bot_loses_its_stop_losses_and_keeps_its_entries"
KEYS = {"apiKey": "test-key-0123456789", "secret": "test-secret-abcdef"}
SYMBOL = "BTC/USDT:USDT"


async def _steady_bot(day: float) -> int:
    """An order every 5 minutes, retried through the waves (5 tries, 1-2-4-8 s backoff)."""
    exchange = ccxt_async.binanceusdm(dict(KEYS))
    placed = 0
    try:
        await exchange.load_markets()
        loop = asyncio.get_running_loop()
        start = loop.time()
        cycle = 0
        while loop.time() - start < day:
            for attempt in range(5):
                try:
                    await exchange.create_order(SYMBOL, "market", "buy" if cycle % 2 == 0 else "sell", 0.01)
                    placed += 1
                    break
                except ccxt.NetworkError:
                    await asyncio.sleep(2**attempt)
            cycle += 1
            await asyncio.sleep(EVERY - (loop.time() - start) % EVERY)
    finally:
        await exchange.close()
    return placed


def _day_wall() -> tuple[float, float, int]:
    with chaos_session(*profiles.binance_502_day(), seed=INCIDENT_SEED) as chaos:
        start = perf_counter()
        asyncio.run(_steady_bot(DAY))
        wall = perf_counter() - start
        return wall, chaos.now(), len(chaos.journal)


def _incident_bot() -> Any:
    examples = str(Path(__file__).resolve().parents[1] / "examples")
    if examples not in sys.path:
        sys.path.insert(0, examples)
    import incident_bot

    # Its warnings would go to stderr (pytest would capture them): keep the table readable.
    bot_log = logging.getLogger("incident_bot")
    bot_log.addHandler(logging.NullHandler())
    bot_log.propagate = False
    return incident_bot


async def _naive_day() -> None:
    exchange = ccxt_async.binanceusdm(dict(KEYS))
    try:
        await _incident_bot().IncidentBot(exchange).run_day(hours=DAY / 3600)
    finally:
        await exchange.close()


def _naive_day_wall() -> tuple[float, int]:
    with chaos_session(*profiles.binance_502_day(), seed=INCIDENT_SEED, nodeid=INCIDENT_NODEID) as chaos:
        start = perf_counter()
        asyncio.run(_naive_day())
        wall = perf_counter() - start
        return wall, len(chaos.journal)


def run(*, rounds: int, progress: Callable[[str], None]) -> Section:
    section = Section(f"2. The virtual clock (the incident's day, {rounds} rounds)")
    days: list[tuple[float, float, int]] = []
    naive: list[tuple[float, int]] = []

    def day() -> float:
        days.append(_day_wall())
        return days[-1][0]

    def naive_day() -> float:
        naive.append(_naive_day_wall())
        return naive[-1][0]

    interleave([("day", day), ("naive", naive_day)], rounds, progress=progress)
    wall = median([d[0] for d in days])
    chaos_seconds = days[0][1]
    speedup = median([d[1] / d[0] for d in days])
    section.add(
        Result(
            "7h22m day, an order every 5 min: chaos time / wall time",
            speedup,
            "x",
            target=f">= {SPEEDUP_TARGET:,.0f}",
            met=speedup >= SPEEDUP_TARGET,
            detail=f"{chaos_seconds:,.0f} s of chaos time in {wall * 1000:.0f} ms, {days[0][2]} requests",
        )
    )
    naive_wall = median([n[0] for n in naive])
    section.add(
        Result(
            "tests/test_incident.py naive-bot day: wall time",
            naive_wall,
            "s",
            target=f"< {NAIVE_DAY_TARGET_S:g} s",
            met=naive_wall < NAIVE_DAY_TARGET_S,
            detail=f"{naive[0][1]:,} requests, {DAY / naive_wall:,.0f}x real time",
        )
    )
    return section
