"""Section 3: what the plugin costs a suite that never uses it, and what importing it costs.

A generated suite of plain tests (no marker, no fixture) runs in fresh ``python -m pytest``
processes, alternately with the plugin installed and with ``-p no:exchange_chaos``; the
difference is everything the plugin adds: its import, its options and hooks, its header line.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from harness import Result, Section, interleave, median, paired_ratio, perf_counter

import pytest_exchange_chaos

__all__ = ["run"]

IDLE_TARGET_PERCENT = 3.0
FILES = 10

_PLAIN_TEST = """
def test_{index}():
    values = [n * n for n in range({index} % 7 + 3)]
    assert sum(values) >= 0
"""


def write_suite(root: Path, tests: int) -> None:
    (root / "pytest.ini").write_text("[pytest]\n")
    per_file = tests // FILES
    for number in range(FILES):
        body = "".join(_PLAIN_TEST.format(index=number * per_file + i) for i in range(per_file))
        (root / f"test_plain_{number}.py").write_text(body)


def _pytest(root: Path, *extra: str) -> tuple[float, float]:
    """One fresh pytest process: (wall seconds, CPU seconds it used, user + system)."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, str(root)]
    with tempfile.TemporaryFile() as output:
        start = perf_counter()
        process = subprocess.Popen(command, cwd=root, env=_env(), stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            output.seek(0)
            raise RuntimeError(f"{' '.join(command)} failed:\n{output.read().decode(errors='replace')}")
    return elapsed, usage.ru_utime + usage.ru_stime


_IMPORT_PROBE = """
import importlib, sys, time
from importlib.metadata import entry_points
import pytest
if sys.argv[1] == "plugins":
    for entry in entry_points(group="pytest11"):
        if entry.name != "exchange_chaos":
            importlib.import_module(entry.value)
start = time.perf_counter()
import pytest_exchange_chaos.plugin
print(time.perf_counter() - start)
"""


_SNAPSHOT: list[Path] = []


def _env() -> dict[str, str]:
    # Measure what users get: bytecode cached after the first run.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if _SNAPSHOT:
        env["PYTHONPATH"] = os.pathsep.join([str(_SNAPSHOT[0]), *filter(None, [env.get("PYTHONPATH")])])
    return env


@contextlib.contextmanager
def package_snapshot() -> Iterator[None]:
    """Run the fresh processes against a copy of the package taken now: in a working tree that
    others are editing, an edit recompiles a module on the next plugin-side run only."""
    with tempfile.TemporaryDirectory(prefix="chaos-snapshot-") as directory:
        shutil.copytree(
            Path(pytest_exchange_chaos.__file__).parent,
            Path(directory) / "pytest_exchange_chaos",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        _SNAPSHOT.append(Path(directory))
        try:
            yield
        finally:
            _SNAPSHOT.clear()


def _import_seconds(after: str) -> float:
    """``import pytest_exchange_chaos.plugin`` in a fresh interpreter that has imported pytest
    (``after="pytest"``), or pytest and every other installed pytest plugin (``"plugins"``), as
    pytest has when it loads this one."""
    output = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, after],
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
        cwd=_SNAPSHOT[0] if _SNAPSHOT else None,  # not a checkout's root: "" is on sys.path
    ).stdout
    return float(output.strip())


def run(*, tests: int, rounds: int, progress: Callable[[str], None]) -> Section:
    with package_snapshot():
        return _measure(tests=tests, rounds=rounds, progress=progress)


def _measure(*, tests: int, rounds: int, progress: Callable[[str], None]) -> Section:
    section = Section(f"3. Idle cost ({tests} plain tests, {rounds} interleaved rounds of fresh processes)")
    with tempfile.TemporaryDirectory(prefix="chaos-idle-") as directory:
        root = Path(directory)
        write_suite(root, tests)
        _pytest(root)  # warm the bytecode caches of both sides
        _pytest(root, "-p", "no:exchange_chaos")
        walls: dict[str, list[float]] = {"plugin": [], "off": []}

        def side(name: str, *extra: str) -> Callable[[], float]:
            def measure() -> float:
                wall, cpu = _pytest(root, *extra)
                walls[name].append(wall)
                return cpu

            return measure

        cpu = interleave(
            [("plugin", side("plugin")), ("off", side("off", "-p", "no:exchange_chaos"))],
            rounds,
            progress=progress,
        )
    overhead = (paired_ratio(cpu["plugin"], cpu["off"]) - 1) * 100
    wall_overhead = (paired_ratio(walls["plugin"], walls["off"]) - 1) * 100
    section.add(
        Result(
            f"{tests} plain tests: installed vs -p no:exchange_chaos (CPU time)",
            overhead,
            "%",
            target=f"<= +{IDLE_TARGET_PERCENT:g} %",
            met=overhead <= IDLE_TARGET_PERCENT,
            detail=f"median CPU {median(cpu['plugin']):.3f} s vs {median(cpu['off']):.3f} s; "
            f"wall {median(walls['plugin']):.3f} s vs {median(walls['off']):.3f} s ({wall_overhead:+.1f} %)",
        )
    )
    _import_seconds("pytest")  # bytecode caches
    imports = interleave(
        [("pytest", lambda: _import_seconds("pytest")), ("plugins", lambda: _import_seconds("plugins"))],
        max(rounds, 5),
        progress=lambda _: None,
    )
    for after, label in (("pytest", "pytest imported"), ("plugins", "pytest and its other plugins imported")):
        section.add(
            Result(
                f"import pytest_exchange_chaos.plugin ({label})",
                median(imports[after]) * 1000,
                "ms",
                detail=f"min {min(imports[after]) * 1000:.1f} ms, {len(imports[after])} fresh interpreters",
            )
        )
    return section
