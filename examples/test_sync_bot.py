"""The sync bot's two promises under chaos: a stop that failed is placed on the next step, and an
order is never sent twice."""

from __future__ import annotations

from typing import Any

import pytest
from sync_bot import SyncBot

from pytest_exchange_chaos import Burst, ChaosController, faults

SYMBOL = "BTC/USDT:USDT"


@pytest.mark.exchange_chaos(Burst(count=2, fault=faults.bad_gateway(), intent="stop_loss"))
def test_a_stop_that_failed_is_placed_on_the_next_step(
    binance_sync: Any, exchange_chaos: ChaosController
) -> None:
    SyncBot(binance_sync, SYMBOL, 0.01, every=60).run(steps=4)

    exchange_chaos.assert_placed("stop_loss", symbol=SYMBOL, count=1)
    # Two steps lost to 502s, placed on the third. Each step's try is a decision of its own (the
    # bot waits a minute, not a backoff), so what it promises is time without a stop, not attempts.
    exchange_chaos.assert_positions_protected(max_unprotected="3m")


@pytest.mark.exchange_chaos(
    # The exchange fills the entry, the bot sees a 502 (Binance: "execution status unknown").
    Burst(count=1, fault=faults.ghost(faults.bad_gateway()), intent="entry"),
)
def test_an_entry_that_looked_failed_is_not_sent_again(
    binance_sync: Any, exchange_chaos: ChaosController
) -> None:
    SyncBot(binance_sync, SYMBOL, 0.01, every=60).run(steps=3)

    exchange_chaos.assert_no_duplicate_orders()
    exchange_chaos.assert_positions_protected()
    [position] = exchange_chaos.venue("binanceusdm").positions()
    assert position.contracts == 0.01


@pytest.mark.exchange_chaos(
    Burst(count=3, fault=faults.read_timeout(), endpoint="GET /fapi/*/positionRisk"),
)
def test_the_bot_waits_out_timeouts_without_a_retry_storm(
    binance_sync: Any, exchange_chaos: ChaosController
) -> None:
    SyncBot(binance_sync, SYMBOL, 0.01, every=60).run(steps=5)

    exchange_chaos.assert_positions_protected()
    # One request per step while the exchange times out: ccxt's own timeout, no loop of retries.
    timed_out = [r for r in exchange_chaos.journal if r.fault == "read_timeout"]
    assert len(timed_out) == 3
