"""Turn a bot's own log into waves: the outage you actually had, replayed on the chaos clock."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from pytest_exchange_chaos import faults as _faults
from pytest_exchange_chaos._durations import MAX_SECONDS, shown
from pytest_exchange_chaos.faults import Fault
from pytest_exchange_chaos.schedule import Wave, grouped
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
        try:
            return Path(path_or_lines).read_text(encoding="utf-8", errors="replace").splitlines()
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"waves_from_log({shown(str(path_or_lines))}) cannot read that log file "
                f"({getattr(exc, 'strerror', None) or exc}): pass the log's path, its text (with "
                "newlines) or a list of its lines"
            ) from None
    return _text_lines(path_or_lines)


def _text_lines(lines: Iterable[object]) -> Iterable[str]:
    for line in lines:
        if not isinstance(line, str):
            raise TypeError(
                f"waves_from_log(path_or_lines=...): the log's lines must be strings, not {shown(line)}"
            )
        yield line


_DEFAULT_FORMAT = "%Y-%m-%d %H:%M:%S"


def _check_arguments(
    path_or_lines: object,
    pattern: object,
    fault: object,
    time_format: object,
    start: object,
) -> tuple[re.Pattern[str], re.Pattern[str], Fault, datetime | None]:
    """The timestamp regex, pattern, fault and start as waves_from_log uses them, or a clear
    error naming the one to fix: a mistake must not wait until the log happens to match (or
    silently never match)."""
    if isinstance(path_or_lines, (bytes, bytearray)) or not isinstance(path_or_lines, (str, Path, Iterable)):
        raise TypeError(
            f"waves_from_log(path_or_lines={shown(path_or_lines)}): pass the log's path, its text "
            "or a list of its lines"
        )
    if not isinstance(time_format, str):
        raise TypeError(f"waves_from_log(time_format={shown(time_format)}): write e.g. {_DEFAULT_FORMAT!r}")
    stamp = _timestamp_regex(time_format)
    if "%H" not in time_format or "%M" not in time_format:
        raise ValueError(
            f"waves_from_log(time_format={shown(time_format)}): the waves are per minute, so the "
            f"format needs %H and %M, e.g. {_DEFAULT_FORMAT!r}"
        )
    if isinstance(pattern, str):
        try:
            needle = re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                f"waves_from_log(pattern={shown(pattern)}) is not a regular expression ({exc}): "
                "write e.g. pattern=r'502 Bad Gateway'"
            ) from None
    elif isinstance(pattern, re.Pattern) and isinstance(pattern.pattern, str):
        needle = pattern
    else:
        raise TypeError(
            f"waves_from_log(pattern={shown(pattern)}): write a regular expression as a string, "
            "e.g. pattern=r'502 Bad Gateway'"
        )
    if fault is None:
        chosen_fault = _faults.bad_gateway()
    elif isinstance(fault, Fault):
        chosen_fault = fault
    else:
        raise TypeError(f"waves_from_log(fault={shown(fault)}): write a fault such as faults.bad_gateway()")
    origin: datetime | None
    if start is None or isinstance(start, datetime):
        origin = start
    elif isinstance(start, str):
        try:
            origin = datetime.strptime(start, time_format)
        except ValueError:
            raise ValueError(
                f"waves_from_log(start={shown(start)}) is not in time_format={time_format!r}: write it "
                "as the log writes its timestamps, or pass a datetime"
            ) from None
    else:
        raise TypeError(
            f"waves_from_log(start={shown(start)}): write a datetime, or a timestamp in time_format"
        )
    log_is_aware = "%z" in time_format
    if origin is not None and (origin.utcoffset() is not None) != log_is_aware:
        raise ValueError(
            f"waves_from_log(start={shown(start)}): "
            + (
                "start has no UTC offset but the log's timestamps do (%z): give start a tzinfo, "
                "e.g. datetime(..., tzinfo=timezone.utc)"
                if log_is_aware
                else "start has a UTC offset but the log's timestamps have none: pass a naive datetime"
            )
        )
    return stamp, needle, chosen_fault, origin


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
    endpoint: str | Iterable[str] | None = None,
    venue: str | Iterable[str] | None = None,
    symbol: str | Iterable[str] | None = None,
    required: bool = True,
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

    The waves are one replay: the test fails if none of them injects a fault (a bot that never
    sends the matching requests did not live through the outage), unless ``required=False``.
    """
    stamp, needle, chosen_fault, origin = _check_arguments(path_or_lines, pattern, fault, time_format, start)
    wave = functools.partial(
        Wave, rate=rate, intent=intent, endpoint=endpoint, venue=venue, symbol=symbol, required=required
    )
    # The rate, matchers and required flag are checked as a wave checks them, even when no
    # minute of the log matches.
    wave(0, 60, chosen_fault)
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
    waves: list[Wave] = []
    for minute, count in sorted(per_minute.items()):
        offset = (minute - origin) / timedelta(seconds=1)
        if offset + 60.0 <= 0.0:
            continue  # the whole minute happened before the replay starts
        if offset > MAX_SECONDS:
            raise ValueError(
                f"waves_from_log: the log's minute {minute} is more than 366 days after start "
                f"({origin}): pass a later start=, or a log of the days you mean to replay"
            )
        begin = max(0.0, offset)
        waves.append(wave(begin, offset + 60.0 - begin, chosen_fault, limit=count))
    if not waves:
        # An empty replay would let the test pass having replayed nothing.
        where = "after start=" if per_minute else "in the log"
        raise ValueError(
            f"waves_from_log: no timestamped line {where} matches pattern={needle.pattern!r}, so "
            "there is nothing to replay; write the pattern as the log spells the error (e.g. "
            "pattern='Bad Gateway' or pattern=r'HTTP 502'), or check start="
        )
    is_file = isinstance(path_or_lines, Path) or (
        isinstance(path_or_lines, str) and "\n" not in path_or_lines
    )
    source = repr(str(path_or_lines)) if is_file else "a log's lines"
    return grouped(waves, f"waves_from_log({source}: {len(waves)} minute(s) of {needle.pattern!r})")
