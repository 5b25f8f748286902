"""waves_from_log: a bot's own log, turned into the waves of the day it describes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from pytest_exchange_chaos import faults, profiles, waves_from_log
from pytest_exchange_chaos._durations import parse_duration

INCIDENT_LOG = Path(__file__).parent / "data" / "incident.log"
SEED = 2


def shape(waves: list) -> list[tuple[float, float, int | None]]:  # type: ignore[type-arg]
    return [(w.start, w.duration, w.limit) for w in waves]


def test_the_incident_log_is_the_incident_day() -> None:
    waves = waves_from_log(INCIDENT_LOG)
    assert shape(waves) == [
        (parse_duration("4h36m"), 60.0, 3),
        (parse_duration("7h01m"), 60.0, 21),
        (parse_duration("7h07m"), 60.0, 35),
    ]
    assert {w.fault.name for w in waves} == {"bad_gateway"}


def test_traceback_lines_repeating_the_error_are_not_counted_twice() -> None:
    text = INCIDENT_LOG.read_text(encoding="utf-8")
    assert text.count("502 Bad Gateway") > 3 + 21 + 35  # the tracebacks repeat it
    assert sum(w.limit or 0 for w in waves_from_log(INCIDENT_LOG)) == 3 + 21 + 35


def test_the_log_replays_as_the_profile_with_the_profiles_matchers() -> None:
    from_log = waves_from_log(
        str(INCIDENT_LOG), rate=0.5, intent=profiles.ORDER_PLACEMENT, venue="binanceusdm"
    )
    profile = profiles.binance_502_day()
    assert [repr(w) for w in from_log] == [repr(w) for w in profile]


def test_lines_text_and_paths_are_all_logs() -> None:
    lines = ["2024-03-12 05:15:00,001 INFO start", "2024-03-12 05:16:10,200 ERROR 502 Bad Gateway"]
    expected = [(60.0, 60.0, 1)]
    assert shape(waves_from_log(lines)) == expected
    assert shape(waves_from_log("\n".join(lines))) == expected
    assert shape(waves_from_log(iter(lines))) == expected


def test_pattern_fault_and_time_format_are_the_callers() -> None:
    lines = [
        "12/03/2024 05:15:00 | boot",
        "12/03/2024 05:20:05 | HTTP 503 from fapi",
        "12/03/2024 05:20:40 | http 503 from fapi",
    ]
    [wave] = waves_from_log(
        lines,
        pattern=r"(?i)http 503",
        fault=faults.service_unavailable(),
        time_format="%d/%m/%Y %H:%M:%S",
        endpoint="POST /fapi/v1/order",
    )
    assert (wave.start, wave.limit, wave.fault.name) == (300.0, 2, "service_unavailable")
    assert wave.matcher.endpoint == (("POST", "/fapi/v1/order"),)


def test_minutes_before_the_start_are_left_out_and_a_partial_minute_is_cut() -> None:
    lines = [
        "2024-03-12 05:14:10 502 Bad Gateway",
        "2024-03-12 05:15:40 502 Bad Gateway",
        "2024-03-12 05:17:00 502 Bad Gateway",
    ]
    waves = waves_from_log(lines, start="2024-03-12 05:15:30")
    assert shape(waves) == [(0.0, 30.0, 1), (90.0, 60.0, 1)]
    with pytest.raises(ValueError, match="no timestamped line after start= matches pattern='502 Bad Gateway'"):
        waves_from_log(lines, start=datetime(2024, 3, 12, 5, 18))


def test_a_pattern_that_matches_no_line_is_an_error_not_an_empty_replay() -> None:
    lines = ["2024-03-01 04:36:12 WARN gateway said: Bad Gateway on POST /fapi/v1/order"]
    with pytest.raises(ValueError, match=r"no timestamped line in the log matches pattern='502 Bad Gateway'"):
        waves_from_log(lines)
    assert len(waves_from_log(lines, pattern="Bad Gateway")) == 1


def test_a_log_without_dates_rolls_over_at_midnight() -> None:
    lines = [
        "23:58:30 start",
        "23:59:10 502 Bad Gateway",
        "23:59:05 502 Bad Gateway",
        "00:01:10 502 Bad Gateway",
    ]
    assert shape(waves_from_log(lines, time_format="%H:%M:%S")) == [(30.0, 60.0, 2), (150.0, 60.0, 1)]


def test_a_timestamp_shaped_number_that_is_no_date_is_skipped() -> None:
    lines = [
        "2024-03-12 05:15:00 start",
        "2024-99-99 99:99:99 502 Bad Gateway",
        "2024-03-12 05:16:00 502 Bad Gateway",
    ]
    assert shape(waves_from_log(lines)) == [(60.0, 60.0, 1)]


def test_mistakes_say_what_to_write() -> None:
    with pytest.raises(ValueError, match="no line of the log has a timestamp"):
        waves_from_log(["no time here"])
    with pytest.raises(ValueError, match="%Q is not supported"):
        waves_from_log(["x"], time_format="%Q")


INCIDENT_TEST = """
import pytest
from pytest_exchange_chaos import Budget, profiles, waves_from_log
import incident_bot

WAVES = {waves}
BUDGET = Budget(attempts=5, seconds=60)

@pytest.mark.asyncio
@pytest.mark.exchange_chaos(WAVES)
@pytest.mark.parametrize("hardened", [False, True], ids=["naive", "hardened"])
@pytest.mark.retry_budget(entry=BUDGET, stop_loss=BUDGET)
async def test_day(binance, hardened):
    await incident_bot.IncidentBot(binance, hardened=hardened).run_day(hours=7 + 22 / 60)
"""


def _verdicts(pytester: pytest.Pytester, waves: str) -> dict[str, str]:
    pytester.makepyfile(test_incident_day=INCIDENT_TEST.format(waves=waves))
    result = pytester.runpytest(f"--chaos-seed={SEED}")
    result.assert_outcomes(failed=1, passed=1)
    return {
        report.nodeid: str(report.longrepr)
        for report in result.reprec.getreports("pytest_runtest_logreport")  # type: ignore[attr-defined]
        if report.failed
    }


def test_replaying_the_log_gives_the_profiles_verdict(chaos_pytester: pytest.Pytester) -> None:
    chaos_pytester.syspathinsert(str(Path(__file__).parents[1] / "examples"))
    chaos_pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text(encoding="utf-8"))
    from_log = _verdicts(
        chaos_pytester,
        f'waves_from_log({str(INCIDENT_LOG)!r}, rate=0.5, intent=profiles.ORDER_PLACEMENT, venue="binanceusdm")',
    )
    from_profile = _verdicts(chaos_pytester, "profiles.binance_502_day()")

    assert list(from_log) == ["test_incident_day.py::test_day[naive]"]
    assert "retry budget broken by" in from_log["test_incident_day.py::test_day[naive]"]
    assert "stop-loss" in from_log["test_incident_day.py::test_day[naive]"]
    # Same waves, same seed, same test: the same operations broke the same budget.
    assert from_log == from_profile
