"""The pytest layer through pytester: markers, options, errors, seeds, the report, switching off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TOY = (Path(__file__).parent / "plugins" / "toy_exchange.py").read_text()

TOY_TEST = """
import aiohttp
import pytest
from pytest_exchange_chaos import Wave, faults

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave(0, 3600, faults.bad_gateway(), rate=0.5, endpoint="GET /ticker"))
async def test_toy(exchange_chaos):
    async with aiohttp.ClientSession() as session:
        for _ in range(40):
            async with session.get("https://api.toyx.test/ticker") as response:
                await response.read()
            await asyncio.sleep(30)

import asyncio
"""


def test_markers_are_documented(chaos_pytester: pytest.Pytester) -> None:
    result = chaos_pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.exchange_chaos(*schedules, seed=None, profile=None, clock='virtual', allow_hosts=(), "
            "expect_requests=True): *",
            "@pytest.mark.retry_budget(**{intent: Budget(attempts=None, seconds=None)}): *",
        ]
    )


def test_options_are_documented(chaos_pytester: pytest.Pytester) -> None:
    result = chaos_pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        ["*--chaos-seed=SEED*", "*--chaos-report=PATH*", "*chaos_seed*", "*chaos_report*"]
    )


def test_header_shows_the_seed_to_repeat_the_run(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile("def test_nothing(): pass")
    result = chaos_pytester.runpytest("--chaos-seed=4242")
    result.stdout.fnmatch_lines(
        ["exchange-chaos: seed=4242 (repeat with --chaos-seed=4242); clients: aiohttp*"]
    )
    chaos_pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nchaos_seed = 99\n")
    chaos_pytester.runpytest().stdout.fnmatch_lines(["exchange-chaos: seed=99 *"])


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        (
            "exchange_chaos(seeds=7)",
            "*exchange_chaos() got unexpected argument(s) seeds; it takes schedules*seed, profile, clock, allow_hosts*",
        ),
        (
            "exchange_chaos(clock='fast')",
            "*exchange_chaos(clock='fast'): write clock='virtual' or clock='real'*",
        ),
        (
            "exchange_chaos(profile='binance_503')",
            "*profile='binance_503' is not a profile; the profiles are: binance_502_day*",
        ),
        ("exchange_chaos('502')", "*exchange_chaos() takes Wave(...) and Burst(...)*not '502'*"),
        ("exchange_chaos(seed='seven')", "*exchange_chaos(seed='seven'): write a whole number, e.g. seed=7*"),
        (
            "retry_budget(stoploss=Budget(5))",
            "*retry_budget(stoploss=...): 'stoploss' is not an intent; use one of entry, exit, stop_loss*",
        ),
        (
            "retry_budget(stop_loss=5)",
            "*retry_budget(stop_loss=5): write stop_loss=Budget(attempts=5, seconds=60)*",
        ),
        ("retry_budget(Budget(5))", "*retry_budget() takes keywords only*"),
    ],
)
def test_a_misspelled_marker_is_a_usage_error_saying_what_to_write(
    chaos_pytester: pytest.Pytester, marker: str, expected: str
) -> None:
    chaos_pytester.makepyfile(
        f"""
        import pytest
        from pytest_exchange_chaos import Budget

        @pytest.mark.{marker}
        def test_it():
            pass
        """
    )
    result = chaos_pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: test_*::test_it: " + expected.lstrip("*")])
    assert "Traceback" not in result.stderr.str()


def test_a_bad_seed_option_is_a_usage_error(chaos_pytester: pytest.Pytester) -> None:
    result = chaos_pytester.runpytest("--chaos-seed=abc")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --chaos-seed='abc' is not a whole number; write e.g. --chaos-seed=7"]
    )


def test_same_seed_same_journal_other_seed_other_journal(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makeconftest(TOY)
    chaos_pytester.makepyfile(TOY_TEST)

    def journal(seed: int, name: str) -> list[dict[str, object]]:
        chaos_pytester.runpytest(
            f"--chaos-seed={seed}", f"--chaos-report={name}", "--chaos-report-detail=full"
        ).assert_outcomes(passed=1)
        document = json.loads((chaos_pytester.path / name).read_text())
        assert document["seed"] == seed
        (entry,) = document["tests"]
        for record in entry["journal"]:
            record.pop("order_id", None)
        return entry["journal"]  # type: ignore[no-any-return]

    first, second, other = journal(7, "a.json"), journal(7, "b.json"), journal(8, "c.json")
    assert len(first) == 40
    assert first == second
    assert [r["fault"] for r in first] != [r["fault"] for r in other]
    assert [r["t"] for r in first] == [30.0 * i for i in range(40)]


def test_report_ini_twin_and_schema(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makeconftest(TOY)
    chaos_pytester.makepyfile(TOY_TEST)
    chaos_pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\nchaos_report = out/report.json\n"
        "chaos_report_detail = full\n"
    )
    chaos_pytester.runpytest().assert_outcomes(passed=1)
    document = json.loads((chaos_pytester.path / "out" / "report.json").read_text())
    assert (document["schema_version"], document["detail"]) == (2, "full")
    (entry,) = document["tests"]
    assert entry["nodeid"] == "test_report_ini_twin_and_schema.py::test_toy"
    assert set(entry["journal"][0]) >= {
        "t",
        "method",
        "url",
        "path",
        "venue",
        "intent",
        "symbol",
        "fault",
        "status",
        "executed",
    }
    assert entry["operations"][0]["intent"] == "market_data"


def test_switched_off_nothing_is_patched(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        """
        import aiohttp.client, time

        ORIGINAL = aiohttp.client.ClientSession._request
        ORIGINAL_MONOTONIC = time.monotonic

        def test_untouched():
            assert aiohttp.client.ClientSession._request is ORIGINAL
            assert time.monotonic is ORIGINAL_MONOTONIC
        """
    )
    result = chaos_pytester.runpytest("-p", "no:exchange_chaos")
    result.assert_outcomes(passed=1)
    # No header line and no summary ("exchange-chaos-0.1.0" in the plugins line is the stand-in
    # that fails chaos tests while the plugin is off).
    assert "exchange-chaos:" not in result.stdout.str()
    assert "exchange chaos" not in result.stdout.str()


def test_a_plain_test_is_not_touched(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        """
        import aiohttp.client, time

        ORIGINAL = aiohttp.client.ClientSession._request

        def test_plain(request):
            assert "exchange_chaos" not in request.fixturenames
            assert aiohttp.client.ClientSession._request is ORIGINAL
            assert time.monotonic.__module__ == "time"
        """
    )
    chaos_pytester.runpytest().assert_outcomes(passed=1)


def test_the_marker_pulls_in_the_fixture_and_patches_are_undone(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        """
        import aiohttp.client, time
        import pytest

        ORIGINAL = aiohttp.client.ClientSession._request

        @pytest.mark.exchange_chaos()
        def test_marked(request):
            assert request.fixturenames[0] == "exchange_chaos"
            assert aiohttp.client.ClientSession._request is not ORIGINAL
            raise ValueError("a failing chaos test must still undo its patches")

        def test_after():
            assert aiohttp.client.ClientSession._request is ORIGINAL
            assert time.monotonic.__module__ == "time"
        """
    )
    chaos_pytester.runpytest().assert_outcomes(passed=1, failed=1)


def test_a_fixture_requested_at_run_time_is_still_checked(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        """
        import requests

        def test_late(request):
            chaos = request.getfixturevalue("exchange_chaos")
            try:
                requests.get("https://api.kraken.com/0/public/Time", timeout=5)
            except BaseException:
                pass  # a bot that swallows everything
            assert chaos.unserved
        """
    )
    result = chaos_pytester.runpytest("--chaos-report=report.json")
    # The call hook had started before the fixture existed: the guard fails the teardown.
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*exchange-chaos refused GET https://api.kraken.com/0/public/Time*"])
    assert "test_late" in (chaos_pytester.path / "report.json").read_text()
