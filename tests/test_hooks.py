"""The extension points, exercised by a small plugin like the one a user would write."""

from __future__ import annotations

from pathlib import Path

import pytest

TOY = (Path(__file__).parent / "plugins" / "toy_exchange.py").read_text()


def test_a_plugin_adds_a_venue_decides_faults_and_observes_them(chaos_pytester: pytest.Pytester) -> None:
    pytester = chaos_pytester
    pytester.makeconftest(TOY)
    pytester.makepyfile(
        """
        import aiohttp
        import pytest
        from pytest_exchange_chaos import Burst, faults
        import conftest

        @pytest.mark.asyncio
        @pytest.mark.exchange_chaos(Burst(1, faults.bad_gateway(), endpoint="GET /ticker"))
        async def test_toy(exchange_chaos):
            async with aiohttp.ClientSession() as session:
                async with session.get("https://api.toyx.test/ticker") as r:
                    assert r.status == 502 and r.reason == "Bad Gateway"
                async with session.get("https://api.toyx.test/ticker") as r:
                    assert (await r.json()) == {"price": 100.0}
                statuses = []
                for qty in ("1", "2", "3"):
                    async with session.post("https://api.toyx.test/order", data={"side": "buy", "qty": qty}) as r:
                        statuses.append(r.status)
                assert statuses == [200, 200, 429]
            assert exchange_chaos.venue("toyx").orders[1]["qty"] == "2"
            assert conftest.SEEN_FAULTS == ["bad_gateway@/ticker", "rate_limited@/order"]
            assert [op.succeeded for op in exchange_chaos.operations("entry")] == [True, True, False]
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def test_a_decider_returning_a_non_fault_is_a_clear_error(chaos_pytester: pytest.Pytester) -> None:
    pytester = chaos_pytester
    pytester.makeconftest(
        TOY + "\n\ndef pytest_exchange_chaos_decide_fault(request, call, now, controller):\n    return 502\n"
    )
    pytester.makepyfile(
        """
        import aiohttp
        import pytest

        @pytest.mark.asyncio
        @pytest.mark.exchange_chaos()
        async def test_toy(exchange_chaos):
            async with aiohttp.ClientSession() as session:
                await session.get("https://api.toyx.test/ticker")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*returned 502; return a fault such as faults.bad_gateway()*"])


def test_a_venue_hook_returning_an_instance_is_a_usage_error(chaos_pytester: pytest.Pytester) -> None:
    pytester = chaos_pytester
    pytester.makeconftest(TOY + "\n\ndef pytest_exchange_chaos_venues(config):\n    return [object()]\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.exchange_chaos()
        def test_toy(exchange_chaos):
            pass
        """
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*return subclasses of pytest_exchange_chaos.venues.Venue*"])
    assert result.ret != 0
