"""The incident day, lived through by the naive bot and the hardened one.

``[naive]`` tests fail on purpose: they are the incident, caught before it happens live. Their
failure messages are the demo: read them in ``make examples``.
"""

from __future__ import annotations

from typing import Any

import pytest
from incident_bot import IncidentBot

from pytest_exchange_chaos import Budget, Burst, ChaosController, faults

BUDGET = Budget(attempts=5, seconds=60)


@pytest.fixture(params=["naive", "hardened"])
def bot(request: pytest.FixtureRequest, binance: Any) -> IncidentBot:
    return IncidentBot(binance, hardened=request.param == "hardened")


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(profile="binance_502_day", seed=5)
@pytest.mark.retry_budget(entry=BUDGET, stop_loss=BUDGET)
async def test_the_incident_day(bot: IncidentBot) -> None:
    # 05:15 to 12:37: a position every 30 s through the three waves of 502s.
    await bot.run_day(hours=7 + 22 / 60)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(
    # Every stop-loss the bot sends is answered 502 three times, whenever it sends it and however
    # many it sends: the naive bot loses the first one for every seed, the hardened one none.
    Burst(count=3, fault=faults.bad_gateway(), intent="stop_loss", per_operation=True),
)
@pytest.mark.retry_budget(entry=BUDGET, stop_loss=BUDGET)
async def test_every_stop_loss_survives_three_502s(bot: IncidentBot) -> None:
    await bot.run_day(hours=0.5)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(
    # The gateway refuses every stop for a while, and the first order after that too.
    Burst(count=5, fault=faults.bad_gateway(), intent="stop_loss"),
    Burst(count=1, fault=faults.bad_gateway(), intent="exit"),
)
@pytest.mark.retry_budget(exit=BUDGET)
async def test_a_position_whose_stop_cannot_be_placed_is_closed(
    bot: IncidentBot, exchange_chaos: ChaosController
) -> None:
    protected = await bot.open_with_stop("BTC/USDT:USDT", "buy", 0.01)

    assert not protected
    exchange_chaos.assert_positions_protected()
    assert exchange_chaos.venue("binanceusdm").positions() == []
