"""Stream faults on the chaos clock, through real ccxt.pro: disconnects (1006, 1011), a silent
stall, dropped, duplicated and delayed messages, a listenKey expiry and the 24-hour reconnect.
ccxt's keepalive and reconnect backoff run on the chaos clock, so hours take milliseconds."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import ccxt
import pytest
from pro_harness import hub_of

from pytest_exchange_chaos import Burst, Wave, faults
from pytest_exchange_chaos.controller import ChaosController

pro = pytest.importorskip("ccxt.pro")

API_KEYS = {"apiKey": "test-key-0123456789", "secret": "test-secret-abcdef"}
BTC = "BTC/USDT:USDT"
KEY_EXPIRES_AT_10S = Wave("10s", "1m", faults.stream.listen_key_expired())


def events(controller: ChaosController, event: str) -> list[Any]:
    return [r for r in hub_of(controller).records if r.event == event]


async def entry_then_fill_at(controller: ChaosController, exchange: Any, fill_at: float) -> str:
    """Subscribe to the user stream, place a resting buy, and have the price cross it at
    ``fill_at`` on the chaos clock. Returns the order id."""
    watching = asyncio.ensure_future(exchange.watch_orders(BTC))
    await asyncio.sleep(1)
    order = await exchange.create_order(BTC, "limit", "buy", 0.01, 59_000)
    await watching

    async def price_moves() -> None:
        await asyncio.sleep(fill_at - controller.now())
        controller.venue("binanceusdm").set_price(BTC, 58_900)

    controller.__dict__.setdefault("_test_tasks", []).append(asyncio.ensure_future(price_moves()))
    return str(order["id"])


async def wait_for_fill(exchange: Any, order_id: str, *, reconcile: bool) -> tuple[str, list[str]]:
    """What a bot does: wait for its fill on watch_orders; on a stream error, watch again (ccxt
    reconnects), and with ``reconcile`` first ask REST whether the fill happened meanwhile."""
    errors: list[str] = []
    while True:
        try:
            orders = await exchange.watch_orders(BTC)
        except ccxt.NetworkError as error:
            errors.append(f"{type(error).__name__}: {error}")
            if reconcile and (await exchange.fetch_order(order_id, BTC))["status"] == "closed":
                return "rest", errors
            continue
        if any(o["id"] == order_id and o["status"] == "closed" for o in orders):
            return "stream", errors


async def settle(controller: ChaosController) -> None:
    for task in controller.__dict__.pop("_test_tasks", []):
        await task


@pytest.mark.asyncio
@pytest.mark.parametrize("code", [1006, 1011])
@pytest.mark.exchange_chaos(Wave("10s", "2m", faults.stream.disconnect(1006), stream="user"))
async def test_a_bot_waiting_for_its_fill_survives_a_disconnect_wave(
    exchange_chaos: ChaosController, binance_pro: Any, code: int
) -> None:
    if code != 1006:
        exchange_chaos.add(Wave("5s", "1s", faults.stream.disconnect(code), stream="user"))
    order_id = await entry_then_fill_at(exchange_chaos, binance_pro, fill_at=300)
    how, errors = await wait_for_fill(binance_pro, order_id, reconcile=False)
    await settle(exchange_chaos)

    assert how == "stream"
    assert exchange_chaos.now() >= 300
    closed = events(exchange_chaos, "closed")
    assert closed[0].code == code
    assert f"closing code {code}" in errors[0]
    # Each refused handshake takes a round trip (0.1 s); ccxt 4.5 adds its dial backoff, on the
    # chaos clock too: 0.2 s, 0.4 s, 0.8 s ... up to 30 s.
    refused = [r.t for r in events(exchange_chaos, "refused")]
    assert len(refused) >= 5
    gaps = [b - a for a, b in itertools.pairwise(refused)]
    assert min(gaps) >= 0.1 - 1e-6
    if hasattr(binance_pro, "ws_dial_delay"):
        assert gaps[0] == pytest.approx(0.3, abs=0.05)
        assert max(gaps) > 10 * gaps[0]
    assert len(events(exchange_chaos, "connected")) >= 2
    assert exchange_chaos.unserved == []


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave("10s", "2m", faults.stream.disconnect(1006), stream="user"))
async def test_a_fill_during_the_outage_reaches_only_a_bot_that_reconciles_over_rest(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    order_id = await entry_then_fill_at(exchange_chaos, binance_pro, fill_at=60)  # inside the wave
    how, errors = await wait_for_fill(binance_pro, order_id, reconcile=True)
    await settle(exchange_chaos)
    assert how == "rest"
    assert errors

    # The stream never tells: Binance does not replay what happened while the bot was away.
    orders, _ = hub_of(exchange_chaos).facts_seen("binanceusdm")
    assert orders[order_id].status == "open"


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave("10s", "1h", faults.stream.stall(), stream="user"))
async def test_a_silent_stall_is_noticed_by_ccxts_keepalive(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    watching = asyncio.ensure_future(binance_pro.watch_orders(BTC))
    await asyncio.sleep(1)
    await binance_pro.create_order(BTC, "limit", "buy", 0.01, 59_000)
    await watching
    with pytest.raises(ccxt.RequestTimeout, match="ping-pong keepalive"):
        await binance_pro.watch_orders(BTC)
    # Binance's keepAlive is 180 s; ccxt gives up after two missed pongs.
    assert 360 <= exchange_chaos.now() <= 15 * 60
    stalled = events(exchange_chaos, "stalled")
    assert stalled[0].t == pytest.approx(10)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.stream.drop(), stream="user", after=1))
async def test_a_dropped_fill_leaves_the_bots_view_behind_the_venue(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    order_id = await entry_then_fill_at(exchange_chaos, binance_pro, fill_at=30)
    await settle(exchange_chaos)
    await asyncio.sleep(10)

    dropped = events(exchange_chaos, "dropped")
    assert [(r.stream, r.message.payload["o"]["x"]) for r in dropped if r.message] == [("user", "TRADE")]
    seen, positions = hub_of(exchange_chaos).facts_seen("binanceusdm")
    assert seen[order_id].status == "open"  # what the bot was told: its order still rests
    assert positions[BTC].contracts == 0.01  # while the account update after the fill got through
    assert (await binance_pro.fetch_order(order_id, BTC))["status"] == "closed"  # the truth


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(
    Wave("20s", "1m", faults.stream.duplicate(), stream="user"),
    Wave("2m", "1m", faults.stream.delay("30s"), stream="user"),
)
async def test_duplicated_and_delayed_messages(exchange_chaos: ChaosController, binance_pro: Any) -> None:
    order_id = await entry_then_fill_at(exchange_chaos, binance_pro, fill_at=30)
    _, errors = await wait_for_fill(binance_pro, order_id, reconcile=False)
    await settle(exchange_chaos)
    assert not errors
    fill_messages = [
        r
        for r in events(exchange_chaos, "delivered")
        if r.message and r.message.payload.get("e") == "ORDER_TRADE_UPDATE"
    ]
    trades = [r for r in fill_messages if r.message and r.message.payload["o"]["x"] == "TRADE"]
    assert len(trades) == 2  # the same fill, twice
    assert trades[1].fault == "stream_duplicate"

    watching = asyncio.ensure_future(binance_pro.watch_orders(BTC))
    await asyncio.sleep(150 - exchange_chaos.now())
    cancelled_at = exchange_chaos.now()
    resting = await binance_pro.create_order(BTC, "limit", "buy", 0.01, 50_000)
    await watching
    assert exchange_chaos.now() == pytest.approx(cancelled_at + 30, abs=0.5)
    delayed = [r for r in events(exchange_chaos, "delivered") if r.fault == "stream_delay"]
    assert delayed and delayed[0].t == pytest.approx(cancelled_at + 30, abs=0.5)
    assert resting["status"] == "open"


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(KEY_EXPIRES_AT_10S)
async def test_an_expired_listen_key_silences_the_user_stream_until_ccxts_keepalive_hears_1125(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    order_id = await entry_then_fill_at(exchange_chaos, binance_pro, fill_at=30)
    with pytest.raises(asyncio.TimeoutError):
        # ccxt ignores listenKeyExpired: the bot waits on a socket that stays open and silent
        await asyncio.wait_for(wait_for_fill(binance_pro, order_id, reconcile=False), 600)
    await settle(exchange_chaos)
    assert [r.t for r in events(exchange_chaos, "listen_key_expired")] == [pytest.approx(10)]
    notice = [
        r
        for r in events(exchange_chaos, "delivered")
        if r.message and r.message.payload.get("e") == "listenKeyExpired"
    ]
    assert len(notice) == 1
    assert [r.detail for r in events(exchange_chaos, "lost")] == ["silenced"] * 2  # the fill, the position
    old_key = hub_of(exchange_chaos).connections[0].state["listen_key"]
    assert exchange_chaos.venue("binanceusdm")._current_listen_key != old_key  # type: ignore[attr-defined]
    # ccxt's keepalive (every 20 minutes) is what finds out: the PUT answers -1125 and ccxt
    # fails whatever waits on the user stream.
    with pytest.raises(ccxt.AuthenticationError, match="-1125"):
        await wait_for_fill(binance_pro, order_id, reconcile=False)
    refresh_s = binance_pro.options.get("listenKeyRefreshRate", 1_200_000) / 1000
    assert exchange_chaos.now() == pytest.approx(refresh_s, abs=5)
    # The next watch POSTs for a new key and connects with it; the fill it missed stays missed.
    watching = asyncio.ensure_future(binance_pro.watch_orders(BTC))
    await asyncio.sleep(1)
    private = [c for c in hub_of(exchange_chaos).connections if c.private]
    assert [c.state["listen_key"] == old_key for c in private] == [True, False]
    assert (await binance_pro.fetch_order(order_id, BTC))["status"] == "closed"
    watching.cancel()
    with pytest.raises(asyncio.CancelledError):
        await watching


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(KEY_EXPIRES_AT_10S)
async def test_a_keepalive_after_the_expiry_is_refused_with_1125(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    watching = asyncio.ensure_future(binance_pro.watch_orders(BTC))
    await asyncio.sleep(1)
    await binance_pro.fapiPrivatePutListenKey()  # the key is alive: the keepalive is answered
    await asyncio.sleep(20 - exchange_chaos.now())
    with pytest.raises(ccxt.AuthenticationError, match="-1125") as refused:
        await binance_pro.fapiPrivatePutListenKey()  # the bot's own keepalive, after the expiry
    assert '"This listenKey does not exist."' in str(refused.value)
    assert binance_pro.last_http_response is not None and "-1125" in binance_pro.last_http_response
    watching.cancel()
    with pytest.raises(asyncio.CancelledError):
        await watching


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(expect_requests=True)
async def test_binance_ends_every_connection_after_24_hours(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    await binance_pro.watch_ticker(BTC)
    with pytest.raises(ccxt.NetworkError, match="closing code 1000"):
        await binance_pro.watch_ticker(BTC)  # no price moves: the next thing to happen is the close
    assert exchange_chaos.now() == pytest.approx(86_400, abs=1)
    assert (await binance_pro.watch_ticker(BTC))["last"] == pytest.approx(60_000)  # ccxt reconnected
    closed = events(exchange_chaos, "closed")
    assert (closed[0].t, closed[0].code, closed[0].detail) == (
        pytest.approx(86_400, abs=1),
        1000,
        "forced reconnect",
    )


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave("1h", "1m", faults.stream.forced_reconnect(), stream="ticker"))
async def test_a_forced_reconnect_wave(exchange_chaos: ChaosController, binance_pro: Any) -> None:
    await binance_pro.watch_ticker(BTC)
    with pytest.raises(ccxt.NetworkError, match="closing code 1000"):
        await binance_pro.watch_ticker(BTC)
    assert [r.t for r in events(exchange_chaos, "closed")] == [pytest.approx(3600)]


def test_stream_matchers_are_checked() -> None:
    with pytest.raises(ValueError, match="stream= narrows a stream fault"):
        Wave("1s", "1m", faults.bad_gateway(), stream="user")
    with pytest.raises(ValueError, match="an HTTP endpoint never names a stream"):
        Burst(1, faults.stream.drop(), endpoint="POST /fapi/v1/order")
    with pytest.raises(ValueError, match="per_operation"):
        Burst(1, faults.stream.drop(), per_operation=True)
    with pytest.raises(ValueError, match="close codes"):
        faults.stream.disconnect(4000)
    with pytest.raises(ValueError, match="positive duration"):
        faults.stream.delay(0)
    assert "stream user" in repr(Wave("1s", "1m", faults.stream.stall(), stream="user"))
    assert "every stream" in repr(Burst(2, faults.stream.duplicate()))


def test_a_stream_fault_never_hits_an_http_request() -> None:
    from pytest_exchange_chaos.schedule import Matcher
    from pytest_exchange_chaos.venues.base import Call

    wave = Wave("0s", "1h", faults.stream.disconnect())
    assert isinstance(wave.matcher, Matcher)
    assert not wave.matcher.matches(Call("binanceusdm", "entry", "POST /fapi/v1/order", BTC))


def test_a_stream_schedule_that_never_fired_fails_the_test(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        """
        import pytest
        import ccxt.async_support as ccxt_async
        from pytest_exchange_chaos import Wave, faults

        @pytest.mark.asyncio
        @pytest.mark.exchange_chaos(Wave("0s", "1h", faults.stream.disconnect(1006), stream="user"))
        async def test_rest_only(exchange_chaos):
            exchange = ccxt_async.binanceusdm({"apiKey": "k", "secret": "s"})
            try:
                await exchange.fetch_ticker("BTC/USDT:USDT")
            finally:
                await exchange.close()
        """
    )
    result = chaos_pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*stream_disconnect*stream user*never injected a fault*", "*no websocket stream matched it*"]
    )


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave("10s", "2m", faults.stream.disconnect(1011), stream="user"))
async def test_the_stream_summary_and_outages_for_the_report(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    order_id = await entry_then_fill_at(exchange_chaos, binance_pro, fill_at=300)
    await wait_for_fill(binance_pro, order_id, reconcile=False)
    await settle(exchange_chaos)
    summary = hub_of(exchange_chaos).summary()["binanceusdm"]
    assert summary["connections"] == 2
    assert summary["refused"] >= 5
    assert summary["closes"] == {"1011": 1}
    assert summary["faults"]["stream_disconnect"] == 1 + summary["refused"]
    [outage] = summary["outages"]
    assert (outage["from"], outage["why"]) == (pytest.approx(10), "closed 1011")
    assert 130 <= outage["to"] <= 170  # back once the wave ended and ccxt's backoff let it redial


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.stream.disconnect(1006), stream="user", after=1))
async def test_a_disconnect_burst_strikes_on_the_next_matching_message(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    order_id = await entry_then_fill_at(exchange_chaos, binance_pro, fill_at=30)
    how, errors = await wait_for_fill(binance_pro, order_id, reconcile=True)
    await settle(exchange_chaos)
    assert (how, len(errors)) == ("rest", 1)
    assert "closing code 1006" in errors[0]
    [closed] = [r for r in events(exchange_chaos, "closed") if r.fault]
    assert (closed.t, closed.code) == (pytest.approx(30, abs=0.5), 1006)


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(expect_requests=True)
async def test_a_wave_added_during_the_test_strikes_open_connections(
    exchange_chaos: ChaosController, binance_pro: Any
) -> None:
    await binance_pro.watch_ticker(BTC)
    exchange_chaos.add(Wave("1m", "1m", faults.stream.disconnect(1011), stream="ticker"))
    await binance_pro.fetch_time()  # any request: the hub looks at the schedules again
    with pytest.raises(ccxt.NetworkError, match="closing code 1011"):
        await binance_pro.watch_ticker(BTC)
    assert exchange_chaos.now() == pytest.approx(60)


BYBIT_KEY_EXPIRY = """
import asyncio
import ccxt.pro
import pytest
from pytest_exchange_chaos import Burst, Wave, faults

async def trade_on_bybit():
    bybit = ccxt.pro.bybit({"apiKey": "key", "secret": "secret"})
    try:
        watching = asyncio.ensure_future(bybit.watch_orders("BTC/USDT:USDT"))
        await asyncio.sleep(1)
        await bybit.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, 59_000)
        await watching
        await asyncio.sleep(30)
    finally:
        await bybit.close()

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave("5s", "1m", faults.stream.listen_key_expired()))
async def test_a_wave(exchange_chaos):
    await trade_on_bybit()

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.stream.listen_key_expired()))
async def test_a_burst(exchange_chaos):
    await trade_on_bybit()
"""


def test_a_listen_key_expiry_on_a_venue_without_listen_keys_never_strikes(
    chaos_pytester: pytest.Pytester,
) -> None:
    # Bybit has no listen keys: the schedule did nothing, so it never fired and the test fails,
    # rather than pass as if the bot had lived through an expiry.
    chaos_pytester.makepyfile(BYBIT_KEY_EXPIRY)
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["*Wave(+5s for 60s, stream_listen_key_expired*never injected a fault*", "*faults injected*"],
        consecutive=False,
    )
    result.stdout.fnmatch_lines(
        ["*Burst(*stream_listen_key_expired*never injected a fault*"], consecutive=False
    )
    result.stdout.fnmatch_lines(["2 chaos tests: * requests, 0 faults injected, *"])
