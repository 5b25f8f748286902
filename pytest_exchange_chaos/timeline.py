"""The chaos timeline: one self-contained SVG of every chaos test on its chaos clock.

For each test: the waves as shaded spans, every request as a mark in its intent's lane (green
acknowledged, red faulted, orange a ghost: faulted for the bot but executed by the exchange,
purple refused by the exchange), "placed 2x" over an order the exchange took twice, a cross at
the last attempt of an operation never acknowledged and never placed, a row of the time positions
spent without a stop, a row of the bot's websocket streams with their outages, and, when the day
is long and the waves short, a close-up of each wave.
It reads the ``--chaos-report`` document, so a saved report can be drawn again:

    python -m pytest_exchange_chaos.timeline chaos-report.json chaos-timeline.svg

No pytest and no plotting library: the SVG is written by hand.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from pytest_exchange_chaos.naked_time import format_span

__all__ = ["main", "render_html", "render_svg", "write"]

WIDTH = 1200
LABEL_WIDTH = 112
SIDE_WIDTH = 168
PLOT_WIDTH = WIDTH - LABEL_WIDTH - SIDE_WIDTH - 16
LANE = 26
ZOOM_LANE = 18
LANE_ORDER = ("entry", "stop_loss", "take_profit", "exit", "cancel", "market_data", "account", "other")
COLOURS = {"acknowledged": "#2f9e5b", "faulted": "#d7263d", "refused": "#7b4bc4"}
GHOST = "#f08c00"
"""A ghost: the bot saw a fault, the exchange executed the request."""
WAVE_FILL = "#f6c343"
NAKED_FILL = "#e4572e"
NAKED_ROW = 14
STREAM_FILL = "#3a6ea5"
STREAM_ROW = 14
NEVER = "#b0001e"
FONT = "font-family:DejaVu Sans,Helvetica,Arial,sans-serif"
# Close-ups are drawn when a wave would be narrower than this on the day's axis.
ZOOM_BELOW_PX = 24.0
MAX_ZOOMS = 3
_NICE_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)


def _clock_label(seconds: float) -> str:
    hours, rest = divmod(round(seconds, 3), 3600)
    minutes, secs = divmod(rest, 60)
    if hours and not minutes and not secs:
        return f"+{int(hours)}h"
    if hours:
        return f"+{int(hours)}h{int(minutes):02d}" + (f"m{secs:02.0f}" if secs else "")
    if minutes:
        return f"+{int(minutes)}m" + (f"{secs:02.0f}s" if secs else "")
    return f"+{secs:g}s"


def _tick_step(span: float, most: int = 12) -> float:
    for step in _NICE_STEPS:
        if span / step <= most:
            return float(step)
    return float(_NICE_STEPS[-1] * math.ceil(span / _NICE_STEPS[-1] / most))


@dataclass(frozen=True)
class _Axis:
    """Chaos-clock seconds ``[start, end]`` onto pixels ``[left, left + width]``."""

    start: float
    end: float
    left: float
    width: float

    def x(self, t: float) -> float:
        span = self.end - self.start
        return self.left + (t - self.start) / span * self.width if span > 0 else self.left

    def visible(self, t: float) -> bool:
        return self.start <= t <= self.end


class _Svg:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, text: str) -> None:
        self.parts.append(text)

    def text(
        self, x: float, y: float, content: str, *, size: int = 12, anchor: str = "start", **style: str
    ) -> None:
        extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in style.items())
        self.add(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>'
            f"{escape(content)}</text>"
        )

    def rect(
        self, x: float, y: float, w: float, h: float, fill: str, *, opacity: float = 1.0, title: str = ""
    ) -> None:
        body = f"<title>{escape(title)}</title>" if title else ""
        self.add(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.0):.1f}" height="{h:.1f}" fill="{fill}"'
            + (f' fill-opacity="{opacity:g}"' if opacity < 1 else "")
            + (f">{body}</rect>" if body else "/>")
        )


def _lanes(entry: dict[str, Any]) -> list[str]:
    seen = {r["intent"] for r in entry["journal"]}
    return [intent for intent in LANE_ORDER if intent in seen] + sorted(seen - set(LANE_ORDER))


def _waves(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in entry.get("schedules", []) if s.get("kind") == "wave"]


def _span(entry: dict[str, Any]) -> float:
    ends = [float(entry.get("duration_chaos_seconds") or 0.0)]
    ends += [r["t"] + r.get("delay", 0.0) for r in entry["journal"]]
    return max(ends) or 1.0


def _draw_axis(svg: _Svg, axis: _Axis, top: float, bottom: float, *, size: int = 11) -> None:
    step = _tick_step(axis.end - axis.start, most=12 if axis.width > 600 else 5)
    first = math.ceil(axis.start / step) * step
    t = first
    while t <= axis.end + 1e-9:
        x = axis.x(t)
        svg.add(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" stroke="#e3e6ea"/>')
        svg.text(x, bottom + 13, _clock_label(t), size=size, anchor="middle", fill="#555")
        t += step
    svg.add(
        f'<line x1="{axis.left:.1f}" y1="{bottom:.1f}" x2="{axis.left + axis.width:.1f}" '
        f'y2="{bottom:.1f}" stroke="#888"/>'
    )


def _draw_waves(svg: _Svg, axis: _Axis, waves: Iterable[dict[str, Any]], top: float, bottom: float) -> None:
    for wave in waves:
        start, end = max(wave["start"], axis.start), min(wave["end"], axis.end)
        if end < axis.start or start > axis.end:
            continue
        x0, x1 = axis.x(start), axis.x(end)
        # Never thinner than a few pixels: a one-minute wave on a seven-hour day must still show.
        width = max(x1 - x0, 4.0)
        svg.rect(x0, top, width, bottom - top, WAVE_FILL, opacity=0.35, title=wave["text"])
        # A solid cap above the lanes: the shading alone hides behind thousands of marks.
        svg.rect(x0, top - 5, width, 5, WAVE_FILL, title=wave["text"])


def _draw_lanes(
    svg: _Svg,
    axis: _Axis,
    entry: dict[str, Any],
    lanes: Sequence[str],
    top: float,
    lane_height: float,
    *,
    labels: bool,
) -> None:
    by_lane: dict[str, list[dict[str, Any]]] = {lane: [] for lane in lanes}
    for record in entry["journal"]:
        if axis.visible(record["t"]) and record["intent"] in by_lane:
            by_lane[record["intent"]].append(record)
    for index, lane in enumerate(lanes):
        y = top + index * lane_height
        if index % 2 == 0:
            svg.rect(axis.left, y, axis.width, lane_height, "#f4f6f8")
        if labels:
            svg.text(axis.left - 8, y + lane_height / 2 + 4, lane.replace("_", "-"), size=12, anchor="end")
        # Answered requests, one mark per pixel column: thousands of them would only repeat
        # each other at this scale. A refusal is the exchange's "no": tall and solid, so a
        # bot hammering a rejected order shows. Faults are few and each one matters: drawn
        # one by one.
        for outcome, band, width, opacities in (
            ("acknowledged", (0.3, 0.4), 1.2, (0.45, 0.75)),
            ("refused", (0.12, 0.76), 2.0, (0.9, 1.0)),
        ):
            columns: dict[int, int] = {}
            for record in by_lane[lane]:
                if record["outcome"] == outcome:
                    column = int(axis.x(record["t"]))
                    columns[column] = columns.get(column, 0) + 1
            for column, count in sorted(columns.items()):
                svg.rect(
                    column,
                    y + lane_height * band[0],
                    width,
                    lane_height * band[1],
                    COLOURS[outcome],
                    opacity=opacities[0] if count == 1 else opacities[1],
                    title=f"{count} {outcome}" if outcome == "refused" else "",
                )
        for record in by_lane[lane]:
            if record["outcome"] != "faulted":
                continue
            ghost = _is_ghost(record)
            what = f"{_clock_label(record['t'])} {record['method']} {record['path']}: {record['fault']}"
            if ghost:
                what += f", but the exchange executed it (order {record.get('order_id')})"
            svg.rect(
                axis.x(record["t"]) - 1,
                y + 2,
                2.4,
                lane_height - 4,
                GHOST if ghost else COLOURS["faulted"],
                title=what,
            )
            if ghost:
                # A ring over the bar: a ghost must read apart from a fault even in grey print.
                svg.add(
                    f'<circle cx="{axis.x(record["t"]) + 0.2:.1f}" cy="{y + 3:.1f}" r="2.6" fill="white" '
                    f'stroke="{GHOST}" stroke-width="1.4"/>'
                )
        for op in entry["operations"]:
            if op["intent"] != lane:
                continue
            placed_at = op.get("placed_at") or []
            if len(placed_at) > 1 and axis.visible(placed_at[-1]):
                svg.text(
                    axis.x(placed_at[-1]) + 3,
                    y + lane_height * 0.42,
                    f"placed {len(placed_at)}x",
                    size=10,
                    fill=NEVER,
                    font_weight="bold",
                )
            # A refusal is an answer (purple marks say so), and an order the exchange holds was
            # placed, even if the bot never heard (a ghost): neither is a cross. A cross is an
            # order never placed and never refused, the unprotected position of the incident,
            # marked at the attempt the bot last sent.
            if op["succeeded"] or op.get("rejected") or op.get("placements", 0):
                continue
            failed_at = op.get("last_attempt_at", op["started_at"])
            if not axis.visible(failed_at):
                continue
            _draw_cross(svg, axis.x(failed_at), y + lane_height / 2, lane_height * 0.36, op)


def _is_ghost(record: dict[str, Any]) -> bool:
    return bool(record["outcome"] == "faulted" and record.get("executed") and record.get("order_id"))


def _draw_unprotected(
    svg: _Svg, axis: _Axis, positions: Sequence[dict[str, Any]], end: float, top: float, bottom: float
) -> None:
    """Positions without a covering stop: shaded over the lanes, a solid bar in a row of their
    own under them, each interval titled with the position and how long it lasted."""
    row = bottom - NAKED_ROW
    svg.text(axis.left - 8, row + NAKED_ROW - 3, "no stop", size=11, anchor="end", fill=NAKED_FILL)
    for position in positions:
        for interval in position["intervals"]:
            start = interval["start"]
            finish = interval["end"] if interval["end"] is not None else end
            x0, x1 = axis.x(start), axis.x(finish)
            # At least a couple of pixels: a gap of seconds on a day's axis must still show.
            width = max(x1 - x0, 2.0)
            title = f"{position['text']}: {_clock_label(start)} to {_clock_label(finish)}"
            svg.rect(x0, top, width, row - top, NAKED_FILL, opacity=0.12)
            svg.rect(x0, row + 3, width, NAKED_ROW - 6, NAKED_FILL, title=title)
    total = sum(position["seconds"] for position in positions)
    svg.text(
        axis.left + axis.width + 10,
        row + NAKED_ROW - 3,
        f"{format_span(total)} without a stop",
        size=11,
        fill=NAKED_FILL,
    )


def _draw_stream_outages(
    svg: _Svg, axis: _Axis, streams: dict[str, dict[str, Any]], end: float, row: float
) -> None:
    """The bot's websocket streams in a row of their own: a bar where one was down, silent or
    expired, titled with why and for how long; a thin line where they ran."""
    svg.text(axis.left - 8, row + STREAM_ROW - 3, "streams", size=11, anchor="end", fill=STREAM_FILL)
    svg.rect(axis.left, row + STREAM_ROW / 2 - 0.5, axis.width, 1, STREAM_FILL, opacity=0.5)
    outages = [outage for stream in streams.values() for outage in stream["outages"]]
    for outage in outages:
        start = outage["from"]
        finish = outage["to"] if outage["to"] is not None else end
        x0 = axis.x(start)
        width = max(axis.x(finish) - x0, 2.0)
        svg.rect(x0, row + 2, width, STREAM_ROW - 4, STREAM_FILL, title=outage["text"])
    down = sum(outage["seconds"] for outage in outages)
    # Per-message faults leave no span: say how many struck, or the row would read "all well".
    said = [f"{len(outages)} outage(s), {format_span(down)} down" if outages else "no outage"]
    for fault, word in (
        ("stream_drop", "dropped"),
        ("stream_duplicate", "duplicated"),
        ("stream_delay", "late"),
    ):
        struck = sum(stream["faults"].get(fault, 0) for stream in streams.values())
        if struck:
            said.append(f"{struck} {word}")
    svg.text(axis.left + axis.width + 10, row + STREAM_ROW - 3, ", ".join(said), size=11, fill=STREAM_FILL)


def _draw_cross(svg: _Svg, x: float, y: float, r: float, op: dict[str, Any]) -> None:
    why = "refused" if op.get("rejected") else "never acknowledged"
    title = escape(f"{op.get('label', op['intent'])}: {why}, {op['attempts']} attempt(s)")
    svg.add(
        f'<g stroke="{NEVER}" stroke-width="2.6" stroke-linecap="round"><title>{title}</title>'
        f'<line x1="{x - r:.1f}" y1="{y - r:.1f}" x2="{x + r:.1f}" y2="{y + r:.1f}"/>'
        f'<line x1="{x - r:.1f}" y1="{y + r:.1f}" x2="{x + r:.1f}" y2="{y - r:.1f}"/></g>'
    )


def _lane_totals(entry: dict[str, Any], lane: str) -> str:
    ops = [op for op in entry["operations"] if op["intent"] == lane]
    ok = sum(1 for op in ops if op["succeeded"])
    refused = sum(1 for op in ops if not op["succeeded"] and op.get("rejected"))
    # Placed without the bot ever hearing of it: on the book, yet not "ok".
    unseen = sum(
        1 for op in ops if not op["succeeded"] and not op.get("rejected") and op.get("placements", 0)
    )
    never = len(ops) - ok - refused - unseen
    twice = sum(1 for op in ops if op.get("placements", 0) > 1)
    return (
        f"{ok} of {len(ops)} ok"
        + (f", {unseen} placed unseen" if unseen else "")
        + (f", {twice} placed 2x+" if twice else "")
        + (f", {refused} refused" if refused else "")
        + (f", {never} ✕" if never else "")
    )


def _panel(svg: _Svg, entry: dict[str, Any], top: float) -> float:
    """Draw one test at ``top``; return the height used."""
    lanes = _lanes(entry)
    waves = _waves(entry)
    span = _span(entry)
    outcome = (entry.get("outcome") or "").upper()
    colour = {"FAILED": NEVER, "ERROR": NEVER, "PASSED": "#1d7a43"}.get(outcome, "#555")
    faulted = sum(1 for r in entry["journal"] if r["outcome"] == "faulted")
    stream_faults = sum(sum(s["faults"].values()) for s in (entry.get("streams") or {}).values())
    svg.text(16, top + 16, entry["nodeid"], size=14, font_weight="bold")
    svg.text(
        WIDTH - 16,
        top + 16,
        f"{outcome or 'RUN'}  ·  seed {entry['seed']}  ·  "
        f"{len(entry['journal'])} requests, {faulted} faulted"
        + (f", {stream_faults} stream faults" if stream_faults else ""),
        size=12,
        anchor="end",
        fill=colour,
        font_weight="bold",
    )
    broken = [v for v in entry.get("verdicts", []) if not v["kept"]]
    y = top + 24
    if broken:
        text = "; ".join(
            f"{v['intent'].replace('_', '-')} budget ({v['budget']['text']}) broken by {v['broken']} "
            f"of {v['operations']} operations"
            for v in broken
        )
        svg.text(16, y + 12, text, size=12, fill=NEVER)
        y += 18
    if not lanes:
        svg.text(LABEL_WIDTH, y + 16, "no requests", size=12, fill="#555")
        return y + 28 - top

    axis = _Axis(0.0, span, LABEL_WIDTH, PLOT_WIDTH)
    wave_labels_y = y + 10
    lanes_top = y + (22 if waves else 6)
    lanes_bottom = lanes_top + LANE * len(lanes)
    naked = entry.get("unprotected") or []
    if naked:
        lanes_bottom += NAKED_ROW
    streams = entry.get("streams") or {}
    if streams:
        lanes_bottom += STREAM_ROW
    _draw_waves(svg, axis, waves, lanes_top - 4, lanes_bottom)
    _draw_wave_labels(svg, axis, waves, wave_labels_y)
    _draw_lanes(svg, axis, entry, lanes, lanes_top, LANE, labels=True)
    if naked:
        _draw_unprotected(svg, axis, naked, span, lanes_top, lanes_bottom - (STREAM_ROW if streams else 0))
    if streams:
        _draw_stream_outages(svg, axis, streams, span, lanes_bottom - STREAM_ROW)
    _draw_axis(svg, axis, lanes_top, lanes_bottom)
    for index, lane in enumerate(lanes):
        totals = _lane_totals(entry, lane)
        svg.text(
            axis.left + axis.width + 10,
            lanes_top + index * LANE + LANE / 2 + 4,
            totals,
            size=11,
            fill=NEVER if "✕" in totals else "#333",
        )
    y = lanes_bottom + 22

    zooms = [w for w in waves if (axis.x(w["end"]) - axis.x(w["start"])) < ZOOM_BELOW_PX][:MAX_ZOOMS]
    if zooms:
        y += _zooms(svg, entry, lanes, zooms, y)
    return y + 10 - top


def _draw_wave_labels(svg: _Svg, axis: _Axis, waves: Sequence[dict[str, Any]], y: float) -> None:
    right_of_last = -1e9
    for wave in sorted(waves, key=lambda w: w["start"]):
        label = _clock_label(wave["start"])
        # Waves minutes apart on an hours-long axis: each label starts after the last one ends.
        x = max(axis.x(max(wave["start"], axis.start)), right_of_last + 8)
        svg.text(x, y, label, size=10, fill="#8a6100")
        right_of_last = x + 5.6 * len(label)


def _wave_title(wave: dict[str, Any]) -> str:
    parts = [f"{_clock_label(wave['start'])} to {_clock_label(wave['end'])}", wave["fault"]]
    if wave.get("limit") is not None:
        parts.append(f"at most {wave['limit']}")
    if wave.get("rate", 1.0) < 1.0:
        parts.append(f"rate {wave['rate']:g}")
    return " · ".join(parts)


def _fit(text: str, width: float, size: int = 10) -> str:
    most = int(width / (size * 0.56))
    return text if len(text) <= most else text[: max(most - 1, 1)] + "…"


def _zooms(
    svg: _Svg, entry: dict[str, Any], lanes: Sequence[str], waves: Sequence[dict[str, Any]], top: float
) -> float:
    gap = 18
    width = (WIDTH - LABEL_WIDTH - 16 - gap * (len(waves) - 1)) / len(waves)
    height = ZOOM_LANE * len(lanes)
    for index, wave in enumerate(waves):
        margin = max(60.0, (wave["end"] - wave["start"]) * 1.5)
        axis = _Axis(
            max(0.0, wave["start"] - margin), wave["end"] + margin, LABEL_WIDTH + index * (width + gap), width
        )
        svg.text(axis.left, top + 10, _fit(_wave_title(wave), width), size=10, fill="#8a6100")
        lanes_top = top + 16
        svg.rect(
            axis.x(wave["start"]),
            lanes_top,
            axis.x(wave["end"]) - axis.x(wave["start"]),
            height,
            WAVE_FILL,
            opacity=0.35,
        )
        _draw_lanes(svg, axis, entry, lanes, lanes_top, ZOOM_LANE, labels=index == 0)
        _draw_axis(svg, axis, lanes_top, lanes_top + height, size=10)
    return 16 + height + 26


def _legend(svg: _Svg, y: float) -> float:
    """The colours on one row, the marks drawn over them on the next; returns the last row's y."""
    x = 16.0
    items = [
        (COLOURS["acknowledged"], "acknowledged"),
        (COLOURS["faulted"], "faulted (injected)"),
        (COLOURS["refused"], "refused by the exchange"),
        (GHOST, "ghost (executed, bot saw a fault)"),
        (WAVE_FILL, "wave"),
        (NAKED_FILL, "position without a stop"),
    ]
    for colour, label in items:
        svg.rect(x, y - 10, 10, 12, colour, opacity=0.6 if colour == WAVE_FILL else 1.0)
        svg.text(x + 14, y, label, size=12)
        x += 24 + 7.0 * len(label)
    y += 18
    _draw_cross(svg, 21, y - 4, 5, {"intent": "never acknowledged", "attempts": 0, "label": "cross"})
    svg.text(32, y, "operation never acknowledged nor placed, at its last attempt", size=12)
    svg.text(32 + 7.0 * 62, y, "placed 2x", size=10, fill=NEVER, font_weight="bold")
    svg.text(32 + 7.0 * 62 + 60, y, "the exchange took the same order twice", size=12)
    return y


def render_svg(document: dict[str, Any]) -> str:
    """The whole report as one SVG document: a legend, then one panel per test."""
    svg = _Svg()
    tests = document.get("tests", [])
    svg.text(16, 22, "exchange chaos timeline", size=16, font_weight="bold")
    svg.text(
        WIDTH - 16,
        22,
        f"seed {document.get('seed')}  ·  {len(tests)} test(s)  ·  chaos clock",
        size=12,
        anchor="end",
        fill="#555",
    )
    y = _legend(svg, 44) + 16
    for entry in tests:
        svg.add(f'<line x1="16" y1="{y:.1f}" x2="{WIDTH - 16}" y2="{y:.1f}" stroke="#ccd1d6"/>')
        y += 8 + _panel(svg, entry, y + 8)
    height = math.ceil(y + 8)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" style="{FONT}">\n'
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>\n' + "\n".join(svg.parts) + "\n</svg>\n"
    )


def render_html(document: dict[str, Any]) -> str:
    """A page around the SVG, for a browser or a CI artifact."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>exchange chaos timeline</title></head>\n"
        f'<body style="margin:0;{FONT}">\n{render_svg(document)}</body></html>\n'
    )


_SUFFIXES = (".svg", ".html", ".htm")


def write(document: dict[str, Any], path: Path) -> None:
    """Write the timeline to ``path``: SVG for ``.svg``, a page around it for ``.html``/``.htm``."""
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise ValueError(
            f"timeline path {str(path)!r}: write a .svg or an .html path, e.g. chaos-timeline.svg"
        )
    html = suffix != ".svg"
    path.write_text(render_html(document) if html else render_svg(document), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m pytest_exchange_chaos.timeline REPORT.json OUTPUT.svg|.html", file=sys.stderr)
        return 2
    if Path(args[1]).suffix.lower() not in _SUFFIXES:
        print(f"{args[1]}: write a .svg or an .html path, e.g. chaos-timeline.svg", file=sys.stderr)
        return 2
    try:
        document = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"{args[0]}: not a chaos report ({exc})", file=sys.stderr)
        return 2
    if any("journal" not in test for test in document.get("tests", [])):
        # Drawn from the operations alone, the picture would show a quiet day that was not.
        print(
            f"{args[0]}: a summary report holds no requests to draw; write it with "
            "--chaos-report-detail=full (or draw the timeline during the run with --chaos-timeline)",
            file=sys.stderr,
        )
        return 2
    write(document, Path(args[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
