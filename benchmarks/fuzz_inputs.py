"""Feed thousands of clearly invalid inputs to every entry point and count how each one ends.

    python benchmarks/fuzz_inputs.py              # about 3,600 inputs, under a minute on 2 cores
    python benchmarks/fuzz_inputs.py --per-argument 100

Every invalid input must end in a clear error: ValueError/TypeError naming the argument from a
constructor or function, pytest.UsageError naming it from a marker (read as collection reads
it, from fake marks) or an option/ini key (through real pytest runs in subprocesses). The
catalogue and the rule are tests/bad_inputs.py, which tests/test_bad_input_fuzz.py also draws
from. Prints

    N invalid inputs: N clear errors, 0 internal tracebacks, 0 silently accepted

and exits 1 if anything escaped or was accepted (each one is described on stderr).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import bad_inputs as bad  # noqa: E402

from pytest_exchange_chaos._durations import MAX_SECONDS  # noqa: E402
from pytest_exchange_chaos._seeds import MAX_SEED  # noqa: E402

_LETTERS = "abcdefhimnorstyNIF .,:-+_"


def _no_digits(rng: random.Random) -> str:
    return "".join(rng.choice(_LETTERS) for _ in range(rng.randrange(0, 12)))


def _bad_duration(rng: random.Random) -> object:
    return rng.choice(
        [
            lambda: -rng.random() * 10 ** rng.randrange(-3, 12) - 1e-9,
            lambda: MAX_SECONDS * (1.0001 + rng.random() * 10 ** rng.randrange(0, 300)),
            lambda: rng.randrange(int(MAX_SECONDS) + 1, 10**40),
            lambda: -rng.randrange(1, 10**40),
            lambda: rng.choice(
                ["nan", "NaN", " inf ", "-Infinity", "+inf", "1e999", f"{rng.randrange(9000, 99999)}h"]
            ),
            lambda: rng.choice([math.nan, math.inf, -math.inf]),
            lambda: _no_digits(rng),
            lambda: f"{rng.randrange(1, 99)}{rng.choice(['d', 'w', 'y', 'us', 'min', 'sec'])}",
        ]
    )()


def _bad_rate(rng: random.Random) -> object:
    return rng.choice(
        [
            lambda: -rng.random() * 10 ** rng.randrange(0, 10),
            lambda: 1 + 1e-9 + rng.random() * 10 ** rng.randrange(0, 10),
            lambda: rng.randrange(2, 10**6),
            lambda: rng.choice([0, 0.0, -0.0, math.nan, math.inf, True, False, None, "0.5", [0.5]]),
        ]
    )()


def _bad_whole(least: int) -> Callable[[random.Random], object]:
    def draw(rng: random.Random) -> object:
        return rng.choice(
            [
                lambda: rng.randrange(-(10**30), least),
                lambda: rng.random() * 100,
                lambda: str(rng.randrange(1, 100)),
                lambda: rng.choice([True, False, math.nan, [1]]),
            ]
        )()

    return draw


GENERATORS: dict[str, Callable[[random.Random], object]] = {
    **dict.fromkeys(("start", "period", "retry_after"), _bad_duration),
    "rate": _bad_rate,
    "count": _bad_whole(1),
    "limit": _bad_whole(1),
    "attempts": _bad_whole(1),
    "after": _bad_whole(0),
}


def _generated(entry: bad.Entry, argument: str, rng: random.Random) -> object:
    if argument in ("duration", "down", "ban", "seconds"):
        # Spans: zero is invalid too, except for a budget's seconds (0 s is a strict budget).
        if argument == "seconds" and entry.name == "Budget" and entry.valid.get("attempts") is None:
            return None
        return _bad_duration(rng) if rng.random() < 0.9 or entry.name == "Budget" else rng.choice([0, "0s"])
    generate = GENERATORS.get(argument)
    return generate(rng) if generate is not None else rng.choice(entry.bad[argument])


def _bad_seed(rng: random.Random) -> object:
    return rng.choice(
        [
            lambda: -rng.randrange(1, 10**30),
            lambda: MAX_SEED + rng.randrange(1, 10**30),
            lambda: str(rng.randrange(0, 100)),
            lambda: rng.random() * 100,
            lambda: rng.choice([True, False, "seven", math.nan, [7]]),
        ]
    )()


class Tally:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.failures: list[str] = []

    def add(self, what: str, verdict: bad.Verdict) -> None:
        self.counts[verdict.kind] += 1
        if verdict.kind != bad.CLEAR:
            self.failures.append(f"{verdict.kind}: {what}: {verdict.detail}")


def fuzz_constructors(tally: Tally, per_argument: int, rng: random.Random) -> None:
    for entry, argument in bad.arguments():
        for value in entry.bad[argument]:
            tally.add(f"{entry.name}({argument}={bad._short(value)})", bad.call_with(entry, argument, value))
        for _ in range(per_argument):
            value = _generated(entry, argument, rng)
            tally.add(f"{entry.name}({argument}={bad._short(value)})", bad.call_with(entry, argument, value))


def fuzz_markers(tally: Tally, per_argument: int, rng: random.Random) -> None:
    for case in bad.MARKER_CASES:
        tally.add(f"marker {case}", bad.read_marker(case))
    for _ in range(per_argument * 5):
        seed = _bad_seed(rng)
        tally.add(
            f"exchange_chaos(seed={bad._short(seed)})",
            bad.read_marker(bad.MarkerCase(kwargs={"seed": seed}, token="seed")),
        )


MODULE_CASES = [
    # A constructor's check raised while pytest imports the test module: a collection error at
    # the user's line, never an INTERNALERROR.
    ('Wave(start="nan", duration=60, fault=faults.bad_gateway())', "Wave start"),
    ("Burst(0, faults.bad_gateway())", "Burst count"),
    ("Wave(0, 60, faults.ghost(faults.ghost(faults.bad_gateway())))", "ghost"),
    ('profiles.flapping_gateway(duration="inf")', "flapping_gateway duration"),
]


def _run_pytest(directory: Path, argv: tuple[str, ...]) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *argv],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def fuzz_runs(tally: Tally) -> None:
    for case in bad.OPTION_CASES:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            (directory / "test_bot.py").write_text(bad.PASSING_TEST)
            (directory / "pytest.ini").write_text(f"[pytest]\n{case.ini}\n")
            rc, output = _run_pytest(directory, case.argv)
            tally.add(f"pytest {' '.join(case.argv) or case.ini}", bad.judge_run(rc, output, case.token))
    for schedule, token in MODULE_CASES:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            (directory / "test_bot.py").write_text(
                "import pytest\nfrom pytest_exchange_chaos import Burst, Wave, faults, profiles\n\n"
                f"@pytest.mark.exchange_chaos({schedule})\ndef test_bot():\n    pass\n"
            )
            rc, output = _run_pytest(directory, ())
            if "INTERNALERROR" in output or rc != pytest_interrupted():
                verdict = bad.Verdict(bad.TRACEBACK, f"exit code {rc}: {output[-1500:]}")
            elif f"ValueError: {token}" not in output and f"TypeError: {token}" not in output:
                verdict = bad.Verdict(bad.TRACEBACK, f"collection error not naming {token}: {output[-1500:]}")
            else:
                verdict = bad.Verdict(bad.CLEAR, token)
            tally.add(f"module with exchange_chaos({schedule})", verdict)


def pytest_interrupted() -> int:
    import pytest

    return int(pytest.ExitCode.INTERRUPTED)  # a collection error stops the run: exit code 2


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--per-argument", type=int, default=20, help="generated values per argument (default 20)"
    )
    parser.add_argument("--seed", type=int, default=12, help="seed of the generated values (default 12)")
    parser.add_argument("--no-runs", action="store_true", help="skip the subprocess pytest runs")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tally = Tally()
    started = time.perf_counter()
    fuzz_constructors(tally, args.per_argument, rng)
    fuzz_markers(tally, args.per_argument, rng)
    if not args.no_runs:
        fuzz_runs(tally)
    for failure in tally.failures[:50]:
        print(failure, file=sys.stderr)
    if len(tally.failures) > 50:
        print(f"... and {len(tally.failures) - 50} more", file=sys.stderr)
    total = sum(tally.counts.values())
    print(f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)
    print(
        f"{total} invalid inputs: {tally.counts[bad.CLEAR]} clear errors, "
        f"{tally.counts[bad.TRACEBACK]} internal tracebacks, {tally.counts[bad.ACCEPTED]} silently accepted"
    )
    return 0 if not tally.failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
