from __future__ import annotations

import random

import pytest

from pytest_exchange_chaos import Budget, Burst, Wave, faults
from pytest_exchange_chaos._durations import format_clock, parse_duration
from pytest_exchange_chaos.schedule import ScheduleRun, flatten_schedules, grouped
from pytest_exchange_chaos.venues.base import Call, OrderTicket

ENTRY = Call(
    "binanceusdm", "entry", "POST /fapi/v1/order", "BTC/USDT:USDT", OrderTicket("buy", "MARKET", "0.01")
)
STOP = Call("binanceusdm", "stop_loss", "POST /fapi/v1/algoOrder", "BTC/USDT:USDT")
TICKER = Call("bybit", "market_data", "GET /v5/market/tickers", "ETH/USDT:USDT")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("4h36m", 16560.0),
        ("1h 2m 3.5s", 3723.5),
        ("250ms", 0.25),
        ("12", 12.0),
    ],
)
def test_durations_read_like_a_trader_writes_them(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["soon", "4x", "-5", "5m later", "1h1h", "1m1h", "30s1m"])
def test_a_bad_duration_says_what_to_write(bad: str) -> None:
    with pytest.raises(ValueError, match=r"4h36m|negative"):
        parse_duration(bad)


@pytest.mark.parametrize("bad", ["-5", "-5s", "-1m30s", -5])
def test_a_negative_duration_is_called_negative_however_written(bad: str | int) -> None:
    with pytest.raises(ValueError, match=r"is negative; durations count forward"):
        parse_duration(bad)


def test_format_clock() -> None:
    assert format_clock(16572.5) == "+4h36m12.5s"
    assert format_clock(65) == "+1m5s"
    assert format_clock(3.25) == "+3.2s" or format_clock(3.25) == "+3.3s"


def test_wave_hits_only_inside_its_window_and_matchers() -> None:
    run = ScheduleRun(random.Random(1), [Wave("10s", "5m", faults.bad_gateway(), intent="stop_loss")])
    assert run.decide(STOP, 9.99) is None
    assert run.decide(STOP, 10.0) is not None
    assert run.decide(ENTRY, 60) is None
    assert run.decide(STOP, 309.99) is not None
    assert run.decide(STOP, 310.0) is None


def test_wave_limit_caps_the_faults_in_its_window() -> None:
    run = ScheduleRun(random.Random(1), [Wave(0, 60, faults.bad_gateway(), limit=3)])
    hits = [run.decide(ENTRY, t) is not None for t in range(10)]
    assert hits == [True] * 3 + [False] * 7


def test_wave_rate_is_drawn_from_the_seeded_generator() -> None:
    def pattern(seed: int) -> list[bool]:
        run = ScheduleRun(random.Random(seed), [Wave(0, 600, faults.bad_gateway(), rate=0.5)])
        return [run.decide(ENTRY, t) is not None for t in range(200)]

    assert pattern(7) == pattern(7)
    assert pattern(7) != pattern(8)
    assert 60 < sum(pattern(7)) < 140


def test_burst_fails_the_next_count_after_after() -> None:
    run = ScheduleRun(
        random.Random(1), [Burst(2, faults.gateway_timeout(), after=1, endpoint="POST /fapi/*/order")]
    )
    assert [run.decide(ENTRY, 0) is not None for _ in range(5)] == [False, True, True, False, False]
    assert run.decide(STOP, 0) is None  # algoOrder does not match the glob


def test_matchers_by_venue_symbol_and_intent_collection() -> None:
    wave = Wave(
        0,
        60,
        faults.bad_gateway(),
        intent=("entry", "stop_loss"),
        venue="binanceusdm",
        symbol="BTC/USDT:USDT",
    )
    run = ScheduleRun(random.Random(1), [wave])
    assert run.decide(ENTRY, 1) is not None
    assert run.decide(STOP, 1) is not None
    assert run.decide(TICKER, 1) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"intent": "stoploss"}, "is not one of: entry, exit, stop_loss"),
        ({"endpoint": "/fapi/v1/order"}, 'write e.g. endpoint="POST /fapi/v1/order"'),
        ({"symbol": "BTCUSDT"}, "ccxt unified symbol"),
        ({"rate": 1.5}, "probability above 0.0 and at most 1.0"),
    ],
)
def test_bad_wave_arguments_say_what_to_write(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Wave(0, 60, faults.bad_gateway(), **kwargs)  # type: ignore[arg-type]


def test_fault_must_be_a_fault() -> None:
    with pytest.raises(TypeError, match=r"faults\.bad_gateway\(\)"):
        Wave(0, 60, 502)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="whole number"):
        Burst(-1, faults.bad_gateway())


def test_flatten_accepts_profiles_and_rejects_strays() -> None:
    wave = Wave(0, 1, faults.bad_gateway())
    assert flatten_schedules([wave, [wave, (wave,)]], where="x") == [wave, wave, wave]
    with pytest.raises(TypeError, match=r"takes Wave\(...\) and Burst"):
        flatten_schedules(["502"], where="x")


def test_budget() -> None:
    assert Budget(attempts=5, seconds="1m").seconds == 60.0
    assert Budget(5, 60).describe() == "5 attempts / 60 s"
    assert Budget(seconds=60) == Budget(None, 60)
    with pytest.raises(ValueError, match="checks nothing"):
        Budget()
    with pytest.raises(ValueError, match="at least 1"):
        Budget(attempts=0)


def test_cloudflare_codes() -> None:
    assert faults.cloudflare(522).describe() == "522 Connection Timed Out"
    with pytest.raises(ValueError, match="520 to 526"):
        faults.cloudflare(530)


# -- what each schedule saw, to say why it never fired ------------------------------------------------


def test_endpoint_takes_one_or_a_collection_of_endpoints() -> None:
    both = Burst(5, faults.bad_gateway(), endpoint=["POST /fapi/v1/order", "post /fapi/v1/algoOrder"])
    assert both.matcher.endpoint == (("POST", "/fapi/v1/order"), ("POST", "/fapi/v1/algoOrder"))
    assert repr(both) == "Burst(5x bad_gateway, POST /fapi/v1/order or POST /fapi/v1/algoOrder)"
    run = ScheduleRun(random.Random(1), [both])
    assert [run.decide(call, 0) is not None for call in (ENTRY, STOP, TICKER)] == [True, True, False]
    assert Wave(0, 1, faults.bad_gateway(), endpoint="GET /x").matcher.endpoint == (("GET", "/x"),)
    for empty in ([], (), set()):
        with pytest.raises(ValueError, match="empty and would match nothing"):
            Wave(0, 1, faults.bad_gateway(), endpoint=empty)
    with pytest.raises(ValueError, match="empty and would match nothing"):
        Burst(1, faults.bad_gateway(), intent=[])
    with pytest.raises(ValueError, match='not "METHOD /path"'):
        Burst(1, faults.bad_gateway(), endpoint=["POST /a", "/b"])


def test_required_is_a_bool_shown_when_false() -> None:
    assert Wave(0, 1, faults.bad_gateway()).required is True
    optional = Burst(1, faults.bad_gateway(), required=False)
    assert optional.required is False and repr(optional).endswith(", required=False)")
    assert "required" not in repr(Wave(0, 1, faults.bad_gateway()))
    for owner in (
        lambda r: Wave(0, 1, faults.bad_gateway(), required=r),
        lambda r: Burst(1, faults.bad_gateway(), required=r),
    ):
        with pytest.raises(TypeError, match=r"required=True .* or required=False"):
            owner("no")


def test_the_run_counts_matches_window_shadowed_and_faults_per_schedule() -> None:
    wave = Wave(10, 10, faults.bad_gateway(), intent="stop_loss")
    burst = Burst(1, faults.gateway_timeout(), intent="stop_loss")
    quiet = Burst(1, faults.bad_gateway(), venue="bybit", intent="entry")
    run = ScheduleRun(random.Random(1), [wave, burst, quiet])
    assert run.decide(STOP, 5) is burst.fault  # before the wave: the burst takes it
    assert run.decide(STOP, 12) is wave.fault  # the wave first; the burst is spent anyway
    assert run.decide(ENTRY, 12) is None
    tallies = {id(t.schedule): t for t in run.tallies()}
    assert (tallies[id(wave)].matched, tallies[id(wave)].in_window, tallies[id(wave)].fired) == (2, 1, 1)
    assert (tallies[id(wave)].first_match, tallies[id(wave)].last_match) == (5, 12)
    assert (tallies[id(burst)].matched, tallies[id(burst)].shadowed, tallies[id(burst)].fired) == (2, 1, 1)
    assert tallies[id(quiet)].matched == 0
    assert run.requests == 3
    assert [[t.schedule for t in entry] for entry in run.unfired()] == [[quiet]]


def test_counting_later_schedules_changes_no_decision() -> None:
    # Once a fault is chosen, later schedules only count the match: no draw, no burst progress.
    rng = random.Random(5)
    always = Wave(0, 100, faults.bad_gateway())
    drawn = Wave(0, 100, faults.service_unavailable(), rate=0.5)
    burst = Burst(1, faults.gateway_timeout(), after=1)
    run = ScheduleRun(rng, [always, drawn, burst])
    assert all(run.decide(ENTRY, t) is always.fault for t in range(60))
    assert rng.random() == random.Random(5).random()
    assert [(t.shadowed, t.fired) for t in run.tallies()] == [(0, 60), (60, 0), (60, 0)]
    assert run.decide(ENTRY, 200) is None  # the burst's first own request goes through (after=1)
    assert run.decide(ENTRY, 201) is burst.fault


def test_a_group_fires_as_a_whole_and_required_false_lets_it_stay_quiet() -> None:
    first, second = grouped([Wave(0, 10, faults.bad_gateway()), Wave(100, 10, faults.bad_gateway())], "flaps")
    run = ScheduleRun(random.Random(1), [first, second])
    assert [[t.schedule for t in entry] for entry in run.unfired()] == [[first, second]]
    run.decide(ENTRY, 5)
    assert run.unfired() == []  # the second wave never fired, but the group did
    optional = grouped([Wave(0, 1, faults.bad_gateway(), required=False)], "optional")
    assert ScheduleRun(random.Random(1), optional).unfired() == []
