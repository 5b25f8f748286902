"""Under pytest-xdist every worker uses the session's seed, and the report holds every test."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("xdist")

TOY = (Path(__file__).parent / "plugins" / "toy_exchange.py").read_text()

# Several chaos tests whose faults depend on the seed: a half-rate wave over 30 polls each.
CHAOS_TESTS = """
import asyncio
import aiohttp
import httpx
import pytest
import requests
from pytest_exchange_chaos import Wave, faults

WAVE = Wave(0, 3600, faults.bad_gateway(), rate=0.5, endpoint="GET /ticker")


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(WAVE)
async def test_aiohttp_poller(exchange_chaos):
    async with aiohttp.ClientSession() as session:
        for _ in range(30):
            async with session.get("https://api.toyx.test/ticker") as response:
                await response.read()
            await asyncio.sleep(30)


@pytest.mark.exchange_chaos(WAVE)
def test_requests_poller(exchange_chaos):
    for _ in range(30):
        requests.get("https://api.toyx.test/ticker", timeout=5)
        exchange_chaos_sleep(45)


@pytest.mark.exchange_chaos(WAVE)
def test_httpx_poller(exchange_chaos):
    with httpx.Client(timeout=5) as client:
        for _ in range(30):
            client.get("https://api.toyx.test/ticker")
            exchange_chaos_sleep(60)


@pytest.mark.parametrize("n", range(3))
@pytest.mark.exchange_chaos(WAVE)
def test_many(exchange_chaos, n):
    for _ in range(10 + n):
        requests.post("https://api.toyx.test/order", data={"side": "buy", "qty": str(n + 1)}, timeout=5)
        requests.get("https://api.toyx.test/ticker", timeout=5)


def exchange_chaos_sleep(seconds):
    import time
    time.sleep(seconds)
"""

SEED_LINE = re.compile(r"exchange-chaos: seed=(\d+) ")


def run(pytester: pytest.Pytester, *args: str) -> tuple[int, dict[str, Any]]:
    report = f"report-{len(list(pytester.path.glob('report-*.json')))}.json"
    result = pytester.runpytest_subprocess(
        *args, f"--chaos-report={report}", "--chaos-report-detail=full", "-p", "no:randomly"
    )
    result.assert_outcomes(passed=6)
    match = SEED_LINE.search(result.stdout.str())
    assert match is not None, result.stdout.str()
    return int(match.group(1)), json.loads((pytester.path / report).read_text())


def journals(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {entry["nodeid"]: entry["journal"] for entry in document["tests"]}


@pytest.fixture
def suite(chaos_pytester: pytest.Pytester) -> pytest.Pytester:
    chaos_pytester.makeconftest(TOY)
    chaos_pytester.makepyfile(test_bots=CHAOS_TESTS)
    return chaos_pytester


def test_workers_repeat_a_serial_run_with_the_same_seed(suite: pytest.Pytester) -> None:
    serial_seed, serial = run(suite, "--chaos-seed=7")
    parallel_seed, parallel = run(suite, "--chaos-seed=7", "-n", "2")
    assert serial_seed == parallel_seed == serial["seed"] == parallel["seed"] == 7
    assert sorted(journals(parallel)) == sorted(journals(serial))
    assert len(parallel["tests"]) == 6
    assert journals(parallel) == journals(serial)
    # The wave really drew from the seed: some polls failed, some went through.
    statuses = {r["status"] for journal in journals(parallel).values() for r in journal}
    assert {200, 502} <= statuses


def test_workers_use_the_controllers_fresh_seed(suite: pytest.Pytester) -> None:
    seed, parallel = run(suite, "-n", "2")
    assert parallel["seed"] == seed
    assert {entry["seed"] for entry in parallel["tests"]} == {seed}
    _, serial = run(suite, f"--chaos-seed={seed}")
    assert journals(parallel) == journals(serial)
