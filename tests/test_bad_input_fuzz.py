"""Bad input never reaches inside the plugin: every invalid argument is a clear error.

Hypothesis draws invalid values for every argument of every public constructor and function
(tests/bad_inputs.py lists them and the rule: ValueError/TypeError naming the argument for a
constructor, pytest.UsageError naming it for a marker or an option). Derandomized, so CI runs the
same examples every time; benchmarks/fuzz_inputs.py runs the whole catalogue at scale.
"""

from __future__ import annotations

import math

import bad_inputs as bad
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_exchange_chaos import Wave, faults
from pytest_exchange_chaos._durations import MAX_SECONDS
from pytest_exchange_chaos._seeds import MAX_SEED

FUZZ = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Strings without a digit are never a duration ("nan", "inf" and "infinity" are refused too).
_NO_DIGITS = st.text(alphabet="abcdefhimnorstyNIF .,:-+_", max_size=12)
_DURATIONS = st.one_of(
    st.floats(max_value=-1e-9),
    st.floats(min_value=MAX_SECONDS * 1.0001),
    st.integers(max_value=-1),
    st.integers(min_value=int(MAX_SECONDS) + 1),
    st.just(math.nan),
    _NO_DIGITS,
)
_RATES = st.one_of(
    st.floats().filter(lambda x: not 0.0 < x <= 1.0),
    st.integers().filter(lambda x: not 0 < x <= 1),
    st.booleans(),
    st.text(max_size=5),
)
_WHOLE_FROM_1 = st.one_of(st.integers(max_value=0), st.floats(), st.booleans(), st.text(max_size=5))
_WHOLE_FROM_0 = st.one_of(st.integers(max_value=-1), st.floats(), st.booleans(), st.text(max_size=5))
_GENERATED = {
    "start": _DURATIONS,
    "duration": _DURATIONS,
    "period": _DURATIONS,
    "down": _DURATIONS,
    "ban": _DURATIONS,
    "retry_after": _DURATIONS,
    "seconds": _DURATIONS,
    "rate": _RATES,
    "count": _WHOLE_FROM_1,
    "limit": _WHOLE_FROM_1.filter(lambda x: x is not None),
    "attempts": _WHOLE_FROM_1,
    "after": _WHOLE_FROM_0,
}


def invalid_values(entry: bad.Entry, argument: str) -> st.SearchStrategy[object]:
    pool = st.sampled_from(entry.bad[argument])
    generated = _GENERATED.get(argument)
    budget_without_attempts = entry.name == "Budget" and entry.valid["attempts"] is None
    if generated is None or (argument == "seconds" and budget_without_attempts):
        return pool
    return st.one_of(pool, generated)


@pytest.mark.parametrize(
    ("entry", "argument"), list(bad.arguments()), ids=[f"{e.name}-{a}" for e, a in bad.arguments()]
)
@FUZZ
@given(data=st.data())
def test_an_invalid_argument_is_a_clear_error(entry: bad.Entry, argument: str, data: st.DataObject) -> None:
    value = data.draw(invalid_values(entry, argument), label=argument)
    verdict = bad.call_with(entry, argument, value)
    assert verdict.kind == bad.CLEAR, f"{entry.name}({argument}={value!r}): {verdict.kind}: {verdict.detail}"


@pytest.mark.parametrize("entry", bad.ENTRIES, ids=[e.name for e in bad.ENTRIES])
def test_the_valid_call_each_fuzz_starts_from_is_accepted(entry: bad.Entry) -> None:
    # Otherwise every "clear error" above could be the baseline's own mistake.
    entry.call(**entry.valid)


@pytest.mark.parametrize("case", bad.MARKER_CASES, ids=lambda case: case.token)
def test_an_invalid_marker_is_a_usage_error_naming_it(case: bad.MarkerCase) -> None:
    verdict = bad.read_marker(case)
    assert verdict.kind == bad.CLEAR, f"{case}: {verdict.kind}: {verdict.detail}"


@FUZZ
@given(
    seed=st.one_of(
        st.integers().filter(lambda s: not 0 <= s <= MAX_SEED),
        st.floats(),
        st.text(max_size=8),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
    )
)
def test_an_invalid_marker_seed_is_a_usage_error(seed: object) -> None:
    verdict = bad.read_marker(bad.MarkerCase(kwargs={"seed": seed}, token="seed"))
    assert verdict.kind == bad.CLEAR, f"seed={seed!r}: {verdict.kind}: {verdict.detail}"


def test_a_valid_marker_reads_through_the_fake_item() -> None:
    from pytest_exchange_chaos._markers import read_settings

    case = bad.MarkerCase(args=(Wave(0, 60, faults.bad_gateway(), venue="binanceusdm"),), kwargs={"seed": 7})
    item: object = bad.FakeItem(bad.marks_of(case))
    settings_read = read_settings(item)  # type: ignore[arg-type]
    assert settings_read.seed == 7 and len(settings_read.schedules) == 1


# A few of the options and ini keys through a real pytest run (the benchmark runs them all).
@pytest.mark.parametrize(
    "case",
    [
        bad.OPTION_CASES[0],
        bad.OPTION_CASES[5],
        bad.OPTION_CASES[7],
        bad.OPTION_CASES[10],
        bad.OPTION_CASES[13],
    ],
    ids=lambda case: " ".join(case.argv) or case.ini,
)
def test_an_invalid_option_is_a_usage_error_naming_it(
    chaos_pytester: pytest.Pytester, case: bad.OptionCase
) -> None:
    if case.ini:
        chaos_pytester.makeini(f"[pytest]\nfilterwarnings =\n    error\n{case.ini}\n")
    chaos_pytester.makepyfile(bad.PASSING_TEST)
    result = chaos_pytester.runpytest(*case.argv)
    output = result.stdout.str() + result.stderr.str()
    verdict = bad.judge_run(result.ret, output, case.token)
    assert verdict.kind == bad.CLEAR, verdict.detail


def test_a_nan_wave_start_is_a_collection_error_at_the_users_line(chaos_pytester: pytest.Pytester) -> None:
    # The first example: it used to pass collection and end the session in INTERNALERROR.
    chaos_pytester.makepyfile(
        """
        import pytest
        from pytest_exchange_chaos import Wave, faults

        @pytest.mark.exchange_chaos(Wave(start="nan", duration=60, fault=faults.bad_gateway()))
        def test_bot():
            pass
        """
    )
    result = chaos_pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ValueError: Wave start='nan' is not a number*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
