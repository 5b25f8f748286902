"""Profiles: named wave sets, each usable as ``profiles.<name>()`` and as ``profile="<name>"``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import ccxt
import pytest

from pytest_exchange_chaos import Wave, profiles
from pytest_exchange_chaos._durations import parse_duration

SYMBOL = "BTC/USDT:USDT"
PROFILES_DOC = Path(__file__).parents[1] / "docs" / "reference" / "profiles.md"


def test_every_profile_is_a_function_of_the_module_with_a_docstring() -> None:
    assert next(iter(profiles.PROFILES)) == "binance_502_day"  # the incident first
    for name, factory in profiles.PROFILES.items():
        assert getattr(profiles, name) is factory
        assert factory.__doc__ and len(factory.__doc__.split()) > 20, name
        waves = profiles.get(name)
        assert waves and all(isinstance(w, Wave) for w in waves), name


def test_every_profile_is_in_the_reference() -> None:
    text = PROFILES_DOC.read_text(encoding="utf-8")
    for name in profiles.PROFILES:
        assert f"## `{name}" in text, f"docs/reference/profiles.md has no section for {name}"


def test_the_incident_day_is_three_waves_of_order_502s() -> None:
    waves = profiles.binance_502_day()
    assert [(w.start, w.duration, w.limit) for w in waves] == [
        (parse_duration("4h36m"), 60.0, 3),
        (parse_duration("7h01m"), 60.0, 21),
        (parse_duration("7h07m"), 60.0, 35),
    ]
    assert {w.fault.name for w in waves} == {"bad_gateway"}
    assert all(w.matcher.intent == frozenset(profiles.ORDER_PLACEMENT) for w in waves)


def test_a_flapping_gateway_goes_down_once_a_period() -> None:
    waves = profiles.flapping_gateway(start="1m", duration="20m", period="5m", down="30s")
    assert [(w.start, w.duration) for w in waves] == [(60.0 + k * 300.0, 30.0) for k in range(4)]
    last = profiles.flapping_gateway(start=0, duration=70, period=60, down=30)[-1]
    assert (last.start, last.duration) == (60.0, 10.0)  # cut at the end of the flapping
    with pytest.raises(ValueError, match="down for part of each period"):
        profiles.flapping_gateway(period="1m", down="2m")


def test_a_rate_limit_storm_ends_in_a_ban() -> None:
    storm, ban = profiles.rate_limit_storm(start="1m", duration="3m", ban="2m")
    assert (storm.fault.name, storm.start, storm.end) == ("rate_limited", 60.0, 240.0)
    assert (ban.fault.name, ban.start, ban.end, ban.rate) == ("ip_banned", 240.0, 360.0, 1.0)


def test_unknown_execution_status_hits_the_asked_share_of_orders() -> None:
    minus_1007, timeouts = profiles.unknown_execution_status(rate=0.3)
    assert minus_1007.fault.name == "binance.unknown_execution_status"
    assert timeouts.fault.name == "ghost(read_timeout)"
    assert minus_1007.rate + (1 - minus_1007.rate) * timeouts.rate == pytest.approx(0.3)
    assert [w.rate for w in profiles.unknown_execution_status(rate=1.0)] == [0.5, 1.0]


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(profile="maintenance_window")
async def test_maintenance_window_answers_everything_with_503(binance: Any, exchange_chaos: Any) -> None:
    await binance.load_markets()
    await asyncio.sleep(parse_duration("11m"))
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await binance.fetch_ticker(SYMBOL)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await binance.fetch_balance()
    await asyncio.sleep(parse_duration("30m"))
    assert (await binance.fetch_ticker(SYMBOL))["last"] > 0
    assert {r.fault for r in exchange_chaos.journal} == {None, "service_unavailable"}


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(profile="rate_limit_storm", seed=3)
async def test_rate_limit_storm_throttles_then_bans(binance: Any, exchange_chaos: Any) -> None:
    await binance.load_markets()
    await asyncio.sleep(parse_duration("4m") + 1)
    with pytest.raises(ccxt.DDoSProtection):
        await binance.fetch_ticker(SYMBOL)
    assert exchange_chaos.journal[-1].status == 418
    await asyncio.sleep(parse_duration("2m"))
    assert (await binance.fetch_ticker(SYMBOL))["last"] > 0


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(profile="flapping_gateway")
async def test_flapping_gateway_comes_back(binance: Any, exchange_chaos: Any) -> None:
    await binance.load_markets()
    await asyncio.sleep(65)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await binance.fetch_ticker(SYMBOL)
    await asyncio.sleep(30)
    assert (await binance.fetch_ticker(SYMBOL))["last"] > 0


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(profiles.unknown_execution_status(start=0, rate=1.0), seed=5)
async def test_unknown_execution_status_executes_what_the_bot_sees_fail(
    binance: Any, exchange_chaos: Any
) -> None:
    await binance.load_markets()
    for _ in range(4):
        with pytest.raises(ccxt.NetworkError):  # -1007 (RequestTimeout) or a read timeout
            await binance.create_order(SYMBOL, "market", "buy", 0.01)
    [position] = exchange_chaos.venue("binanceusdm").positions()
    assert position.contracts == pytest.approx(0.04)
    assert all(r.executed for r in exchange_chaos.journal if r.intent == "entry")


def test_each_profile_call_is_one_group_that_must_inject_a_fault() -> None:
    for name, factory in profiles.PROFILES.items():
        waves = factory()
        groups = {id(w.group) for w in waves}
        assert len(groups) == 1 and waves[0].group is not None, name
        assert repr(waves[0].group) == f"profiles.{name}()"
        assert all(w.required for w in waves), name
        assert all(not w.required for w in factory(required=False)), name  # type: ignore[call-arg]
        assert waves[0].group is not factory()[0].group  # two calls are two groups
    with pytest.raises(TypeError, match=r"maintenance_window\(required='yes'\)"):
        profiles.maintenance_window(required="yes")  # type: ignore[arg-type]
