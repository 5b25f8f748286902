"""Stream outages in the report a person reads: the terminal summary counts the stream faults
and lists the outages, the JSON carries them per venue, the timeline draws them in a row."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from pytest_exchange_chaos.report import summary_lines

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "docs" / "reference" / "report.schema.json").read_text(encoding="utf-8")
)

SUITE = """
import asyncio
import ccxt
import ccxt.pro
import pytest
from pytest_exchange_chaos import Wave, faults

KEYS = {"apiKey": "test-key-0123456789", "secret": "test-secret-abcdef"}

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave("10s", "30s", faults.stream.disconnect(1006), stream="ticker"), seed=3)
async def test_a_ticker_bot_rides_out_a_disconnect_wave(exchange_chaos):
    exchange = ccxt.pro.binanceusdm(dict(KEYS))
    try:
        seen = 0
        while exchange_chaos.now() < 60:
            try:
                await exchange.watch_ticker("BTC/USDT:USDT")
                seen += 1
            except ccxt.NetworkError:
                pass
            await exchange.sleep(1000)
        assert seen
    finally:
        await exchange.close()

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Wave("10s", "2m", faults.stream.disconnect(1006), stream="private"))
async def test_a_fill_while_the_stream_is_down(exchange_chaos):
    bybit = ccxt.pro.bybit(dict(KEYS))
    try:
        watching = asyncio.ensure_future(bybit.watch_orders("BTC/USDT:USDT"))
        await asyncio.sleep(1)
        entry = await bybit.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, 59_000)
        await watching
        with pytest.raises(ccxt.NetworkError):
            await bybit.watch_orders("BTC/USDT:USDT")  # cut at +10s; the bot does not come back
        await asyncio.sleep(30 - exchange_chaos.now())
        exchange_chaos.venue("bybit").set_price("BTC/USDT:USDT", 58_000)  # the fill nobody hears
        await bybit.fetch_order(entry["id"], "BTC/USDT:USDT", {"acknowledged": True})
    finally:
        await bybit.close()

@pytest.mark.asyncio
@pytest.mark.exchange_chaos
async def test_a_rest_only_bot_has_no_streams(exchange_chaos):
    exchange = ccxt.pro.binanceusdm(dict(KEYS))
    try:
        await exchange.fetch_time()
    finally:
        await exchange.close()
"""


def test_stream_outages_reach_the_summary_the_json_and_the_timeline(chaos_pytester: pytest.Pytester) -> None:
    # One run of the suite serves the three readers (it takes seconds).
    run = _run(chaos_pytester)
    _the_json_report_carries_each_venues_stream_outages(run)
    _the_terminal_summary_counts_stream_faults_and_lists_the_outages(run)
    _the_timeline_draws_the_streams_in_a_row_of_their_own(run)


def _run(chaos_pytester: pytest.Pytester) -> tuple[pytest.RunResult, dict[str, dict[str, object]], str]:
    chaos_pytester.makepyfile(test_stream_bot=SUITE)
    result = chaos_pytester.runpytest(
        "-p", "no:cacheprovider", "--chaos-report=report.json", "--chaos-timeline=timeline.svg"
    )
    result.assert_outcomes(passed=3)
    document = json.loads((chaos_pytester.path / "report.json").read_text(encoding="utf-8"))
    tests = {t["nodeid"].rsplit("::", 1)[1]: t for t in document["tests"]}
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft202012Validator)
    svg = (chaos_pytester.path / "timeline.svg").read_text(encoding="utf-8")
    return result, tests, svg


def _the_json_report_carries_each_venues_stream_outages(
    run: tuple[pytest.RunResult, dict[str, dict[str, object]], str],
) -> None:
    _, tests, _ = run
    streams = tests["test_a_ticker_bot_rides_out_a_disconnect_wave"]["streams"]
    assert isinstance(streams, dict)
    binance = streams["binanceusdm"]
    assert binance["connections"] >= 2
    assert binance["faults"]["stream_disconnect"] >= 1
    assert binance["closes"]["1006"] >= 1
    (first, *_) = binance["outages"]
    assert first["why"] == "closed 1006"
    assert 10 <= first["from"] < 11
    assert first["to"] is not None and first["seconds"] == pytest.approx(first["to"] - first["from"])
    assert first["text"].startswith("binanceusdm stream (ticker) closed 1006 at +10")
    assert first["streams"] == ["ticker"]
    assert tests["test_a_rest_only_bot_has_no_streams"]["streams"] == {}
    # The fill published while the private stream was down counts as lost.
    down = tests["test_a_fill_while_the_stream_is_down"]["streams"]
    assert isinstance(down, dict)
    assert (down["bybit"]["closes"], down["bybit"]["lost"]) == ({"1006": 1}, 1)


def _the_terminal_summary_counts_stream_faults_and_lists_the_outages(
    run: tuple[pytest.RunResult, dict[str, dict[str, object]], str],
) -> None:
    result, _, _ = run
    output = result.stdout.str()
    summary = output[output.index("exchange chaos ====") :]
    assert " 0 faults injected" not in summary
    result.stdout.re_match_lines([r"faults by kind:", r"\s+stream_disconnect\s+\d+"], consecutive=False)
    result.stdout.re_match_lines(
        [
            r"stream outages \(down, silent or expired\): \d+",
            r"\s+test_stream_bot.py::test_a_ticker_bot_rides_out_a_disconnect_wave: "
            r"binanceusdm stream \(ticker\) closed 1006 at \+\d+.*, for [\d.]+s",
        ],
        consecutive=False,
    )


def _the_timeline_draws_the_streams_in_a_row_of_their_own(
    run: tuple[pytest.RunResult, dict[str, dict[str, object]], str],
) -> None:
    _, _, svg = run
    assert svg.count(">streams</text>") == 2  # only the tests that opened streams have the row
    assert "<title>binanceusdm stream (ticker) closed 1006 at +10" in svg
    assert "outage(s)" in svg and "down</text>" in svg
    assert re.search(r"\d+ requests, \d+ faulted, \d+ stream faults</text>", svg)


def _outage(start: float, end: float | None) -> dict[str, object]:
    seconds = (end if end is not None else 40.0) - start
    return {
        "connection": 1,
        "streams": ["order"],
        "from": start,
        "to": end,
        "why": "closed 1006",
        "seconds": seconds,
        "text": f"bybit stream (order) closed 1006 at +{start:g}s",
    }


def test_a_stream_cut_again_and_again_is_one_line_and_outages_read_in_the_order_they_began() -> None:
    streams = {
        "connections": 3,
        "refused": 0,
        "closes": {"1006": 3},
        "delivered": 0,
        "dropped": 0,
        "lost": 0,
        "faults": {"stream_disconnect": 3},
    }
    again = {**streams, "outages": [_outage(10, 11), _outage(12, 14), _outage(20, None)]}
    stall = {
        **streams,
        "outages": [
            {
                **_outage(5, 8),
                "why": "stalled",
                "streams": ["ticker"],
                "text": "binanceusdm stream (ticker) stalled at +5s, for 3s",
            }
        ],
    }
    entry = {
        "nodeid": "t.py::test_bot",
        "journal": [],
        "operations": [],
        "verdicts": [],
        "streams": {"bybit": again, "binanceusdm": stall},
    }
    lines = summary_lines(1, [entry])
    start = lines.index("stream outages (down, silent or expired): 4")
    assert lines[start + 1 : start + 3] == [
        "  t.py::test_bot: binanceusdm stream (ticker) stalled at +5s, for 3s",
        "  t.py::test_bot: bybit stream (order) closed 1006 3 times between +10s and +20s, "
        "23s down in all, the last until the end",
    ]
