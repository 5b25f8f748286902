"""Reports a person reads: a failing verdict shows the user's line and our message, not our code;
a budget broken in a test whose body raised still tells its story; the summary's header is words;
the JSON report is small unless asked for the journal; the timeline tells ghosts, duplicates and
refusals apart; the docs' samples of our output are what the plugin prints today."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

DUPLICATE = """
import pytest

from pytest_exchange_chaos import Burst, faults


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.cloudflare_timeout(), intent="entry"))
async def test_retry_after_a_ghost(chaos_binanceusdm, exchange_chaos):
    await chaos_binanceusdm.load_markets()
    for _ in range(2):
        order = await chaos_binanceusdm.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
        if order["id"] is not None:
            break
    exchange_chaos.assert_no_duplicate_orders()


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.bad_gateway(), intent="entry"))
async def test_never_placed(chaos_binanceusdm, exchange_chaos):
    await chaos_binanceusdm.load_markets()
    with pytest.raises(Exception):
        await chaos_binanceusdm.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    exchange_chaos.assert_placed("entry")


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(1, faults.bad_gateway(), intent="entry"))
async def test_unprotected(chaos_binanceusdm, exchange_chaos):
    await chaos_binanceusdm.load_markets()
    for _ in range(2):
        try:
            await chaos_binanceusdm.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
            break
        except Exception:
            pass
    exchange_chaos.assert_positions_protected()
"""


def test_a_failing_verdict_shows_the_users_line_not_the_plugins_code(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(test_verdicts=DUPLICATE)
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    out = result.stdout.str()
    for line in (
        "exchange_chaos.assert_no_duplicate_orders()",
        'exchange_chaos.assert_placed("entry")',
        "exchange_chaos.assert_positions_protected()",
    ):
        assert f">       {line}" in out, out
    assert "controller.py" not in out, out
    assert "def assert_" not in out and "raise AssertionError" not in out, out
    assert "E       AssertionError: 1 order(s) placed more than once" in out


BODY_RAISES = """
import ccxt
import pytest

from pytest_exchange_chaos import Budget, Burst, faults


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(3, faults.bad_gateway(), intent="entry"))
@pytest.mark.retry_budget(entry=Budget(attempts=2))
async def test_the_bot_crashes_after_blowing_its_budget(chaos_binanceusdm, exchange_chaos):
    await chaos_binanceusdm.load_markets()
    for _ in range(4):
        try:
            await chaos_binanceusdm.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
            break
        except ccxt.NetworkError:
            pass
    raise KeyError("the bot crashed on something else")
"""


def test_a_budget_broken_before_the_body_raised_still_tells_its_story(
    chaos_pytester: pytest.Pytester,
) -> None:
    chaos_pytester.makepyfile(test_crash=BODY_RAISES)
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines(
        [
            r"E\s+KeyError: 'the bot crashed on something else'",
            r"-+ exchange chaos: retry budget -+",
            r"retry budget broken by 1 operation\(s\) \(seed \d+\):",
            r"entry buy 0.01 BTC/USDT:USDT on binanceusdm, first tried at .*budget 2 attempts",
            r"\s+attempt 1 at \+\S+: bad_gateway \(502\)",
            r"\s+attempt 4 at \+\S+: acknowledged \(200\)",
        ]
    )


def test_a_verdict_that_already_told_the_story_is_not_told_twice(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(
        test_told=BODY_RAISES.replace(
            'raise KeyError("the bot crashed on something else")',
            'exchange_chaos.assert_placed("entry", within=Budget(attempts=2))',
        )
    )
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert result.stdout.str().count("attempt 1 at") == 1, result.stdout.str()


SCHEMA = json.loads((ROOT / "docs" / "reference" / "report.schema.json").read_text(encoding="utf-8"))

A_LONG_DAY = """
import asyncio

import ccxt
import pytest

from pytest_exchange_chaos import Burst, faults


@pytest.mark.asyncio
@pytest.mark.exchange_chaos(Burst(2, faults.bad_gateway(), intent="entry", after=3), seed=3)
async def test_a_day_of_polling(chaos_binanceusdm):
    await chaos_binanceusdm.load_markets()
    for _ in range(300):  # a ticker a minute for five hours
        await chaos_binanceusdm.fetch_ticker("BTC/USDT:USDT")
        await asyncio.sleep(60)
    for _ in range(5):
        for attempt in range(3):
            try:
                await chaos_binanceusdm.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
                break
            except ccxt.NetworkError:
                pass
"""


def _validate(document: dict[str, object]) -> None:
    import jsonschema

    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_the_json_report_is_a_summary_unless_the_journal_is_asked_for(
    chaos_pytester: pytest.Pytester,
) -> None:
    chaos_pytester.makepyfile(test_day=A_LONG_DAY)
    chaos_pytester.runpytest("-p", "no:cacheprovider", "--chaos-report=summary.json").assert_outcomes(
        passed=1
    )
    full_run = chaos_pytester.runpytest(
        "-p", "no:cacheprovider", "--chaos-report=full.json", "--chaos-report-detail=full"
    )
    full_run.assert_outcomes(passed=1)
    summary_text = (chaos_pytester.path / "summary.json").read_text(encoding="utf-8")
    full_text = (chaos_pytester.path / "full.json").read_text(encoding="utf-8")
    summary, full = json.loads(summary_text), json.loads(full_text)
    _validate(summary)
    _validate(full)
    assert (summary["detail"], full["detail"]) == ("summary", "full")
    (short,), (long,) = summary["tests"], full["tests"]
    assert "journal" not in short and len(long["journal"]) == long["requests"]["total"] > 300
    assert len(summary_text) * 10 < len(full_text), (len(summary_text), len(full_text))
    # What a reader needs is all there: totals, and every operation that was not a plain success.
    assert short["requests"] == long["requests"]
    assert short["requests"]["faults"] == {"bad_gateway": 2}
    assert short["intents"] == long["intents"] and short["intents"]["entry"]["attempts_max"] == 3
    (retried,) = short["operations"]
    assert (retried["intent"], retried["attempts"], retried["faults"]) == ("entry", 3, ["bad_gateway"] * 2)
    assert short["operations_omitted"] == len(long["operations"]) - 1 > 300


@pytest.mark.parametrize(
    ("args", "ini", "said"),
    [
        (["--chaos-report-detail=everything"], "", "--chaos-report-detail=everything: write summary"),
        (["--chaos-report-detail="], "", "--chaos-report-detail=: write summary"),
        ([], "chaos_report_detail = verbose\n", "ini chaos_report_detail = verbose: write summary"),
    ],
)
def test_a_report_detail_that_is_not_summary_or_full_stops_the_run(
    chaos_pytester: pytest.Pytester, args: list[str], ini: str, said: str
) -> None:
    chaos_pytester.makeini("[pytest]\nfilterwarnings =\n    error\n" + ini)
    chaos_pytester.makepyfile("def test_plain():\n    raise AssertionError('must not run')\n")
    result = chaos_pytester.runpytest("--chaos-report=r.json", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert said in result.stderr.str() and "or full (every request too)" in result.stderr.str()


def test_the_summary_table_header_reads_as_words(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(test_day=A_LONG_DAY)
    result = chaos_pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.re_match_lines(
        [
            r"^operations by intent:$",
            r"^  intent +operations +acknowledged +never acknowledged +most attempts +"
            r"median time to success +slowest success$",
            r"^  entry +5 +5 +0 +3 +",
        ]
    )


# -- the timeline -------------------------------------------------------------------------------

SVG_NS = "{http://www.w3.org/2000/svg}"


def _record(t: float, outcome: str, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "t": t,
        "delay": 0.0,
        "intent": "entry",
        "outcome": outcome,
        "fault": "bad_gateway" if outcome == "faulted" else None,
        "method": "POST",
        "path": "/fapi/v1/order",
        "executed": False,
        "order_id": None,
    }
    return {**base, **extra}


def _op(attempts: list[float], **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "intent": "entry",
        "label": "entry buy 0.01 BTC/USDT:USDT on binanceusdm",
        "succeeded": False,
        "rejected": False,
        "attempts": len(attempts),
        "started_at": attempts[0],
        "last_attempt_at": attempts[-1],
        "placements": 0,
        "placed_at": [],
    }
    return {**base, **extra}


def _picture(journal: list[dict[str, object]], operations: list[dict[str, object]]) -> ET.Element:
    from pytest_exchange_chaos import timeline

    test = {
        "nodeid": "t.py::test_x",
        "outcome": "failed",
        "seed": 1,
        "duration_chaos_seconds": 100.0,
        "schedules": [],
        "verdicts": [],
        "journal": journal,
        "operations": operations,
    }
    return ET.fromstring(timeline.render_svg({"seed": 1, "tests": [test]}))


def _crosses(root: ET.Element) -> list[float]:
    """The x of every cross in the lanes (the legend's, at the top, left out)."""
    xs = []
    for group in root.iter(f"{SVG_NS}g"):
        lines = list(group.iter(f"{SVG_NS}line"))
        if lines and float(lines[0].get("y1", 0)) > 60:
            xs.append((float(lines[0].get("x1", 0)) + float(lines[0].get("x2", 0))) / 2)
    return xs


def test_a_cross_marks_the_last_attempt_of_an_order_never_placed() -> None:
    from pytest_exchange_chaos import timeline

    journal = [_record(t, "faulted") for t in (10.0, 20.0, 90.0)]
    root = _picture(journal, [_op([10.0, 20.0, 90.0])])
    (x,) = _crosses(root)
    axis = timeline._Axis(0.0, 100.0, timeline.LABEL_WIDTH, timeline.PLOT_WIDTH)
    assert abs(x - axis.x(90.0)) < 1 and abs(x - axis.x(10.0)) > 100


def test_a_ghost_is_drawn_apart_and_an_order_the_exchange_holds_gets_no_cross() -> None:
    from pytest_exchange_chaos import timeline

    journal = [_record(50.0, "faulted", fault="cloudflare_timeout", executed=True, order_id="77")]
    root = _picture(journal, [_op([50.0], placements=1, placed_at=[50.0])])
    assert _crosses(root) == []
    ghosts = [r for r in root.iter(f"{SVG_NS}rect") if r.get("fill") == timeline.GHOST]
    assert any("but the exchange executed it (order 77)" in "".join(r.itertext()) for r in ghosts)
    plain = [r for r in root.iter(f"{SVG_NS}rect") if r.get("fill") == timeline.COLOURS["faulted"]]
    assert len(plain) == 1  # the legend's only: the ghost is not drawn as a plain fault
    labels = ["".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")]
    assert "0 of 1 ok, 1 placed unseen" in labels


def test_refused_requests_are_drawn_tall_and_solid() -> None:
    from pytest_exchange_chaos import timeline

    journal = [_record(30.0, "refused", status=400, error_code=-2019)]
    root = _picture(journal, [_op([30.0], rejected=True)])
    refused = [
        r
        for r in root.iter(f"{SVG_NS}rect")
        if r.get("fill") == timeline.COLOURS["refused"] and float(r.get("y", 0)) > 60
    ]
    (mark,) = refused
    assert float(mark.get("height", 0)) >= timeline.LANE * 0.7 and mark.get("fill-opacity") == "0.9"
    assert _crosses(root) == []


def test_a_duplicate_reads_placed_2x_on_the_timeline(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile(test_verdicts=DUPLICATE)
    chaos_pytester.runpytest("-p", "no:cacheprovider", "-k", "ghost", "--chaos-timeline=t.svg")
    root = ET.fromstring((chaos_pytester.path / "t.svg").read_text(encoding="utf-8"))
    labels = ["".join(t.itertext()) for t in root.iter(f"{SVG_NS}text")]
    assert "placed 2x" in labels
    assert "1 of 1 ok, 1 placed 2x+" in labels
    assert _crosses(root) == []


def test_the_timeline_cli_refuses_a_summary_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_exchange_chaos import timeline

    report = tmp_path / "r.json"
    test = {"nodeid": "t", "seed": 1, "operations": [], "verdicts": []}
    report.write_text(json.dumps({"seed": 1, "detail": "summary", "tests": [test]}), encoding="utf-8")
    assert timeline.main([str(report), str(tmp_path / "t.svg")]) == 2
    assert "--chaos-report-detail=full" in capsys.readouterr().err
    assert not (tmp_path / "t.svg").exists()


def test_a_report_detail_without_a_report_is_a_usage_error(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.makepyfile("def test_plain():\n    raise AssertionError('must not run')\n")
    result = chaos_pytester.runpytest("--chaos-report-detail=full")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "no report is written: add --chaos-report=PATH" in result.stderr.str()
