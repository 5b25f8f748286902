"""The same seed gives the same run: the bot's own random draws, a pinned seed whatever the
test's name, and the bot's threads on the chaos clock (see docs/howto/reproducibility.md)."""

from __future__ import annotations

import json
import random
import sys
import types
from pathlib import Path
from typing import Any

import ccxt
import ccxt.async_support  # noqa: F401
import pytest

from pytest_exchange_chaos.session import chaos_session

# ccxt imported here, before the in-process runs below: pytester drops the modules first imported
# inside a run, and importing ccxt and aiohttp afresh run after run crashed CPython 3.13.0's
# garbage collector.

# A bot whose retries sleep a random jitter, as most do: the journal's times follow its draws.
JITTER_BOT = """
import asyncio, json, os, random
import ccxt.async_support as ccxt_async
import pytest
from pytest_exchange_chaos import Wave, faults

STATE_BEFORE = []

def test_before():
    STATE_BEFORE.append(random.getstate())

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave(0, "1h", faults.bad_gateway(), rate=0.5))
async def test_jittery_bot(exchange_chaos):
    exchange = ccxt_async.binanceusdm({"apiKey": "k" * 16, "secret": "s" * 16})
    jitters = []
    try:
        for _ in range(12):
            try:
                await exchange.fetch_ticker("BTC/USDT:USDT")
            except ccxt_async.NetworkError:
                jitters.append(random.uniform(0.5, 3.0))
                await asyncio.sleep(jitters[-1])
    finally:
        await exchange.close()
    journal = [[round(r.t, 9), r.path, r.fault] for r in exchange_chaos.journal]
    with open(os.environ["JOURNAL_OUT"], "w") as out:
        json.dump({"journal": journal, "jitters": jitters}, out)

def test_after():
    # The chaos test drew from its own seeded stream and gave the module its state back.
    assert random.getstate() == STATE_BEFORE[0]
"""


def _run_for_journal(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    out = pytester.path / "journal.json"
    monkeypatch.setenv("JOURNAL_OUT", str(out))
    pytester.runpytest(*args).assert_outcomes(passed=3)
    return json.loads(out.read_text())


def test_a_bots_random_jitter_repeats_with_the_seed(
    chaos_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    chaos_pytester.makepyfile(test_bot=JITTER_BOT)
    first = _run_for_journal(chaos_pytester, monkeypatch, "--chaos-seed=5", "-p", "no:randomly")
    again = _run_for_journal(chaos_pytester, monkeypatch, "--chaos-seed=5", "-p", "no:randomly")
    other = _run_for_journal(chaos_pytester, monkeypatch, "--chaos-seed=6", "-p", "no:randomly")
    assert first["jitters"], "the wave failed nothing: the test would prove nothing"
    assert first == again
    assert first["jitters"] != other["jitters"]
    assert first["journal"] != other["journal"]


PINNED = """
import ccxt
import pytest
from pytest_exchange_chaos import Wave, faults

RUNS = {}

def _faults(exchange_chaos):
    exchange = ccxt.binanceusdm({"apiKey": "k" * 16, "secret": "s" * 16})
    for _ in range(24):
        try:
            exchange.fetch_ticker("BTC/USDT:USDT")
        except ccxt.NetworkError:
            pass
    return [r.fault for r in exchange_chaos.journal]

@pytest.mark.exchange_chaos(Wave(0, "1h", faults.bad_gateway(), rate=0.5){seed})
def test_the_tutorials_test(exchange_chaos):
    RUNS["tutorial"] = _faults(exchange_chaos)

@pytest.mark.exchange_chaos(Wave(0, "1h", faults.bad_gateway(), rate=0.5){seed})
def test_my_copy_of_it_under_another_name(exchange_chaos):
    RUNS["copy"] = _faults(exchange_chaos)

def test_compare():
    assert None in RUNS["tutorial"] and "bad_gateway" in RUNS["tutorial"]
    assert (RUNS["tutorial"] == RUNS["copy"]) is {same}
"""


def test_a_pinned_seed_draws_the_same_faults_whatever_the_tests_name(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(PINNED.replace("{seed}", ", seed=2").replace("{same}", "True"))
    chaos_pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)


def test_the_runs_seed_still_mixes_in_the_tests_name(chaos_pytester: pytest.Pytester) -> None:
    # From --chaos-seed, two tests must not draw alike, or one test's faults would shadow another's.
    chaos_pytester.makepyfile(PINNED.replace("{seed}", "").replace("{same}", "False"))
    chaos_pytester.runpytest("--chaos-seed=2", "-p", "no:randomly").assert_outcomes(passed=3)


def test_numpy_random_is_seeded_and_restored_when_the_bot_imported_numpy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # numpy is no dependency: a stand-in with numpy.random's legacy API shows the plugin calls it,
    # and the real one is checked below when installed.
    calls: list[tuple[str, Any]] = []
    fake_random = types.SimpleNamespace(
        get_state=lambda: "state before",
        seed=lambda seed: calls.append(("seed", seed)),
        set_state=lambda state: calls.append(("set_state", state)),
    )
    monkeypatch.setitem(sys.modules, "numpy", types.SimpleNamespace(random=fake_random))
    with chaos_session(seed=7, pinned_seed=True):
        assert len(calls) == 1 and calls[0][0] == "seed" and 0 <= calls[0][1] < 2**32
    assert calls[-1] == ("set_state", "state before")
    seeded_with = calls[0][1]
    with chaos_session(seed=7, name="another test", pinned_seed=True):
        pass
    assert calls[2] == ("seed", seeded_with)


def test_real_numpy_repeats_and_is_restored() -> None:
    numpy = pytest.importorskip("numpy")
    numpy.random.seed(1)
    expected_after = numpy.random.get_state()[1].copy()
    with chaos_session(seed=7):
        first = numpy.random.random()
    with chaos_session(seed=7):
        assert numpy.random.random() == first
    assert (numpy.random.get_state()[1] == expected_after).all()


def test_the_global_random_is_seeded_in_a_script_too() -> None:
    random.seed(123)
    state = random.getstate()
    with chaos_session(seed=7, name="script"):
        first = random.random()
    with chaos_session(seed=7, name="script"):
        assert random.random() == first
    with chaos_session(seed=8, name="script"):
        assert random.random() != first
    assert random.getstate() == state


THREADS = """
import asyncio, threading, time
import pytest

@pytest.mark.exchange_chaos(expect_requests=False)
def test_a_thread_waits_for_a_wall_clock_deadline(exchange_chaos):
    seen = {}

    def poll_until_deadline():
        start, start_monotonic = time.time(), time.monotonic()
        deadline = start + 60
        while time.time() < deadline:
            time.sleep(0.5)
        seen["wall"] = time.time() - start
        seen["monotonic"] = time.monotonic() - start_monotonic

    real_start = time.perf_counter()
    worker = threading.Thread(target=poll_until_deadline)
    worker.start()
    worker.join(timeout=120)  # on the chaos clock too
    assert not worker.is_alive(), "the thread's time.time() never reached its deadline"
    assert time.perf_counter() - real_start < 5
    assert seen["wall"] == pytest.approx(60, abs=0.01)
    assert seen["monotonic"] == pytest.approx(seen["wall"], abs=1e-6)
    assert exchange_chaos.now() == pytest.approx(60, abs=0.01)

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(expect_requests=False)
async def test_to_thread_work_is_never_cut_short_by_a_jump(exchange_chaos):
    def real_work():
        start = time.perf_counter()
        while time.perf_counter() - start < 0.2:
            pass
        return "done"

    assert await asyncio.wait_for(asyncio.to_thread(real_work), 30) == "done"
    assert exchange_chaos.now() < 1

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(expect_requests=False)
async def test_a_thread_pool_sleeps_on_the_chaos_clock(exchange_chaos):
    woke = []

    def nap(seconds):
        time.sleep(seconds)
        woke.append((seconds, round(exchange_chaos.now(), 6)))

    loop = asyncio.get_running_loop()
    await asyncio.gather(*(asyncio.to_thread(nap, s) for s in (30, 10, 20)))
    # Concurrent sleeps overlap, as in real threads: 30 s in all, woken in order.
    assert woke == [(10, 10.0), (20, 20.0), (30, 30.0)]
    await asyncio.sleep(5)
    assert exchange_chaos.now() == pytest.approx(35)

@pytest.mark.exchange_chaos(expect_requests=False)
def test_as_completed_hands_out_the_jobs_in_chaos_time(exchange_chaos):
    from concurrent.futures import ThreadPoolExecutor, as_completed, wait

    def nap(seconds):
        time.sleep(seconds)
        return seconds

    real_start = time.perf_counter()
    with ThreadPoolExecutor(3) as pool:
        order = [f.result() for f in as_completed([pool.submit(nap, s) for s in (300, 100, 200)])]
        done, _ = wait([pool.submit(nap, 50)])
    assert order == [100, 200, 300] and [f.result() for f in done] == [50]
    assert exchange_chaos.now() == pytest.approx(350)
    # The test's thread waiting in as_completed() hands the jobs the turn at once.
    assert time.perf_counter() - real_start < 0.5

@pytest.mark.exchange_chaos(expect_requests=False)
def test_a_thread_runs_its_own_event_loop_on_the_chaos_clock(exchange_chaos):
    seen = []

    def run_loop():
        async def heartbeat():
            await asyncio.sleep(120)
            seen.append(("thread", round(exchange_chaos.now(), 6)))

        asyncio.run(heartbeat())

    worker = threading.Thread(target=run_loop)
    worker.start()
    time.sleep(60)  # the test's own sleep takes its turn between the thread's
    seen.append(("test", round(exchange_chaos.now(), 6)))
    worker.join()
    assert seen == [("test", 60.0), ("thread", 120.0)]

@pytest.mark.exchange_chaos(expect_requests=False)
def test_a_job_cancelled_before_it_ran_takes_no_turn(exchange_chaos):
    from concurrent.futures import ThreadPoolExecutor

    real_start = time.perf_counter()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(time.sleep, 10)
        queued = pool.submit(time.sleep, 99)
        assert queued.cancel()
        running.result()
    assert exchange_chaos.now() == pytest.approx(10)
    assert time.perf_counter() - real_start < 0.5

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(expect_requests=False)
async def test_a_thread_blocked_outside_the_clock_lets_time_run_at_real_speed(exchange_chaos):
    import queue

    jobs = queue.Queue()
    taken = asyncio.ensure_future(asyncio.to_thread(jobs.get))
    real_start = time.perf_counter()
    # The thread blocks on the queue, not on the chaos clock: after a second's patience the loop
    # lets the chaos clock run at real speed, so this sleep ends instead of waiting forever.
    await asyncio.sleep(0.3)
    jobs.put("order")
    assert await taken == "order"
    assert 0.29 <= exchange_chaos.now() < 30
    assert time.perf_counter() - real_start < 10

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(expect_requests=False)
async def test_a_service_thread_blocked_for_good_leaves_the_turns(exchange_chaos):
    import queue, threading

    # As pycares does under aiodns: a daemon thread waiting forever on a C queue. After a
    # second's patience it leaves the turns and the clock jumps again: an hour takes no time.
    forever = queue.SimpleQueue()
    threading.Thread(target=forever.get, daemon=True).start()
    real_start = time.perf_counter()
    for _ in range(60):
        await asyncio.sleep(60)
    assert exchange_chaos.now() == pytest.approx(3600, abs=1)
    assert time.perf_counter() - real_start < 5
"""


def test_threads_live_on_the_chaos_clock(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(THREADS)
    chaos_pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=8)


FOUR_THREADS = """
import json, os, random, time
from concurrent.futures import ThreadPoolExecutor
import ccxt
import pytest
from pytest_exchange_chaos import Wave, faults

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "XRP/USDT:USDT", "DOGE/USDT:USDT"]

@pytest.mark.exchange_chaos(Wave(0, "1h", faults.bad_gateway(), rate=0.3))
def test_four_threads(exchange_chaos):
    exchange = ccxt.binanceusdm({"apiKey": "k" * 16, "secret": "s" * 16})
    exchange.load_markets()

    def watch(symbol):
        for _ in range(4):
            try:
                exchange.fetch_ticker(symbol)
            except ccxt.NetworkError:
                time.sleep(random.uniform(0.1, 0.5))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(watch, SYMBOLS))
    journal = [[round(r.t, 9), r.symbol, r.fault] for r in exchange_chaos.journal]
    with open(os.environ["JOURNAL_OUT"], "a") as out:
        out.write(json.dumps(journal) + "\\n")
"""


def test_sync_ccxt_in_four_threads_journals_in_the_same_order(
    chaos_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    chaos_pytester.makepyfile(FOUR_THREADS)
    out = chaos_pytester.path / "journals.jsonl"
    monkeypatch.setenv("JOURNAL_OUT", str(out))
    for _ in range(3):
        chaos_pytester.runpytest("--chaos-seed=11", "-p", "no:randomly").assert_outcomes(passed=1)
    runs = [json.loads(line) for line in out.read_text().splitlines()]
    symbols = {entry[1] for entry in runs[0]}
    assert len(symbols) >= 4 and any(entry[2] for entry in runs[0])
    assert runs[0] == runs[1] == runs[2]


MODULE_LOOP = """
import asyncio, time
import pytest

@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.exchange_chaos(expect_requests=False)
async def test_chaos_leaves_a_timer_behind(exchange_chaos):
    loop = asyncio.get_running_loop()
    # Due 0.2 s after the test ends: it outlives the test, on the chaos clock's far-ahead base.
    loop.call_later(3600.2, FIRED.append, "left behind")
    await asyncio.sleep(3600)
    assert FIRED == []

FIRED = []

@pytest.mark.asyncio(loop_scope="module")
async def test_the_next_test_in_the_same_loop():
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    await asyncio.wait_for(asyncio.sleep(0.05), 5)
    assert time.perf_counter() - start < 2
    # The timer set on the chaos clock fires on real time after it, not 24 days later.
    deadline = loop.time() + 3
    while not FIRED and loop.time() < deadline:
        await asyncio.sleep(0.05)
    assert FIRED == ["left behind"]
    assert all(t.when() < loop.time() + 60 for t in loop._scheduled)
"""


def test_a_module_scoped_loop_keeps_no_timer_in_the_chaos_future(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(MODULE_LOOP)
    chaos_pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_the_documented_promises_exist() -> None:
    page = Path(__file__).resolve().parents[1] / "docs" / "howto" / "reproducibility.md"
    text = page.read_text()
    for promise in ("random", "numpy", "thread", "process", "SystemRandom", "PYTHONHASHSEED"):
        assert promise in text, promise


ROOTDIR_BOT = """
import json, os
import ccxt
import pytest
from pytest_exchange_chaos import Wave, faults

def _record(name, exchange_chaos):
    exchange = ccxt.binanceusdm({"apiKey": "k" * 16, "secret": "s" * 16})
    for _ in range(24):
        try:
            exchange.fetch_ticker("BTC/USDT:USDT")
        except ccxt.NetworkError:
            pass
    with open(os.environ["FAULTS_OUT"] + "." + name, "w") as out:
        json.dump([r.fault for r in exchange_chaos.journal], out)

@pytest.mark.exchange_chaos(Wave(0, "1h", faults.bad_gateway(), rate=0.5))
def test_seeded_from_the_run(exchange_chaos):
    _record("run", exchange_chaos)

@pytest.mark.exchange_chaos(Wave(0, "1h", faults.bad_gateway(), rate=0.5), seed=2)
def test_seeded_on_the_marker(exchange_chaos):
    _record("marker", exchange_chaos)
"""


def test_the_runs_seed_depends_on_the_rootdir_and_a_pinned_seed_does_not(
    chaos_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As docs/howto/reproducibility.md says: the node id is relative to the rootdir, which pytest
    # takes from where it runs when there is no ini file.
    (chaos_pytester.path / "tests").mkdir()
    (chaos_pytester.path / "tests" / "test_bot.py").write_text(ROOTDIR_BOT)
    runs = []
    for rootdir in (chaos_pytester.path, chaos_pytester.path / "tests"):
        out = chaos_pytester.path / f"faults-{len(runs)}"
        monkeypatch.setenv("FAULTS_OUT", str(out))
        args = ("--chaos-seed=2", f"--rootdir={rootdir}", "-p", "no:randomly", "tests/test_bot.py")
        chaos_pytester.runpytest(*args).assert_outcomes(passed=2)
        runs.append({name: json.loads(Path(f"{out}.{name}").read_text()) for name in ("run", "marker")})
    assert "bad_gateway" in runs[0]["run"] and None in runs[0]["run"]
    assert runs[0]["run"] != runs[1]["run"]
    assert runs[0]["marker"] == runs[1]["marker"]
