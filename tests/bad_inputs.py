"""Clearly invalid uses of every public entry point, and the rule they are judged by.

Shared by tests/test_bad_input_fuzz.py (Hypothesis draws from these pools and adds values of
its own) and benchmarks/fuzz_inputs.py (which runs all of them, at scale). Each invalid input
must end in a *clear error*: a documented exception (ValueError/TypeError from a constructor,
pytest.UsageError from a marker or an option) whose message names the argument. Anything else
is an internal traceback; no exception at all is a silent acceptance.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pytest

from pytest_exchange_chaos import BinanceRateLimits, Budget, Burst, Wave, faults, profiles, waves_from_log
from pytest_exchange_chaos._durations import MAX_SECONDS
from pytest_exchange_chaos._seeds import MAX_SEED

NAN = math.nan
INF = math.inf

# -- pools of invalid values, by what the argument takes ------------------------------------------

NOT_A_NUMBER: list[object] = [NAN, "nan", "NaN", "-nan", float("-nan")]
INFINITE: list[object] = [INF, -INF, "inf", "-inf", "Infinity", "1e400", 10**400, 1e308 * 10]
NEGATIVE_DURATIONS: list[object] = [-1, -0.001, "-5m", "-0.5", -(10**30)]
TOO_LONG: list[object] = [MAX_SECONDS + 1, "8785h", 10**12, "100000000s", 2**63, "527041m"]
NOT_A_DURATION: list[object] = [
    "",
    " ",
    "5 parsecs",
    "h",
    "1h1",
    "1,5s",
    "4h-3m",
    "5d",
    "--5",
    "0x10",
    True,
    False,
    None,
    b"5",
    [],
    [5],
    {},
    object(),
    1j,
]
DURATIONS: list[object] = NOT_A_NUMBER + INFINITE + NEGATIVE_DURATIONS + TOO_LONG + NOT_A_DURATION
"""Invalid wherever a duration is taken (a start may be 0, so 0 is not here)."""
LENGTHS: list[object] = [*DURATIONS, 0, 0.0, "0s", "0ms", "0h0m"]
"""Invalid wherever a span is taken: an empty one never fires."""

RATES: list[object] = [NAN, INF, -INF, -0.1, 0, 0.0, 1.0000001, 2, -1, True, False, "0.5", None, [], 10**400]
WHOLE_FROM_1: list[object] = [0, -1, True, False, 1.5, 1.0, "3", None, NAN, INF, [], -(10**400)]
WHOLE_FROM_0: list[object] = [-1, True, False, 1.5, 0.0, "3", None, NAN, [], -(10**400)]
FAULTS: list[object] = [None, "bad_gateway", 502, faults.bad_gateway, [], object(), Budget(attempts=1)]
BOOLS: list[object] = ["yes", "False", 1, 0, None, 1.0, []]

_COMMON_MATCHER: list[object] = [5, 1.5, True, [], (), [5], [None], set(), [["x"]], b"x", object()]
INTENTS: list[object] = [*_COMMON_MATCHER, "", "fetch", "ENTRY", "stop-loss", ("entry", "bogus")]
ENDPOINTS: list[object] = [
    *_COMMON_MATCHER,
    "",
    "POST",
    "/fapi/v1/order",
    "FETCH /fapi/v1/order",
    "POST fapi/v1/order",
    ["POST /a", 5],
    ["POST /a", "nope"],
]
SYMBOLS: list[object] = [*_COMMON_MATCHER, "", "BTCUSDT", ["BTC/USDT", "ETHUSDT"]]
VENUES: list[object] = list(_COMMON_MATCHER)
"""Type mistakes only: an unknown venue id is refused at collection (see MARKER_CASES)."""

MATCHERS: dict[str, list[object]] = {
    "intent": INTENTS,
    "endpoint": ENDPOINTS,
    "symbol": SYMBOLS,
    "venue": VENUES,
}

# -- entry points -----------------------------------------------------------------------------

LOG = ["2024-03-12 05:15:00 start", "2024-03-12 05:16:10 ERROR 502 Bad Gateway"]
AWARE_LOG = ["2024-03-12 05:15:00+0000 start", "2024-03-12 05:16:10+0000 ERROR 502 Bad Gateway"]


@dataclass(frozen=True)
class Entry:
    """One public constructor or function, a valid call, and invalid values for each argument."""

    name: str
    call: Callable[..., object]
    valid: dict[str, object]
    bad: dict[str, list[object]]
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Words one of which the error must contain, where it is not the argument's own name."""

    def tokens(self, argument: str) -> tuple[str, ...]:
        return self.names.get(argument, (argument,))


def _with_required(
    entry_call: Callable[..., object], bad: dict[str, list[object]]
) -> dict[str, list[object]]:
    # ``required=`` came with the "never fired" checks; fuzz it wherever it is taken.
    if "required" in inspect.signature(entry_call).parameters:
        return {**bad, "required": BOOLS}
    return bad


def _wave_bad() -> dict[str, list[object]]:
    return {
        "start": DURATIONS,
        "duration": LENGTHS,
        "fault": FAULTS,
        "rate": RATES,
        "limit": [x for x in WHOLE_FROM_1 if x is not None],
        **MATCHERS,
    }


def _assert_positions_protected(**kwargs: Any) -> None:
    """``exchange_chaos.assert_positions_protected(**kwargs)`` on a venue holding one long with
    its stop placed at once: the valid call passes, so only the arguments can fail it."""
    import random

    from pytest_exchange_chaos.clock import ChaosClock
    from pytest_exchange_chaos.controller import ChaosController
    from pytest_exchange_chaos.engine import ChaosEngine
    from pytest_exchange_chaos.schedule import ScheduleRun
    from pytest_exchange_chaos.venues import VenueContext
    from pytest_exchange_chaos.venues._records import OrderRequest
    from pytest_exchange_chaos.venues.binance import BinanceUsdmVenue

    clock = ChaosClock("virtual")
    venue = BinanceUsdmVenue(VenueContext(now=clock.now, wall_time=clock.wall_time, rng=random.Random(0)))
    venue.book.place(OrderRequest("BTCUSDT", "buy", "market", quantity="0.01"))
    venue.book.place(
        OrderRequest(
            "BTCUSDT", "sell", "stop_market", quantity="0.01", trigger_price="50000", reduce_only=True
        )
    )
    engine = ChaosEngine(
        venues=[venue], schedule=ScheduleRun(random.Random(0), ()), clock=clock, rng=random.Random(0)
    )
    ChaosController(engine, seed=0).assert_positions_protected(**kwargs)


def _entries() -> list[Entry]:
    gateway = faults.bad_gateway()
    entries = [
        Entry(
            "Wave", Wave, {"start": 0, "duration": 60, "fault": gateway}, _with_required(Wave, _wave_bad())
        ),
        Entry(
            "Burst",
            Burst,
            {"count": 1, "fault": gateway},
            _with_required(
                Burst,
                {
                    "count": WHOLE_FROM_1,
                    "after": WHOLE_FROM_0,
                    "fault": FAULTS,
                    "per_operation": BOOLS,
                    **MATCHERS,
                },
            ),
        ),
        Entry(
            "Budget",
            Budget,
            {"attempts": 5, "seconds": 60},
            {
                "attempts": [x for x in WHOLE_FROM_1 if x is not None] + [10**7, 10**400],
                "seconds": [x for x in DURATIONS if x is not None],
            },
        ),
        Entry(
            "Budget",
            Budget,
            {"attempts": None, "seconds": 60},
            {"seconds": [None]},
            {"seconds": ("Budget()",)},
        ),
        Entry(
            "faults.cloudflare",
            faults.cloudflare,
            {"code": 520},
            {"code": [519, 527, True, "520", 520.0, None]},
        ),
        Entry("faults.rate_limited", faults.rate_limited, {}, {"retry_after": DURATIONS}),
        Entry(
            "BinanceRateLimits",
            BinanceRateLimits,
            {"limit": 10, "per": "10s"},
            _with_required(
                BinanceRateLimits,
                {
                    "limit": [x for x in WHOLE_FROM_1 if x is not None],
                    "per": [*LENGTHS, "0.5s", "500ms"],
                    "venue": [*VENUES, "bybit", ["binanceusdm", "okx"]],
                    "ban": [*LENGTHS, "0.5s"],
                    "max_ban": [*LENGTHS, "1m"],
                },
            ),
        ),
        Entry("faults.ip_banned", faults.ip_banned, {}, {"retry_after": DURATIONS}),
        Entry(
            "faults.exchange_error",
            faults.exchange_error,
            {"code": -2019, "msg": "Margin is insufficient."},
            {
                "code": [0, True, "x", "-2019", 1.5, None, 2**40, -(2**40), NAN],
                "msg": [5, None, b"x", ["x"]],
                "status": ["x", "502", 99, 100, 199, 600, 0, -1, True, 1.5, NAN, 204, 304, 10**400],
            },
        ),
        Entry("faults.latency", faults.latency, {"seconds": 5}, {"seconds": LENGTHS}),
        Entry(
            "faults.ghost",
            faults.ghost,
            {"fault": faults.read_timeout()},
            {
                "fault": [
                    *FAULTS,
                    faults.ghost(faults.bad_gateway()),
                    faults.binance.unknown_execution_status(),
                    faults.latency(5),
                ]
            },
            {"fault": ("ghost",)},
        ),
        Entry(
            "faults.binance.unknown_execution_status",
            faults.binance.unknown_execution_status,
            {},
            {"executed": BOOLS},
        ),
        Entry(
            "faults.HttpFault",
            faults.HttpFault,
            {"name": "x", "status": 502, "body": b"<html>", "headers": {}, "reason": ""},
            {
                "name": [None, 5, "", " "],
                "status": ["502", 99, 600, True, 1.5, 204],
                "body": ["<html>", None, 5, ["x"]],
                "headers": [None, "x", [("a", "b")], {"a": 5}, {5: "a"}, {"a": "b\r\nc"}],
                "reason": [None, 5, "OK\r\n"],
            },
        ),
        Entry(
            "faults.ExchangeErrorFault",
            faults.ExchangeErrorFault,
            {"code": -1, "message": "x"},
            {"code": [0, True, "x", None, 2**40], "message": [None, 5, b"x"], "status": ["x", 99, 600, True]},
            {"message": ("msg",)},
        ),
        Entry(
            "faults.NetworkFault",
            faults.NetworkFault,
            {"name": "x", "kind": "read_timeout"},
            {"name": [None, 5, ""], "kind": ["", "timeout", None, 5, "READ_TIMEOUT"]},
        ),
        Entry(
            "faults.Latency", faults.Latency, {"seconds": 1.0}, {"seconds": LENGTHS, "name": [None, 5, ""]}
        ),
        Entry(
            "faults.Ghost",
            faults.Ghost,
            {"inner": faults.read_timeout()},
            {"inner": [*FAULTS, faults.ghost(faults.bad_gateway())], "label": [5, "", b"x"]},
            {"inner": ("ghost",)},
        ),
        Entry("faults.MalformedBody", faults.MalformedBody, {}, {"name": [None, 5, ""]}),
        Entry(
            "faults.cloudflare_timeout",
            faults.cloudflare_timeout,
            {},
            {"executed": BOOLS, "after": DURATIONS},
        ),
        Entry(
            "faults.CloudflareTimeout",
            faults.CloudflareTimeout,
            {},
            {"after": DURATIONS, "name": [None, 5, ""]},
        ),
        Entry(
            "profiles.binance_502_day",
            profiles.binance_502_day,
            {},
            _with_required(profiles.binance_502_day, {"rate": RATES}),
        ),
        Entry(
            "profiles.flapping_gateway",
            profiles.flapping_gateway,
            {},
            _with_required(
                profiles.flapping_gateway,
                {
                    "start": DURATIONS,
                    "duration": [*LENGTHS, "8000h"],
                    "period": [*LENGTHS, "1ms"],
                    "down": [*LENGTHS, "10m"],
                    "rate": RATES,
                },
            ),
        ),
        Entry(
            "profiles.rate_limit_storm",
            profiles.rate_limit_storm,
            {},
            _with_required(
                profiles.rate_limit_storm,
                {
                    "start": DURATIONS,
                    "duration": LENGTHS,
                    "ban": LENGTHS,
                    "rate": RATES,
                    "retry_after": DURATIONS,
                },
            ),
        ),
        Entry(
            "profiles.maintenance_window",
            profiles.maintenance_window,
            {},
            _with_required(profiles.maintenance_window, {"start": DURATIONS, "duration": LENGTHS}),
        ),
        Entry(
            "profiles.unknown_execution_status",
            profiles.unknown_execution_status,
            {},
            _with_required(
                profiles.unknown_execution_status, {"start": DURATIONS, "duration": LENGTHS, "rate": RATES}
            ),
        ),
        Entry(
            "profiles.ghost_orders",
            profiles.ghost_orders,
            {},
            _with_required(profiles.ghost_orders, {"start": DURATIONS, "duration": LENGTHS, "rate": RATES}),
        ),
        Entry(
            "waves_from_log",
            waves_from_log,
            {"path_or_lines": LOG},
            _with_required(
                waves_from_log,
                {
                    "path_or_lines": [5, None, 1.5, b"x", "no-such-file.log", ["ok", 5], [b"x"], object()],
                    "pattern": ["(", "[", "*", 5, re.compile(b"502"), b"502"],
                    "fault": [x for x in FAULTS if x is not None],
                    "time_format": ["", "%Q", "%Y-%m-%d", "%Y %H", 5, None, b"%H:%M"],
                    "start": [
                        5,
                        1.5,
                        "not a time",
                        "2024-03-12",
                        b"x",
                        datetime(2024, 3, 12, 5, 15, tzinfo=timezone.utc),
                        datetime(2022, 1, 1),
                    ],
                    "rate": RATES,
                    **MATCHERS,
                },
            ),
            {"path_or_lines": ("path_or_lines", "log file")},
        ),
        Entry(
            "waves_from_log (a log with UTC offsets)",
            waves_from_log,
            {"path_or_lines": AWARE_LOG, "time_format": "%Y-%m-%d %H:%M:%S%z"},
            {"start": [datetime(2024, 3, 12, 5, 15), "2024-03-12 05:15:00"]},
        ),
        Entry(
            "ChaosController.assert_positions_protected",
            _assert_positions_protected,
            {"max_unprotected": "30s"},
            {
                "within": [*(x for x in DURATIONS if x is not None), Budget(attempts=5)],
                "max_unprotected": [*(x for x in DURATIONS if x is not None), Budget(attempts=5)],
            },
        ),
    ]
    # Every fault function, even one without arguments, refuses an argument it does not take.
    valid_calls = {id(entry.call): entry.valid for entry in entries}
    for module, prefix in (
        (faults, "faults"),
        (faults.binance, "faults.binance"),
        (faults.bybit, "faults.bybit"),
    ):
        for name in module.__all__:
            function = getattr(module, name)
            if inspect.isfunction(function):
                valid = valid_calls.get(id(function), {})
                entries.append(Entry(f"{prefix}.{name}", function, valid, {"surprise": [1, "x"]}))
    return entries


ENTRIES: list[Entry] = _entries()


def arguments() -> Iterator[tuple[Entry, str]]:
    for entry in ENTRIES:
        for argument in entry.bad:
            yield entry, argument


# -- judging one call -------------------------------------------------------------------------

CLEAR = "clear error"
TRACEBACK = "internal traceback"
ACCEPTED = "silently accepted"


@dataclass(frozen=True)
class Verdict:
    kind: str
    detail: str


def judge(
    attempt: Callable[[], object],
    tokens: Sequence[str],
    documented: tuple[type[BaseException], ...] = (ValueError, TypeError),
) -> Verdict:
    """Run ``attempt``; a clear error is a ``documented`` exception whose message names one of
    ``tokens``. Any other exception, or a message that names none, is an internal traceback."""
    try:
        result = attempt()
    except documented as exc:
        message = str(exc)
        if any(token.lower() in message.lower() for token in tokens):
            return Verdict(CLEAR, message)
        return Verdict(TRACEBACK, f"{type(exc).__name__} not naming {' or '.join(tokens)}: {message}")
    except Exception as exc:
        return Verdict(TRACEBACK, f"{type(exc).__name__}: {exc}")
    return Verdict(ACCEPTED, f"returned {_short(result)}")


def _short(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) < 200 else text[:197] + "..."


def call_with(entry: Entry, argument: str, value: object) -> Verdict:
    kwargs: dict[str, Any] = {**entry.valid, argument: value}
    return judge(lambda: entry.call(**kwargs), entry.tokens(argument))


# -- markers, read as collection reads them ---------------------------------------------------

GATEWAY = faults.bad_gateway()


@dataclass(frozen=True)
class MarkerCase:
    """Invalid marker use: ``exchange_chaos(*args, **kwargs)`` and ``retry_budget(*b_args, **b_kwargs)``."""

    args: tuple[object, ...] = ()
    kwargs: dict[str, object] = field(default_factory=dict)
    budget_args: tuple[object, ...] = ()
    budget_kwargs: dict[str, object] | None = None
    token: str = ""


def _marker_cases() -> list[MarkerCase]:
    cases = [
        MarkerCase(kwargs={"sed": 7}, token="sed"),
        MarkerCase(kwargs={"rate": 0.5}, token="rate"),
        MarkerCase(args=(5,), token="not 5"),
        MarkerCase(args=("502",), token="'502'"),
        MarkerCase(args=(GATEWAY,), token="Wave"),
        MarkerCase(args=([Wave(0, 60, GATEWAY), "x"],), token="'x'"),
        MarkerCase(args=(Wave(0, 60, GATEWAY, venue="binanse"),), token="binanse"),
        MarkerCase(args=(Burst(1, GATEWAY, venue=["bybit", "bybyt"]),), token="bybyt"),
        MarkerCase(kwargs={"profile": "binance_503_day"}, token="profile"),
        MarkerCase(kwargs={"profile": ""}, token="profile"),
        MarkerCase(kwargs={"clock": "wall"}, token="clock"),
        MarkerCase(kwargs={"clock": None}, token="clock"),
        MarkerCase(kwargs={"allow_hosts": "*"}, token="allow_hosts"),
        MarkerCase(kwargs={"allow_hosts": 5}, token="allow_hosts"),
        MarkerCase(kwargs={"allow_hosts": [5]}, token="allow_hosts"),
        MarkerCase(kwargs={"allow_hosts": ["https://example.com"]}, token="allow_hosts"),
        MarkerCase(kwargs={"allow_hosts": ["example.com:443"]}, token="allow_hosts"),
        MarkerCase(kwargs={"allow_hosts": ["10.0.0.0/8"]}, token="allow_hosts"),
        MarkerCase(kwargs={"allow_hosts": [""]}, token="allow_hosts"),
        MarkerCase(budget_args=(Budget(attempts=1),), budget_kwargs={}, token="retry_budget"),
        MarkerCase(budget_kwargs={"stoploss": Budget(attempts=1)}, token="stoploss"),
        MarkerCase(budget_kwargs={"entry": 5}, token="entry"),
        MarkerCase(budget_kwargs={"entry": {"attempts": 5}}, token="entry"),
        MarkerCase(args=(BinanceRateLimits(venue="binancecoinm"),), token="binancecoinm"),
    ]
    cases += [
        MarkerCase(kwargs={"retry_after": v}, token="retry_after") for v in ("yes", True, 60, "Respected")
    ]
    cases += [MarkerCase(kwargs={"seed": seed}, token="seed") for seed in seed_values()]
    cases += [MarkerCase(kwargs={"profile": p}, token="profile") for p in (5, 0, ["binance_502_day"])]
    if "expect_requests" in _chaos_keywords():
        cases += [MarkerCase(kwargs={"expect_requests": v}, token="expect_requests") for v in ("no", 0, None)]
    return cases


def seed_values() -> list[object]:
    return [True, False, "7", 7.0, 1.5, -1, MAX_SEED + 1, 10**400, -(10**400), NAN, [7]]


def _chaos_keywords() -> tuple[str, ...]:
    from pytest_exchange_chaos import _markers

    return tuple(_markers._CHAOS_KWARGS)


MARKER_CASES: list[MarkerCase] = _marker_cases()


class _Hooks:
    def pytest_exchange_chaos_venues(self, config: object) -> list[object]:
        return []


class _Config:
    def __init__(self) -> None:
        self.stash = pytest.Stash()
        self.hook = _Hooks()


class FakeItem:
    """What read_settings reads of a test item: its node id, its marks and its config."""

    def __init__(self, marks: Sequence[pytest.Mark]) -> None:
        self.nodeid = "test_bot.py::test_fuzzed"
        self.config = _Config()
        self._marks = list(marks)

    def iter_markers(self, name: str | None = None) -> Iterator[pytest.Mark]:
        return (mark for mark in self._marks if name is None or mark.name == name)


def marks_of(case: MarkerCase) -> list[pytest.Mark]:
    marks = []
    if case.args or case.kwargs or case.budget_kwargs is None:
        marks.append(pytest.mark.exchange_chaos.with_args(*case.args, **case.kwargs).mark)
    if case.budget_kwargs is not None:
        marks.append(pytest.mark.retry_budget.with_args(*case.budget_args, **case.budget_kwargs).mark)
    return marks


def read_marker(case: MarkerCase) -> Verdict:
    from pytest_exchange_chaos._markers import read_settings

    item: Any = FakeItem(marks_of(case))
    return judge(lambda: read_settings(item), (case.token,), (pytest.UsageError,))


# -- options and ini keys (run through pytest) --------------------------------------------------


@dataclass(frozen=True)
class OptionCase:
    argv: tuple[str, ...] = ()
    ini: str = ""
    token: str = ""


OPTION_CASES: list[OptionCase] = [
    OptionCase(("--chaos-seed=seven",), token="--chaos-seed"),
    OptionCase(("--chaos-seed=-1",), token="--chaos-seed"),
    OptionCase(("--chaos-seed=1e3",), token="--chaos-seed"),
    OptionCase((f"--chaos-seed={2**64}",), token="--chaos-seed"),
    OptionCase(("--chaos-seed=" + "9" * 5000,), token="--chaos-seed"),
    OptionCase(ini="chaos_seed = nan", token="chaos_seed"),
    OptionCase(ini="chaos_seed = -5", token="chaos_seed"),
    OptionCase(("--chaos-report=/proc/no/such/dir/r.json",), token="--chaos-report"),
    OptionCase(("--chaos-report=.",), token="--chaos-report"),
    OptionCase(ini="chaos_report = /proc/no/such/dir/r.json", token="chaos_report"),
    OptionCase(("--chaos-timeline=chart.png",), token="--chaos-timeline"),
    OptionCase(("--chaos-timeline=chart",), token="--chaos-timeline"),
    OptionCase(("--chaos-timeline=/proc/no/such/dir/t.svg",), token="--chaos-timeline"),
    OptionCase(ini="chaos_timeline = chart.pdf", token="chaos_timeline"),
    OptionCase(("--chaos-report-detail=everything",), token="--chaos-report-detail"),
    OptionCase(("--chaos-report-detail=",), token="--chaos-report-detail"),
    OptionCase(ini="chaos_report_detail = journal", token="chaos_report_detail"),
]

PASSING_TEST = "def test_nothing():\n    pass\n"


def judge_run(rc: int, output: str, token: str) -> Verdict:
    """A pytest run given a bad option: exit code 4 (usage error) with one line naming it."""
    if "INTERNALERROR" in output or "Traceback" in output:
        return Verdict(TRACEBACK, output[-2000:])
    if rc != pytest.ExitCode.USAGE_ERROR:
        return Verdict(ACCEPTED if rc == 0 else TRACEBACK, f"exit code {rc}: {output[-2000:]}")
    if token.lower() not in output.lower():
        return Verdict(TRACEBACK, f"usage error not naming {token}: {output[-2000:]}")
    return Verdict(CLEAR, output.strip().splitlines()[-1] if output.strip() else "")
