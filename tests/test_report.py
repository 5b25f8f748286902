"""The chaos report: the terminal summary, the JSON against its published schema, the timeline file."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from pytest_exchange_chaos.report import summary_lines

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "docs" / "reference" / "report.schema.json").read_text(encoding="utf-8")
)

SUITE = """
import pytest
from pytest_exchange_chaos import Budget, Burst, Wave, faults

SYMBOL = "BTC/USDT:USDT"

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(count=1, fault=faults.bad_gateway(), intent="stop_loss"), seed=11)
@pytest.mark.retry_budget(stop_loss=Budget(attempts=5, seconds=60))
async def test_a_raw_stop_breaks_its_budget(binance):
    await binance.load_markets()
    await binance.create_order(SYMBOL, "market", "buy", 0.01)
    try:
        await binance.create_order(SYMBOL, "STOP_MARKET", "sell", 0.01, None, {"stopPrice": 50000, "reduceOnly": True})
    except Exception:
        pass

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave(start=0, duration="1m", fault=faults.gateway_timeout(), rate=1.0, limit=2, intent="market_data"))
@pytest.mark.retry_budget(market_data=Budget(attempts=3))
async def test_a_retried_read_keeps_its_budget(binance):
    for _ in range(3):
        try:
            await binance.fetch_time()
            break
        except Exception:
            pass

@pytest.mark.asyncio
async def test_a_refused_order_is_refused(exchange_chaos, binance):
    await binance.load_markets()
    with pytest.raises(Exception):
        await binance.create_order(SYMBOL, "market", "sell", 0.01, None, {"reduceOnly": True})

def test_without_chaos_is_not_in_the_report():
    pass
"""


@pytest.fixture
def suite(chaos_pytester: pytest.Pytester) -> pytest.Pytester:
    chaos_pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text(encoding="utf-8"))
    chaos_pytester.makepyfile(test_suite=SUITE)
    return chaos_pytester


def test_the_terminal_summary_tells_the_run(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--chaos-seed=5")
    result.assert_outcomes(failed=1, passed=3)
    result.stdout.fnmatch_lines(
        [
            "*= exchange chaos =*",
            "3 chaos tests: * requests, 3 faults injected, 1 refused by the exchange",
            "faults by kind:",
            "  gateway_timeout *2",
            "  bad_gateway *1",
            "operations by intent:",
            "  intent        operations  acknowledged  never acknowledged  most attempts  median time to success  slowest success",
            "  entry * 1 * 1 * 0 * 1 *",
            "  market_data * 3 *",
            "retry budgets:",
            "  BROKEN test_suite.py::test_a_raw_stop_breaks_its_budget (seed 11): stop_loss BROKEN by 1 of 1 ops (budget 5 attempts / 60 s)",
            "  kept   test_suite.py::test_a_retried_read_keeps_its_budget (seed 5): market_data kept (*)",
            "repeat with --chaos-seed=5",
        ]
    )
    # The run ends with the chaos report, after pytest's own short summary.
    lines = result.outlines
    assert max(i for i, line in enumerate(lines) if "short test summary" in line) < max(
        i for i, line in enumerate(lines) if "exchange chaos" in line
    )


def test_the_json_report_follows_its_schema(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--chaos-seed=5", "--chaos-report=out/report.json", "--chaos-report-detail=full")
    result.assert_outcomes(failed=1, passed=3)
    result.stdout.fnmatch_lines(["report: */out/report.json"])
    document = json.loads((suite.path / "out" / "report.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft202012Validator)

    assert document["seed"] == 5
    tests = {t["nodeid"].split("::")[1]: t for t in document["tests"]}
    assert sorted(tests) == [
        "test_a_raw_stop_breaks_its_budget",
        "test_a_refused_order_is_refused",
        "test_a_retried_read_keeps_its_budget",
    ]
    raw = tests["test_a_raw_stop_breaks_its_budget"]
    assert (raw["outcome"], raw["seed"]) == ("failed", 11)
    [verdict] = raw["verdicts"]
    assert (verdict["intent"], verdict["kept"], verdict["broken"]) == ("stop_loss", False, 1)
    assert "never acknowledged" in verdict["breaches"][0]
    assert [r["outcome"] for r in raw["journal"] if r["intent"] == "stop_loss"] == ["faulted"]
    read = tests["test_a_retried_read_keeps_its_budget"]
    assert read["outcome"] == "passed"
    assert read["schedules"] == [
        {
            "kind": "wave",
            "start": 0.0,
            "end": 60.0,
            "rate": 1.0,
            "limit": 2,
            "fault": "gateway_timeout",
            "matches": "intent market_data",
            "text": "Wave(+0s for 60s, gateway_timeout, rate=1, limit=2, intent market_data)",
        }
    ]
    [time_op] = [op for op in read["operations"] if op["intent"] == "market_data" and op["attempts"] == 3]
    assert time_op["succeeded"] and time_op["acknowledged_at"] >= time_op["started_at"]
    refused = tests["test_a_refused_order_is_refused"]
    assert [r["outcome"] for r in refused["journal"] if r["intent"] != "market_data"] == ["refused"]
    assert "***" in json.dumps(document) and "test-secret" not in json.dumps(document)


def test_the_ini_twins_write_the_report_and_the_timeline(suite: pytest.Pytester) -> None:
    suite.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\nfilterwarnings =\n    error\n"
        "chaos_report = ini-report.json\nchaos_timeline = ini-timeline.html\n"
    )
    result = suite.runpytest("--chaos-seed=5")
    result.assert_outcomes(failed=1, passed=3)
    assert json.loads((suite.path / "ini-report.json").read_text(encoding="utf-8"))["seed"] == 5
    page = (suite.path / "ini-timeline.html").read_text(encoding="utf-8")
    assert (
        page.startswith("<!DOCTYPE html>") and "<svg" in page and "test_a_raw_stop_breaks_its_budget" in page
    )


def test_the_report_comes_home_from_xdist_workers(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "-p", "xdist", "-n", "2", "--chaos-seed=5", "--chaos-report=r.json", "--chaos-timeline=t.svg"
    )
    result.assert_outcomes(failed=1, passed=3)
    document = json.loads((suite.path / "r.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert len(document["tests"]) == 3
    assert {t["outcome"] for t in document["tests"]} == {"passed", "failed"}
    assert (suite.path / "t.svg").read_text(encoding="utf-8").startswith("<svg")
    result.stdout.fnmatch_lines(["retry budgets:", "repeat with --chaos-seed=5"])


def test_no_chaos_tests_no_summary(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile("def test_plain():\n    pass\n")
    result = chaos_pytester.runpytest("--chaos-report=r.json")
    result.assert_outcomes(passed=1)
    assert "exchange chaos" not in result.stdout.str()
    assert json.loads((chaos_pytester.path / "r.json").read_text(encoding="utf-8"))["tests"] == []


def test_a_path_that_cannot_be_written_stops_the_run_before_any_test(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile("def test_plain():\n    raise AssertionError('must not run')\n")
    (chaos_pytester.path / "taken").write_text("a file, not a directory", encoding="utf-8")
    result = chaos_pytester.runpytest("--chaos-report=taken/r.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --chaos-report=taken/r.json: cannot write there (*)*"])
    result = chaos_pytester.runpytest("--chaos-timeline=chart.png")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --chaos-timeline=chart.png: the timeline is drawn as .svg or *"])
    assert not (chaos_pytester.path / "chart.png").exists()
    # An unset shell variable ("--chaos-report=$REPORT") must not quietly write no report.
    result = chaos_pytester.runpytest("--chaos-report=")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --chaos-report= was given an empty path; write a file path, *"])


def test_a_report_lost_at_the_end_is_said_and_fails_the_run(chaos_pytester: pytest.Pytester) -> None:
    # The directory was writable at the start and went away during the run.
    chaos_pytester.makepyfile("import shutil\n\ndef test_cleans_up():\n    shutil.rmtree('out')\n")
    result = chaos_pytester.runpytest("--chaos-report=out/r.json")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*exchange chaos*", "report NOT written to *r.json: *No such file*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_summary_lines_show_long_times_on_the_clock() -> None:
    op = {
        "intent": "stop_loss",
        "succeeded": True,
        "attempts": 4,
        "started_at": 10.0,
        "acknowledged_at": 400.0,
    }
    entry = {"nodeid": "t", "seed": 1, "journal": [], "operations": [op], "verdicts": []}
    lines = summary_lines(1, [entry])
    assert lines[0] == "1 chaos test: 0 requests, 0 faults injected, 0 refused by the exchange"
    assert "6m30s" in lines[3] and lines[-1] == "repeat with --chaos-seed=1"


def _naked(seconds: float) -> dict[str, object]:
    return {"seconds": seconds, "text": f"long 0.01 BTC/USDT:USDT on bybit unprotected for {seconds:g}s"}


@pytest.mark.parametrize(
    ("positions", "tail"),
    [
        (
            [0.2, 0.3],
            ["unprotected positions (time without a covering stop-loss): 2", "  each for less than 1 s"],
        ),
        (
            [5.0, 0.3],
            [
                "unprotected positions (time without a covering stop-loss): 2",
                "  t.py::test_bot: long 0.01 BTC/USDT:USDT on bybit unprotected for 5s",
                "  1 more, each for less than 1 s",
            ],
        ),
    ],
)
def test_brief_unprotected_positions_are_counted_once(positions: list[float], tail: list[str]) -> None:
    entry = {"nodeid": "t.py::test_bot", "journal": [], "operations": [], "verdicts": []}
    entry["unprotected"] = [_naked(s) for s in positions]
    lines = summary_lines(1, [entry])
    start = lines.index(tail[0])
    assert lines[start : start + len(tail)] == tail
