"""The chaos report: a terminal summary, ``--chaos-report`` JSON and the ``--chaos-timeline`` picture.

Each chaos test's part of the report is built at its teardown and travels in the test report's
``user_properties``, so under xdist the workers' parts reach the controller, which alone writes
files (docs/reference/report-schema.md describes the JSON).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_exchange_chaos._durations import format_clock
from pytest_exchange_chaos._stash import ENTRIES_KEY, SEED_KEY, SETTINGS_KEY
from pytest_exchange_chaos.naked_time import format_span

if TYPE_CHECKING:
    from pytest_exchange_chaos.budget import Budget
    from pytest_exchange_chaos.controller import ChaosController
    from pytest_exchange_chaos.journal import JournalRecord, Operation
    from pytest_exchange_chaos.schedule import Schedule

__all__ = ["DETAILS", "PROPERTY", "REPORT_SCHEMA_VERSION", "build_document", "configure", "test_entry"]

PROPERTY = "exchange_chaos"
REPORT_SCHEMA_VERSION = 2
SCHEMA_DOC = "docs/reference/report-schema.md"

DETAILS = ("summary", "full")
"""What ``--chaos-report-detail`` may ask for: ``summary`` (the default) leaves out every request
and the operations that went through at the first try, which are most of a long test's bulk."""


TIMELINE_SUFFIXES = (".svg", ".html", ".htm")
"""What ``--chaos-timeline`` draws: an SVG picture, or an HTML page around it."""


def configure(config: pytest.Config) -> None:
    config.stash[ENTRIES_KEY] = []
    collector = _ReportCollector(config)
    collector.detail = _detail(config)
    if not hasattr(config, "workerinput"):  # workers write no file
        # Checked now, not after an hour of tests: a path that cannot be written would lose the
        # run's report at the very end.
        collector.paths = {name: _writable_path(config, name) for name in ("chaos_report", "chaos_timeline")}
        detail = config.getoption("chaos_report_detail", None)
        if detail is not None and collector.paths["chaos_report"] is None:
            # Asked for on the command line, it would shape a report nobody writes.
            raise pytest.UsageError(
                f"--chaos-report-detail={detail} shapes the JSON report, and no report is written: "
                "add --chaos-report=PATH (or chaos_report = PATH in the ini file)"
            )
    config.pluginmanager.register(collector, "exchange_chaos_report")


def _detail(config: pytest.Config) -> str:
    option = config.getoption("chaos_report_detail", None)
    raw = option if option is not None else config.getini("chaos_report_detail")
    if not raw and option is None:
        return "summary"
    value = str(raw).strip().lower()
    if value not in DETAILS:
        spelled = f"--chaos-report-detail={raw}" if option is not None else f"ini chaos_report_detail = {raw}"
        raise pytest.UsageError(
            f"{spelled}: write summary (totals, verdicts and the operations that met a fault or "
            "needed a retry; the default) or full (every request too), e.g. --chaos-report-detail=full"
        )
    return value


def _writable_path(config: pytest.Config, name: str) -> Path | None:
    option = config.getoption(name, None)
    if option is not None and not str(option).strip():
        # "--chaos-report=" with the path left out (an unset shell variable) would write nothing.
        raise pytest.UsageError(
            f"--{name.replace('_', '-')}= was given an empty path; write a file path, e.g. "
            + (
                "--chaos-report=chaos-report.json"
                if name == "chaos_report"
                else "--chaos-timeline=chaos-timeline.svg"
            )
        )
    raw = option or config.getini(name)
    if not raw:
        return None
    text = str(raw)
    spelled = f"--{name.replace('_', '-')}={text}" if option else f"ini {name} = {text}"
    if name == "chaos_timeline" and Path(text).suffix.lower() not in TIMELINE_SUFFIXES:
        raise pytest.UsageError(
            f"{spelled}: the timeline is drawn as .svg or as an .html page; write e.g. "
            + ("--chaos-timeline=chaos-timeline.svg" if option else "chaos_timeline = chaos-timeline.html")
        )
    path = Path(text)
    if not path.is_absolute():
        path = Path(str(config.invocation_params.dir)) / path
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "it is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".exchange-chaos-write-check-"):
            pass
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(13, "the file is read-only")
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise pytest.UsageError(
            f"{spelled}: cannot write there ({reason}); write a file path in a writable directory"
        ) from None
    return path


# -- one test's entry ---------------------------------------------------------------------------


def record_outcome(record: JournalRecord) -> str:
    """What the bot got: ``acknowledged``, ``faulted`` (an injected fault) or ``refused`` (the
    exchange's own error answer)."""
    if record.fault is not None:
        return "faulted"
    return "acknowledged" if record.accepted else "refused"


def _median(values: Sequence[float]) -> float:
    # statistics.median would do, but importing statistics costs every pytest run ~7 ms.
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _budget_dict(budget: Budget) -> dict[str, Any]:
    return {"attempts": budget.attempts, "seconds": budget.seconds, "text": budget.describe()}


def _schedule_dict(schedule: Schedule) -> dict[str, Any]:
    from pytest_exchange_chaos.schedule import Wave

    common = {"fault": schedule.fault.name, "matches": schedule.matcher.describe(), "text": repr(schedule)}
    if isinstance(schedule, Wave):
        return {
            "kind": "wave",
            "start": schedule.start,
            "end": schedule.end,
            "rate": schedule.rate,
            "limit": schedule.limit,
            **common,
        }
    return {"kind": "burst", "count": schedule.count, "after": schedule.after, **common}


def _operation_dict(operation: Operation) -> dict[str, Any]:
    data = operation.to_dict()
    acknowledged = [r for r in operation.records if r.accepted]
    data["label"] = operation.label
    data["ended_at"] = operation.ended_at
    data["acknowledged_at"] = acknowledged[0].answered_at if acknowledged else None
    # Where the timeline marks a failure (the attempt the bot last sent) and a duplicate.
    data["last_attempt_at"] = operation.records[-1].t
    data["placed_at"] = [record.t for record in operation.placements]
    return data


def _notable(operation: dict[str, Any]) -> bool:
    """Whether a summary keeps this operation: anything but a plain first-try success."""
    return not (
        operation["succeeded"]
        and operation["attempts"] == 1
        and not operation["faults"]
        and operation["placements"] <= 1
    )


def _traffic(journal: Sequence[dict[str, Any]]) -> dict[str, Any]:
    outcomes = Counter(r["outcome"] for r in journal)
    return {
        "total": len(journal),
        "acknowledged": outcomes["acknowledged"],
        "faulted": outcomes["faulted"],
        "refused": outcomes["refused"],
        # Executed by the exchange while the bot saw a fault: the orders a bot cannot see.
        "ghosts": sum(1 for r in journal if r["fault"] and r["executed"] and r["order_id"]),
        "faults": dict(Counter(r["fault"] for r in journal if r["fault"]).most_common()),
    }


def _intents(operations: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per intent, what the terminal summary's table shows."""
    by_intent: dict[str, list[dict[str, Any]]] = {}
    for op in operations:
        by_intent.setdefault(op["intent"], []).append(op)
    totals = {}
    for intent in sorted(by_intent):
        ops = by_intent[intent]
        to_success = [op["acknowledged_at"] - op["started_at"] for op in ops if op["succeeded"]]
        totals[intent] = {
            "operations": len(ops),
            "acknowledged": len(to_success),
            "refused": sum(1 for op in ops if not op["succeeded"] and op["rejected"]),
            "never": len(ops) - len(to_success),
            "attempts_max": max(op["attempts"] for op in ops),
            "to_success_median": _median(to_success) if to_success else None,
            "to_success_max": max(to_success) if to_success else None,
        }
    return totals


def _verdicts(controller: ChaosController, budgets: dict[str, Budget]) -> list[dict[str, Any]]:
    verdicts = []
    for intent, budget in budgets.items():
        operations = controller.operations(intent)  # type: ignore[arg-type]
        breaches = [b for op in operations if (b := op.budget_breach(budget)) is not None]
        verdicts.append(
            {
                "intent": intent,
                "budget": _budget_dict(budget),
                "operations": len(operations),
                "broken": len(breaches),
                # A budget no operation was sent for kept nothing: the test checked nothing.
                "kept": bool(operations) and not breaches,
                "breaches": breaches,
            }
        )
    return verdicts


def test_entry(item: pytest.Item, controller: ChaosController) -> dict[str, Any]:
    """One test's part of the report; travels in ``user_properties`` so xdist carries it home."""
    settings = item.stash.get(SETTINGS_KEY, None)
    budgets = dict(settings.budgets) if settings is not None else {}
    journal = []
    for record in controller.journal:
        data = record.to_dict()
        data["outcome"] = record_outcome(record)
        journal.append(data)
    operations = [_operation_dict(op) for op in controller.operations()]
    return {
        "nodeid": item.nodeid,
        "outcome": None,
        "seed": controller.seed,
        "duration_chaos_seconds": controller.now(),
        "schedules": [_schedule_dict(s) for s in controller.schedules],
        "budgets": {intent: _budget_dict(b) for intent, b in budgets.items()},
        "verdicts": _verdicts(controller, budgets),
        "requests": _traffic(journal),
        "intents": _intents(operations),
        "journal": journal,
        "operations": operations,
        "operations_omitted": 0,
        "unprotected": _unprotected(controller),
        "streams": _streams(controller),
    }


def _streams(controller: ChaosController) -> dict[str, dict[str, Any]]:
    """Per venue whose streams the bot opened: connections, messages, stream faults and the
    outages (stalled, down until the next connection, a listenKey expired), each worded."""
    from pytest_exchange_chaos.streams import StreamHub

    hub = StreamHub.existing(controller._engine)
    if hub is None:
        return {}
    kinds = {c.id: sorted(c.kinds) for c in hub.connections}
    venues = hub.summary()
    for venue, entry in venues.items():
        for outage in entry["outages"]:
            start, end = round(outage["from"], 3), outage["to"]
            why = _OUTAGE_WORDS.get(outage["why"], outage["why"])
            lasted = f"for {format_span(end - start)}" if end is not None else "until the end"
            outage["from"], outage["to"] = start, None if end is None else round(end, 3)
            outage["seconds"] = round((end if end is not None else controller.now()) - start, 3)
            outage["streams"] = kinds.get(outage["connection"], [])
            outage["why"] = why
            outage["text"] = (
                f"{_stream_name(venue, outage['streams'])} {why} at {format_clock(start)}, {lasted}"
            )
    return venues


_OUTAGE_WORDS = {"stream_stall": "stalled", "stall": "stalled"}


def _stream_name(venue: str, kinds: Sequence[str]) -> str:
    return f"{venue} stream" + (f" ({', '.join(kinds)})" if kinds else "")


def _summarised(entry: dict[str, Any]) -> dict[str, Any]:
    # Every other key (totals, verdicts, what later features add) is kept as it is.
    summary = {key: value for key, value in entry.items() if key != "journal"}
    kept = [op for op in entry["operations"] if _notable(op)]
    summary["operations"] = kept
    summary["operations_omitted"] = len(entry["operations"]) - len(kept)
    return summary


def build_document(seed: int, entries: Sequence[dict[str, Any]], *, detail: str = "full") -> dict[str, Any]:
    """The whole ``--chaos-report`` document, tests in node id order; ``detail="summary"`` leaves
    out the journal and the operations that went through at the first try."""
    if detail not in DETAILS:
        raise ValueError(f"build_document(detail={detail!r}): write one of {', '.join(DETAILS)}")
    tests = sorted(entries, key=lambda e: str(e["nodeid"]))
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "seed": seed,
        "detail": detail,
        "tests": tests if detail == "full" else [_summarised(entry) for entry in tests],
    }


# -- the terminal summary -----------------------------------------------------------------------


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else format_clock(value).lstrip("+")


_COLUMNS = (
    ("intent", "<", 12),
    ("operations", ">", 10),
    ("acknowledged", ">", 12),
    ("never acknowledged", ">", 18),
    ("most attempts", ">", 13),
    ("median time to success", ">", 22),
    ("slowest success", ">", 15),
)
"""The operations table's columns: heading, alignment and width (the heading's own)."""


def summary_header() -> str:
    """The operations table's header line, as the terminal summary prints it."""
    return summary_row([name for name, _, _ in _COLUMNS])


def summary_row(cells: Sequence[object]) -> str:
    """One line of the operations table: an intent and its six figures, laid out under the header."""
    laid_out = (f"{cell:{align}{width}}" for cell, (_, align, width) in zip(cells, _COLUMNS, strict=True))
    return "  " + "  ".join(laid_out)


def _unprotected(controller: ChaosController) -> list[dict[str, Any]]:
    from pytest_exchange_chaos.naked_time import by_position

    return by_position(controller.unprotected_intervals())


_UNPROTECTED_SHOWN = 20
_UNPROTECTED_WORTH_A_LINE = 1.0
"""Seconds: a stop placed right after its entry leaves a position naked for the time one
request takes; only longer gaps get a line of the summary each."""


def _unprotected_lines(entries: Sequence[dict[str, Any]]) -> list[str]:
    """Per position, how long it spent without a stop-loss, the longest first."""
    positions = [(entry["nodeid"], p) for entry in entries for p in entry.get("unprotected", ())]
    if not positions:
        return []
    worth = [(nodeid, p) for nodeid, p in positions if p["seconds"] >= _UNPROTECTED_WORTH_A_LINE]
    worth.sort(key=lambda item: -item[1]["seconds"])
    lines = [f"unprotected positions (time without a covering stop-loss): {len(positions)}"]
    lines.extend(f"  {nodeid}: {p['text']}" for nodeid, p in worth[:_UNPROTECTED_SHOWN])
    if len(worth) > _UNPROTECTED_SHOWN:
        lines.append(f"  ... and {len(worth) - _UNPROTECTED_SHOWN} more (the report lists them all)")
    if len(positions) > len(worth):
        brief = len(positions) - len(worth)
        # With none longer, the count above already says how many: say only how briefly.
        lead = f"{brief} more, each" if worth else "each"
        lines.append(f"  {lead} for less than {_UNPROTECTED_WORTH_A_LINE:g} s")
    return lines


def _outage_lines(entries: Sequence[dict[str, Any]]) -> list[str]:
    """The stream outages in the order they began, test by test; a stream cut again and again
    (a reconnect loop inside a wave) is one line with its count and its time down in all."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for entry in entries:
        for venue, stream in entry.get("streams", {}).items():
            for outage in stream["outages"]:
                key = (entry["nodeid"], _stream_name(venue, outage["streams"]), outage["why"])
                groups.setdefault(key, []).append(outage)
    if not groups:
        return []
    total = sum(len(outages) for outages in groups.values())
    lines = [f"stream outages (down, silent or expired): {total}"]
    ordered = sorted(groups.items(), key=lambda item: (item[0][0], item[1][0]["from"]))
    for (nodeid, name, why), outages in ordered[:_UNPROTECTED_SHOWN]:
        if len(outages) == 1:
            lines.append(f"  {nodeid}: {outages[0]['text']}")
            continue
        first, last = outages[0], outages[-1]
        down = format_span(sum(o["seconds"] for o in outages))
        tail = ", the last until the end" if last["to"] is None else ""
        lines.append(
            f"  {nodeid}: {name} {why} {len(outages)} times between {format_clock(first['from'])} "
            f"and {format_clock(last['from'])}, {down} down in all{tail}"
        )
    if len(ordered) > _UNPROTECTED_SHOWN:
        lines.append(f"  ... and {len(ordered) - _UNPROTECTED_SHOWN} more (the report lists them all)")
    return lines


def summary_lines(seed: int, entries: Sequence[dict[str, Any]]) -> list[str]:
    """The terminal summary, as lines: traffic, faults, operations by intent, budgets, the seed."""
    lines = []
    requests = sum(len(e["journal"]) for e in entries)
    faults = Counter(r["fault"] for e in entries for r in e["journal"] if r["fault"])
    for entry in entries:
        for stream in entry.get("streams", {}).values():
            faults.update(stream["faults"])
    refused = sum(1 for e in entries for r in e["journal"] if r["outcome"] == "refused")
    lines.append(
        f"{len(entries)} chaos test{'s' if len(entries) != 1 else ''}: {requests} requests, "
        f"{sum(faults.values())} faults injected, {refused} refused by the exchange"
    )
    if faults:
        lines.append("faults by kind:")
        width = max(len(name) for name in faults)
        lines.extend(f"  {name:<{width}} {count:>6}" for name, count in faults.most_common())

    by_intent: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        for op in entry["operations"]:
            by_intent.setdefault(op["intent"], []).append(op)
    if by_intent:
        lines.append("operations by intent:")
        lines.append(summary_header())
        for intent in sorted(by_intent):
            ops = by_intent[intent]
            ok = [op for op in ops if op["succeeded"]]
            to_success = [op["acknowledged_at"] - op["started_at"] for op in ok]
            cells = (
                intent,
                len(ops),
                len(ok),
                len(ops) - len(ok),
                max(op["attempts"] for op in ops),
                _seconds(_median(to_success)) if to_success else "-",
                _seconds(max(to_success)) if to_success else "-",
            )
            lines.append(summary_row(cells))

    budgeted = [e for e in entries if e["verdicts"]]
    if budgeted:
        lines.append("retry budgets:")
        for entry in budgeted:
            kept = all(v["kept"] for v in entry["verdicts"])
            parts = []
            for verdict in entry["verdicts"]:
                if verdict["kept"]:
                    parts.append(f"{verdict['intent']} kept ({verdict['operations']} ops)")
                elif not verdict["operations"]:
                    parts.append(f"{verdict['intent']} NEVER EXERCISED (0 ops)")
                else:
                    parts.append(
                        f"{verdict['intent']} BROKEN by {verdict['broken']} of {verdict['operations']} ops"
                        f" (budget {verdict['budget']['text']})"
                    )
            broken = any(v["broken"] for v in entry["verdicts"])
            mark = "kept  " if kept else "BROKEN" if broken else "UNUSED"
            lines.append(f"  {mark} {entry['nodeid']} (seed {entry['seed']}): {'; '.join(parts)}")
    lines.extend(_unprotected_lines(entries))
    lines.extend(_outage_lines(entries))
    lines.append(f"repeat with --chaos-seed={seed}")
    return lines


class _ReportCollector:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.outcomes: dict[str, str] = {}
        self.written: list[str] = []
        self.paths: dict[str, Path | None] = {}
        self.lost = False
        """Whether a report or timeline asked for could not be written at the end."""
        self.detail = "summary"

    def _entries(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.config.stash[ENTRIES_KEY]
        for entry in entries:
            entry["outcome"] = self.outcomes.get(entry["nodeid"], entry.get("outcome"))
        return entries

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # The worst phase wins: a failed teardown fails the test even after a passing body.
        if report.failed:
            self.outcomes[report.nodeid] = "failed" if report.when == "call" else "error"
        elif report.skipped:
            self.outcomes.setdefault(report.nodeid, "skipped")
        elif report.when == "call":
            self.outcomes.setdefault(report.nodeid, "passed")
        if report.when != "teardown":
            return
        for name, value in report.user_properties:
            if name == PROPERTY and isinstance(value, dict):
                self.config.stash[ENTRIES_KEY].append(value)

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return  # workers' entries reach the controller through their reports
        seed = session.config.stash[SEED_KEY]
        # The timeline draws every request, whatever detail the JSON report was asked for.
        document = build_document(seed, self._entries())
        report_path = self.paths.get("chaos_report")
        if report_path is not None:
            written = (
                document
                if self.detail == "full"
                else build_document(seed, document["tests"], detail=self.detail)
            )
            try:
                report_path.write_text(json.dumps(written, indent=1, default=str) + "\n", encoding="utf-8")
                self.written.append(f"report: {report_path}")
            except OSError as exc:
                self._not_written(session, f"report NOT written to {report_path}: {exc}")
        timeline_path = self.paths.get("chaos_timeline")
        if timeline_path is not None:
            from pytest_exchange_chaos import timeline

            try:
                timeline.write(document, timeline_path)
                self.written.append(f"timeline: {timeline_path}")
            except OSError as exc:
                self._not_written(session, f"timeline NOT written to {timeline_path}: {exc}")

    def _not_written(self, session: pytest.Session, line: str) -> None:
        # The disk filled up or the directory went away during the run: say so in the summary,
        # which still prints, and fail the run, whose report a CI job would look for in vain.
        self.written.append(line)
        self.lost = True
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    # Outermost, so the summary comes after pytest's own short summary: the run ends with it.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Any:
        try:
            return (yield)
        finally:
            if not hasattr(self.config, "workerinput"):
                self._write_summary(terminalreporter)

    def _write_summary(self, terminalreporter: Any) -> None:
        entries = self._entries()
        if not entries and not self.lost:
            return
        terminalreporter.section("exchange chaos")
        if entries:
            for line in summary_lines(self.config.stash[SEED_KEY], entries):
                terminalreporter.write_line(line)
        for line in self.written:
            terminalreporter.write_line(line)
