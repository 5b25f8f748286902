"""Turn a bot's own log into waves: the outage you actually had, replayed on the chaos clock."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from pytest_exchange_chaos import faults as _faults
from pytest_exchange_chaos.faults import Fault
from pytest_exchange_chaos.schedule import Wave
from pytest_exchange_chaos.venues.base import Intent

__all__ = ["waves_from_log"]

_DIRECTIVES = {
    "Y": r"\d{4}",
    "m": r"\d{1,2}",
    "d": r"\d{1,2}",
    "H": r"\d{1,2}",
    "M": r"\d{1,2}",
    "S": r"\d{1,2}",
    "f": r"\d{1,6}",
    "y": r"\d{2}",
    "b": r"[A-Za-z]{3}",
    "z": r"[+-]\d{4}",
    "%": "%",
}


def _timestamp_regex(time_format: str) -> re.Pattern[str]:
    out = []
    chars = iter(time_format)
    for ch in chars:
        if ch == "%":
            directive = next(chars, "")
            if directive not in _DIRECTIVES:
                raise ValueError(
                    f"time_format={time_format!r}: %{directive} is not supported; use "
                    + ", ".join("%" + d for d in _DIRECTIVES)
                )
            out.append(_DIRECTIVES[directive])
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out))


def _lines(path_or_lines: str | Path | Iterable[str]) -> Iterable[str]:
    if isinstance(path_or_lines, str) and "\n" in path_or_lines:
        # A log pasted into the test (a triple-quoted string), not a file name.
        return path_or_lines.splitlines()
    if isinstance(path_or_lines, (str, Path)):
        return Path(path_or_lines).read_text(encoding="utf-8", errors="replace").splitlines()
    return path_or_lines


def _has_date(time_format: str) -> bool:
    return any(f"%{d}" in time_format for d in ("d", "j"))


def waves_from_log(
    path_or_lines: str | Path | Iterable[str],
    pattern: str | re.Pattern[str] = r"502 Bad Gateway",
    fault: Fault | None = None,
    time_format: str = "%Y-%m-%d %H:%M:%S",
    *,
    start: datetime | str | None = None,
    rate: float = 1.0,
    intent: Intent | Iterable[Intent] | None = None,
    endpoint: str | None = None,
    venue: str | Iterable[str] | None = None,
    symbol: str | Iterable[str] | None = None,
) -> list[Wave]:
    """One wave per minute in which log lines matched ``pattern``, capped at that minute's count.

    ``path_or_lines`` is a log file's path, the log's text, or its lines. A line counts when it
    carries a timestamp in ``time_format`` and matches ``pattern``: continuation lines (a
    traceback repeating the error) have no timestamp and are not counted twice.

    Times are relative to ``start`` (a datetime, or a string in ``time_format``), by default the
    first timestamped line of the log, so the replay begins where the bot's day began; minutes
    before ``start`` are left out. A ``time_format`` without a date (``"%H:%M:%S"``) rolls over
    at midnight. Each wave fails matching requests with ``fault`` (default: Binance's
    ``502 Bad Gateway``) with probability ``rate``, at most as often as the log counted in that
    minute; ``intent``, ``endpoint``, ``venue`` and ``symbol`` narrow which requests it hits,
    as in ``Wave``.
    """
    stamp = _timestamp_regex(time_format)
    needle = re.compile(pattern) if isinstance(pattern, str) else pattern
    chosen_fault = fault if fault is not None else _faults.bad_gateway()
    origin = datetime.strptime(start, time_format) if isinstance(start, str) else start
    rolls_over = not _has_date(time_format)
    previous: datetime | None = None
    day = timedelta(0)
    per_minute: Counter[datetime] = Counter()
    for line in _lines(path_or_lines):
        found = stamp.search(line)
        if found is None:
            continue
        try:
            when = datetime.strptime(found.group(0), time_format)
        except ValueError:
            continue  # digits shaped like a timestamp that is not one (an order id, a price)
        if rolls_over:
            # Without a date, a clock that jumps back by hours has passed midnight; a little
            # disorder (threads logging out of turn) is not a new day.
            if previous is not None and when + day < previous - timedelta(hours=1):
                day += timedelta(days=1)
            when += day
            previous = when
        if origin is None:
            origin = when
        if needle.search(line):
            per_minute[when.replace(second=0, microsecond=0)] += 1
    if origin is None:
        raise ValueError(f"no line of the log has a timestamp in time_format={time_format!r}")
    waves = []
    for minute, count in sorted(per_minute.items()):
        offset = (minute - origin) / timedelta(seconds=1)
        if offset + 60.0 <= 0.0:
            continue  # the whole minute happened before the replay starts
        begin = max(0.0, offset)
        waves.append(
            Wave(
                begin,
                offset + 60.0 - begin,
                chosen_fault,
                rate=rate,
                limit=count,
                intent=intent,
                endpoint=endpoint,
                venue=venue,
                symbol=symbol,
            )
        )
    return waves
