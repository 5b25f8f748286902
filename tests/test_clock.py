"""The chaos clock: hours of waiting in no wall time, one time line for every clock a bot reads."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import backoff
import pytest
import tenacity


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(expect_requests=False)
async def test_asyncio_sleep_jumps_and_every_clock_agrees(exchange_chaos) -> None:  # type: ignore[no-untyped-def]
    t0, m0, d0 = time.time(), time.monotonic(), dt.datetime.now()
    loop_t0 = asyncio.get_running_loop().time()
    await asyncio.sleep(4 * 3600 + 36 * 60)
    assert exchange_chaos.now() == pytest.approx(16560, abs=0.01)
    assert time.time() - t0 == pytest.approx(16560, abs=0.01)
    assert time.monotonic() - m0 == pytest.approx(16560, abs=0.01)
    assert asyncio.get_running_loop().time() - loop_t0 == pytest.approx(16560, abs=0.01)
    assert (dt.datetime.now() - d0).total_seconds() == pytest.approx(16560, abs=0.01)
    assert time.time_ns() // 1_000_000_000 == int(time.time())


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(expect_requests=False)
async def test_concurrent_sleepers_wake_in_order(exchange_chaos) -> None:  # type: ignore[no-untyped-def]
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        woke.append((name, round(exchange_chaos.now(), 3)))

    await asyncio.gather(sleeper("c", 90), sleeper("a", 1), sleeper("b", 30.5))
    assert woke == [("a", 1.0), ("b", 30.5), ("c", 90.0)]


@pytest.mark.exchange_chaos(expect_requests=False)
def test_time_sleep_in_sync_code_jumps(exchange_chaos) -> None:  # type: ignore[no-untyped-def]
    start = time.time()
    time.sleep(7200)
    assert time.time() - start == pytest.approx(7200)
    assert exchange_chaos.now() == pytest.approx(7200)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(expect_requests=False)
async def test_tenacity_sleeps_and_measures_on_the_chaos_clock(exchange_chaos) -> None:  # type: ignore[no-untyped-def]
    attempts = 0

    @tenacity.retry(
        wait=tenacity.wait_exponential(multiplier=1, max=600),
        stop=tenacity.stop_after_delay(3600),
        retry=tenacity.retry_if_exception_type(ConnectionError),
        reraise=True,
    )
    async def flaky() -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError

    with pytest.raises(ConnectionError):
        await flaky()
    # 1+2+4+...+512 = 1023 s, then 600 s steps until an hour has passed on the chaos clock.
    assert 14 <= attempts <= 16
    assert 3600 <= exchange_chaos.now() < 3600 + 600


@pytest.mark.exchange_chaos(expect_requests=False)
def test_backoff_measures_with_datetime_on_the_chaos_clock(exchange_chaos) -> None:  # type: ignore[no-untyped-def]
    attempts = 0

    @backoff.on_exception(backoff.constant, ConnectionError, interval=60, max_time=600, jitter=None)
    def flaky() -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError

    with pytest.raises(ConnectionError):
        flaky()
    assert attempts == 11  # tries at 0, 60, ..., 600 s: max_time reached exactly
    assert exchange_chaos.now() == pytest.approx(600)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(clock="real", expect_requests=False)
async def test_the_real_clock_is_left_alone(exchange_chaos) -> None:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    await asyncio.sleep(0.05)
    assert time.perf_counter() - start >= 0.05
    assert exchange_chaos.now() >= 0.05


def test_time_is_real_again_after_a_chaos_test(chaos_pytester: pytest.Pytester) -> None:
    pytester = chaos_pytester
    pytester.makepyfile(
        """
        import asyncio, time
        import pytest

        @pytest.mark.asyncio
        @pytest.mark.exchange_chaos(expect_requests=False)
        async def test_far_future(exchange_chaos):
            await asyncio.sleep(10 * 86400)
            assert time.time() > REAL + 9 * 86400
            raise RuntimeError("the test fails; the clock must still be restored")

        REAL = time.time()

        def test_after():
            assert abs(time.time() - REAL) < 60
            assert abs(time.monotonic() - time.perf_counter()) > -1  # readable again
            start = time.perf_counter()
            time.sleep(0.01)
            assert time.perf_counter() - start >= 0.01
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)


@pytest.mark.parametrize("mode", ["auto", "strict"])
def test_pytest_asyncio_modes_both_run_on_the_chaos_clock(pytester: pytest.Pytester, mode: str) -> None:
    marker = "" if mode == "auto" else "@pytest.mark.asyncio"
    pytester.makeini(
        f"[pytest]\nasyncio_mode = {mode}\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n"
    )
    pytester.makepyfile(
        f"""
        import asyncio
        import pytest
        import pytest_asyncio

        @pytest_asyncio.fixture
        async def warmed_up():
            await asyncio.sleep(600)  # a bot fixture's own waiting happens inside the chaos too
            return 600

        {marker}
        @pytest.mark.exchange_chaos(expect_requests=False)
        async def test_day(exchange_chaos, warmed_up):
            await asyncio.sleep(3600)
            assert exchange_chaos.now() == warmed_up + 3600
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
