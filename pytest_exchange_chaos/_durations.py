"""Durations as traders write them: ``90``, ``"90s"``, ``"4h36m"``, ``"1h 2m 3.5s"``, ``"250ms"``."""

from __future__ import annotations

import math
import re

__all__ = ["MAX_SECONDS", "Duration", "format_clock", "parse_duration", "shown"]

Duration = float | int | str

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|h|m|s)", re.IGNORECASE)
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_UNIT_ORDER = tuple(_UNIT_SECONDS)

MAX_SECONDS = 366 * 24 * 3600.0
"""The longest duration anything takes: a year of chaos time (a leap year's). Beyond it a
duration is a typo (a timestamp in seconds, a unit missing), and a profile that cuts it into
outages, or a timeline that draws it, would run or allocate for as long."""


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` for an error message, cut short: a pasted log or a 5000-digit number must
    not drown the message (nor raise: ``repr`` of such an int is itself a ValueError)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<a {value.bit_length()}-bit integer>"
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_duration(value: Duration, *, what: str = "duration") -> float:
    """Seconds from a number or a string such as ``"4h36m"``; a clear ValueError otherwise."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be seconds or a string like '4h36m', not {shown(value)}")
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            parts = list(_PART.finditer(text))
            if text.startswith("-") and parts and "".join(p.group(0) for p in parts) == text[1:]:
                raise ValueError(
                    f"{what}={shown(value)} is negative; durations count forward from the test's start"
                ) from None
            if not parts or "".join(p.group(0) for p in parts) != text:
                raise ValueError(
                    f"{what}={shown(value)} is not a duration: write seconds (90) or a string "
                    "like '90s', '5m', '4h36m' or '250ms'"
                ) from None
            units = [p.group(2).lower() for p in parts]
            if units != sorted(set(units), key=_UNIT_ORDER.index):
                # "1h1h" or "1m1h" is a typo, not a sum: say so rather than guess.
                raise ValueError(
                    f"{what}={shown(value)} repeats a unit or puts them out of order: write each of "
                    "h, m, s, ms at most once, largest first, e.g. '4h36m' or '1m30s'"
                ) from None
            seconds = sum(
                float(p.group(1)) * _UNIT_SECONDS[unit] for p, unit in zip(parts, units, strict=True)
            )
    else:
        raise TypeError(f"{what} must be seconds or a string like '4h36m', not {type(value).__name__}")
    if math.isnan(seconds):
        raise ValueError(
            f"{what}={shown(value)} is not a number: write seconds (90) or a string like '4h36m'"
        )
    if seconds < 0:
        raise ValueError(f"{what}={shown(value)} is negative; durations count forward from the test's start")
    if math.isinf(seconds):
        raise ValueError(
            f"{what}={shown(value)} is infinite: write a finite duration of at most 366 days, e.g. '4h36m'"
        )
    if seconds > MAX_SECONDS:
        raise ValueError(
            f"{what}={shown(value)} is longer than 366 days of chaos time: write a finite duration "
            "of at most 366 days ('8784h'), e.g. '4h36m'"
        )
    return seconds


def format_clock(seconds: float) -> str:
    """Chaos-clock seconds as a trader reads an incident timeline: ``+4h36m12.5s``."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    fraction = seconds - whole
    sec_text = f"{secs + fraction:.1f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"+{hours}h{minutes:02d}m{sec_text.zfill(3) if secs < 10 else sec_text}"
    if minutes:
        return f"+{minutes}m{sec_text}"
    return f"+{sec_text}"
