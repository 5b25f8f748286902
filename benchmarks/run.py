"""Measure pytest-exchange-chaos against what a bot's suite would otherwise use, in one run.

    python benchmarks/run.py            # the full run (5 to 8 minutes on 2 busy cores)
    python benchmarks/run.py --quick    # smaller, for a first look (about a minute)

Every target is a ratio against a baseline measured in the same run, with the sides interleaved
(A B, B A, ...) so the machine's drift falls on both; the medians are reported. Exits 1 and
names the targets missed, if any. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import idle
import memory
import order_book
import per_request
import virtual_clock
import websocket
from harness import Result, Section

PACKAGES = (
    "pytest-exchange-chaos",
    "pytest",
    "ccxt",
    "aiohttp",
    "aioresponses",
    "requests",
    "responses",
    "httpx",
    "respx",
    "time-machine",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": platform.platform(),
        **versions,
    }


def _cell(result: Result) -> str:
    if result.met is None:
        return ""
    return "met" if result.met else "MISSED"


def render(sections: list[Section], info: dict[str, str]) -> str:
    rows = [(r.name, r.formatted_value(), r.target, _cell(r), r.detail) for s in sections for r in s.results]
    name_width = max(len(row[0]) for row in rows)
    value_width = max(len(row[1]) for row in rows)
    target_width = max(len(row[2]) for row in rows)
    lines = [
        "machine: " + ", ".join(f"{k} {v}" for k, v in info.items() if k in ("nproc", "cpu", "python")),
        "versions: " + ", ".join(f"{name} {info[name]}" for name in PACKAGES),
        "",
    ]
    for section in sections:
        lines.append(section.title)
        for r in section.results:
            lines.append(
                f"  {r.name:<{name_width}}  {r.formatted_value():>{value_width}}  "
                f"{r.target:<{target_width}}  {_cell(r):<6}  {r.detail}".rstrip()
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds: a first look")
    parser.add_argument(
        "--only",
        choices=("requests", "clock", "idle", "memory", "book", "websocket"),
        action="append",
        help="run only these sections (repeatable)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args(argv)
    only = set(args.only or ("requests", "clock", "idle", "memory", "book", "websocket"))
    quick = args.quick

    def progress(section: str) -> Callable[[str], None]:
        def report(step: str) -> None:
            print(f"  [{section}] {step}", file=sys.stderr, flush=True)

        return report

    sections: list[Section] = []
    if "requests" in only:
        sections.append(
            per_request.run(
                n=500 if quick else 2_000, rounds=3 if quick else 7, progress=progress("requests")
            )
        )
    if "clock" in only:
        sections.append(virtual_clock.run(rounds=1 if quick else 3, progress=progress("clock")))
    if "idle" in only:
        sections.append(idle.run(tests=500, rounds=5 if quick else 25, progress=progress("idle")))
    if "memory" in only:
        sections.append(memory.run(n=2_000 if quick else 10_000, progress=progress("memory")))
    if "book" in only:
        sections.append(
            order_book.run(orders=100 if quick else 300, rounds=3 if quick else 7, progress=progress("book"))
        )
    if "websocket" in only:
        sections.append(
            websocket.run(n=300 if quick else 1_000, rounds=3 if quick else 7, progress=progress("websocket"))
        )

    info = machine()
    print(render(sections, info))
    if args.json:
        payload = {
            "machine": info,
            "quick": quick,
            "sections": [{"title": s.title, "results": [asdict(r) for r in s.results]} for s in sections],
        }
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    missed = [r for s in sections for r in s.results if r.met is False]
    if missed:
        print("targets missed:", file=sys.stderr)
        for r in missed:
            print(f"  - {r.name}: {r.formatted_value()} (target {r.target})", file=sys.stderr)
        return 1
    print("every target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
