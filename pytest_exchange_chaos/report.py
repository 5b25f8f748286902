"""The chaos report: a terminal summary and ``--chaos-report`` JSON, merged across xdist workers."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pytest_exchange_chaos._stash import ENTRIES_KEY, SEED_KEY
from pytest_exchange_chaos.controller import ChaosController

__all__ = ["PROPERTY", "REPORT_SCHEMA_VERSION", "configure", "test_entry"]

PROPERTY = "exchange_chaos"
REPORT_SCHEMA_VERSION = 1


def configure(config: pytest.Config) -> None:
    config.stash[ENTRIES_KEY] = []
    config.pluginmanager.register(_ReportCollector(config), "exchange_chaos_report")


def test_entry(item: pytest.Item, controller: ChaosController) -> dict[str, Any]:
    """One test's part of the report; travels in ``user_properties`` so xdist carries it home."""
    operations = controller.operations()
    return {
        "nodeid": item.nodeid,
        "seed": controller.seed,
        "duration_chaos_seconds": controller.now(),
        "schedules": [repr(s) for s in controller.schedules],
        "journal": [record.to_dict() for record in controller.journal],
        "operations": [op.to_dict() for op in operations],
    }


def _nodeid(entry: dict[str, Any]) -> str:
    return str(entry["nodeid"])


class _ReportCollector:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        for name, value in report.user_properties:
            if name == PROPERTY and isinstance(value, dict):
                self.config.stash[ENTRIES_KEY].append(value)

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return  # workers' entries reach the controller through their reports
        raw = self.config.getoption("chaos_report") or self.config.getini("chaos_report")
        if not raw:
            return
        path = Path(str(raw))
        if not path.is_absolute():
            path = Path(str(self.config.invocation_params.dir)) / path
        path.parent.mkdir(parents=True, exist_ok=True)
        entries: list[dict[str, Any]] = self.config.stash[ENTRIES_KEY]
        document = {
            "schema_version": REPORT_SCHEMA_VERSION,
            "seed": session.config.stash[SEED_KEY],
            "tests": sorted(entries, key=_nodeid),
        }
        path.write_text(json.dumps(document, indent=1, default=str) + "\n", encoding="utf-8")

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        entries = self.config.stash[ENTRIES_KEY]
        if not entries:
            return
        write = terminalreporter.write_line
        terminalreporter.section("exchange chaos")
        requests = sum(len(e["journal"]) for e in entries)
        faults = Counter(r["fault"] for e in entries for r in e["journal"] if r["fault"])
        write(
            f"{len(entries)} chaos test(s), {requests} requests, {sum(faults.values())} faults injected"
            + (": " + ", ".join(f"{name} x{n}" for name, n in faults.most_common()) if faults else "")
        )
        by_intent: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            for op in entry["operations"]:
                by_intent.setdefault(op["intent"], []).append(op)
        for intent in sorted(by_intent):
            ops = by_intent[intent]
            ok = [op for op in ops if op["succeeded"]]
            worst = max((op["attempts"] for op in ops), default=0)
            slowest = max((op["seconds"] for op in ok), default=0.0)
            write(
                f"  {intent:<12} {len(ops):>5} operations, {len(ok):>5} acknowledged, "
                f"most attempts {worst}, slowest success {slowest:.1f} s"
            )
        write(f"repeat with --chaos-seed={self.config.stash[SEED_KEY]}")
