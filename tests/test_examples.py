"""``pytest examples/`` as ``make examples`` runs it: the naive bot fails, readably; the rest pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def examples_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[pytest.RunResult, Path]:
    # A subprocess from the repository's root, as `make examples` runs it: examples/ brings its
    # own conftest, the repository its ini.
    out = tmp_path_factory.mktemp("examples")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "examples",
        "-p",
        "no:cacheprovider",
        "-rA",
        f"--chaos-report={out / 'chaos-report.json'}",
        f"--chaos-timeline={out / 'chaos-timeline.svg'}",
    ]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    result = pytest.RunResult(
        completed.returncode, completed.stdout.splitlines(), completed.stderr.splitlines(), 0
    )
    return result, out


def test_exactly_the_naive_bots_tests_fail(examples_run: tuple[pytest.RunResult, Path]) -> None:
    result, _ = examples_run
    assert result.ret == 1, "\n".join(result.outlines + result.errlines)
    failed = sorted(line.split()[1] for line in result.outlines if line.startswith("FAILED "))
    assert failed == [
        "examples/test_incident_bot.py::test_a_position_whose_stop_cannot_be_placed_is_closed[naive]",
        "examples/test_incident_bot.py::test_every_stop_loss_survives_three_502s[naive]",
        "examples/test_incident_bot.py::test_the_incident_day[naive]",
        "examples/test_stream_bot.py::test_the_entry_survives_a_disconnect_wave[naive]",
        "examples/test_stream_bot.py::test_the_entry_survives_dropped_messages[naive]",
    ]
    passed = [line.split()[1] for line in result.outlines if line.startswith("PASSED ")]
    assert len(passed) >= 8 and not any("[naive]" in nodeid for nodeid in passed)
    others = ("ERROR examples/", "SKIPPED ", "XFAIL examples/", "XPASS examples/")
    assert not [line for line in result.outlines if line.startswith(others)]


def test_the_naive_day_fails_with_the_budget_verdict(examples_run: tuple[pytest.RunResult, Path]) -> None:
    result, _ = examples_run
    result.stdout.fnmatch_lines(
        [
            "*test_the_incident_day?naive? *",
            "retry budget broken by * operation(s) (seed 5):",
            "",
            "stop-loss * on binanceusdm, first tried at +7h*: never acknowledged, the bot gave up after 1 attempt "
            "(1 attempt*budget 5 attempts / 60 s",
            "    attempt 1 at +7h*: bad_gateway (502)",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*positions left without a protective stop:",
            "*- long 0.01 BTC/USDT:USDT on binanceusdm*no stop-loss order",
        ]
    )


def test_the_naive_stream_bot_fails_with_the_reconciliation_verdict(
    examples_run: tuple[pytest.RunResult, Path],
) -> None:
    result, _ = examples_run
    result.stdout.fnmatch_lines(
        [
            "*test_the_entry_survives_dropped_messages?naive? *",
            "*the bot's view of 1 order(s)/position(s) is not the exchange's*",
            "*- order * (buy limit 0.01 BTC/USDT:USDT on bybit): the bot last heard open, filled 0 (stream "
            "message at +*); the exchange: closed, filled 0.01 (since +30s)",
        ]
    )


def test_the_run_ends_with_the_chaos_report(examples_run: tuple[pytest.RunResult, Path]) -> None:
    result, out = examples_run
    lines = result.outlines
    section = max(i for i, line in enumerate(lines) if "exchange chaos" in line and line.startswith("="))
    short_summary = max(i for i, line in enumerate(lines) if "short test summary info" in line)
    assert section > short_summary
    result.stdout.fnmatch_lines(
        [
            "*BROKEN examples/test_incident_bot.py::test_the_incident_day?naive? (seed 5)*stop_loss BROKEN*",
            "repeat with --chaos-seed=*",
        ]
    )
    document = json.loads((out / "chaos-report.json").read_text(encoding="utf-8"))
    outcomes = {t["nodeid"].split("::")[-1]: t["outcome"] for t in document["tests"]}
    assert outcomes["test_the_incident_day[naive]"] == "failed"
    assert outcomes["test_the_incident_day[hardened]"] == "passed"
    assert (out / "chaos-timeline.svg").read_text(encoding="utf-8").startswith("<svg")
