"""The timeline picture: waves shaded, attempts in intent lanes by outcome, crosses for failures."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from pytest_exchange_chaos import timeline

SVG = "{http://www.w3.org/2000/svg}"


def record(t: float, intent: str, outcome: str, fault: str | None = None) -> dict[str, Any]:
    return {
        "t": t,
        "delay": 0.0,
        "intent": intent,
        "outcome": outcome,
        "fault": fault,
        "status": 502 if fault else 200,
        "error_code": None,
        "method": "POST",
        "path": "/fapi/v1/order",
    }


def operation(t: float, intent: str, succeeded: bool, rejected: bool = False) -> dict[str, Any]:
    return {
        "intent": intent,
        "succeeded": succeeded,
        "rejected": rejected,
        "started_at": t,
        "attempts": 1,
        "label": f"{intent} at {t}",
    }


def incident_document() -> dict[str, Any]:
    day = 7 * 3600 + 22 * 60
    journal = [record(t, "entry", "acknowledged") for t in range(0, day, 30)]
    journal += [record(t + 1, "stop_loss", "acknowledged") for t in range(0, day, 30)]
    journal += [record(t, "stop_loss", "faulted", "bad_gateway") for t in (16570, 25291, 25650)]
    journal += [record(100, "cancel", "refused")]
    operations = [operation(t, "stop_loss", False) for t in (16570, 25291, 25650)]
    operations += [operation(100, "cancel", False, rejected=True), operation(0, "entry", True)]
    waves = [
        {
            "kind": "wave",
            "start": s,
            "end": s + 60,
            "fault": "bad_gateway",
            "limit": n,
            "rate": 0.5,
            "text": "w",
        }
        for s, n in ((16560, 3), (25260, 21), (25620, 35))
    ]
    return {
        "schema_version": 1,
        "seed": 2,
        "tests": [
            {
                "nodeid": "test_bot.py::test_the_incident_day[naive]",
                "outcome": "failed",
                "seed": 2,
                "duration_chaos_seconds": float(day),
                "schedules": [*waves, {"kind": "burst", "count": 1, "fault": "x", "text": "b"}],
                "verdicts": [
                    {
                        "intent": "stop_loss",
                        "kept": False,
                        "broken": 3,
                        "operations": 884,
                        "budget": {"text": "5 attempts / 60 s"},
                    }
                ],
                "journal": journal,
                "operations": operations,
            },
            {
                "nodeid": "test_bot.py::test_quiet",
                "outcome": "passed",
                "seed": 2,
                "duration_chaos_seconds": 0.0,
                "schedules": [],
                "verdicts": [],
                "journal": [],
                "operations": [],
            },
        ],
    }


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed, or this raises


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_the_incident_shows_three_waves_failed_stops_and_an_hour_axis() -> None:
    root = parse(timeline.render_svg(incident_document()))
    labels = texts(root)
    assert {"+1h", "+4h", "+7h"} <= set(labels)  # the day's hour axis
    assert {"+4h36", "+7h01", "+7h07"} <= set(labels)  # each wave labelled where it starts
    waves = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == timeline.WAVE_FILL]
    assert len(waves) >= 3 * 2  # on the day, and again in each wave's close-up
    assert all(float(r.get("width", 0)) >= 4 for r in waves)  # a minute is never invisible
    close_ups = [t for t in labels if t.startswith(("+4h36 to", "+7h01 to", "+7h07 to"))]
    assert len(close_ups) == 3 and "at most 35" in close_ups[2]
    crosses = [g for g in root.iter(f"{SVG}g") if "never acknowledged" in "".join(g.itertext())]
    assert len(crosses) == 3 * 2 + 1  # the stop-losses on the day and in close-up, and the legend's
    assert "881 of 884 ok" not in labels and "0 of 3 ok, 3 ✕" in labels  # per-lane totals
    assert "0 of 1 ok, 1 refused" in labels  # a refusal is an answer, not a cross
    assert any("stop-loss budget (5 attempts / 60 s) broken by 3 of 884" in t for t in labels)
    faulted = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == timeline.COLOURS["faulted"]]
    assert len(faulted) >= 3 + 1  # each fault, and the legend


def test_many_acknowledged_requests_share_pixel_columns() -> None:
    document = incident_document()
    busy = document["tests"][0]
    busy["schedules"] = []
    busy["journal"] = [record(t * 0.36, "market_data", "acknowledged") for t in range(10_000)]
    svg = timeline.render_svg(document)
    marks = svg.count(f'fill="{timeline.COLOURS["acknowledged"]}"') - 1  # less the legend's
    assert marks <= timeline.PLOT_WIDTH + 1  # one mark per pixel column, not per request
    assert len(svg) < 200_000


def test_short_tests_get_a_seconds_axis_and_empty_ones_say_so() -> None:
    document = incident_document()
    document["tests"][0]["journal"] = [
        record(0.2, "entry", "acknowledged"),
        record(2.5, "entry", "acknowledged"),
    ]
    document["tests"][0]["duration_chaos_seconds"] = 3.0
    document["tests"][0]["schedules"] = []
    labels = texts(parse(timeline.render_svg(document)))
    assert {"+0s", "+1s", "+2s", "+3s"} <= set(labels)
    assert "no requests" in labels


def test_clock_labels_read_like_the_incident_timeline() -> None:
    assert [timeline._clock_label(s) for s in (0, 0.5, 90, 3600, 16560, 16590)] == [
        "+0s",
        "+0.5s",
        "+1m30s",
        "+1h",
        "+4h36",
        "+4h36m30",
    ]


def test_write_picks_the_format_from_the_suffix_and_the_cli_reads_a_saved_report(tmp_path: Path) -> None:
    document = incident_document()
    report = tmp_path / "report.json"
    report.write_text(json.dumps(document), encoding="utf-8")
    assert timeline.main([str(report), str(tmp_path / "t.html")]) == 0
    assert timeline.main([str(report), str(tmp_path / "t.svg")]) == 0
    assert (tmp_path / "t.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    parse((tmp_path / "t.svg").read_text(encoding="utf-8"))
    assert timeline.main([]) == 2


def test_a_path_that_is_neither_svg_nor_html_is_refused(tmp_path: Path, capsys: Any) -> None:
    import pytest

    with pytest.raises(ValueError, match=r"write a \.svg or an \.html path"):
        timeline.write({"seed": 1, "tests": []}, tmp_path / "chart.png")
    report = tmp_path / "r.json"
    report.write_text(json.dumps({"seed": 1, "tests": []}), encoding="utf-8")
    assert timeline.main([str(report), str(tmp_path / "chart.png")]) == 2
    assert timeline.main([str(tmp_path / "missing.json"), str(tmp_path / "t.svg")]) == 2
    assert "chart.png: write a .svg or an .html path" in capsys.readouterr().err
    assert not (tmp_path / "chart.png").exists() and not (tmp_path / "t.svg").exists()


def test_the_module_does_not_import_pytest() -> None:
    source = Path(timeline.__file__).read_text(encoding="utf-8")
    assert "import pytest" not in source
