"""Durations as traders write them: ``90``, ``"90s"``, ``"4h36m"``, ``"1h 2m 3.5s"``, ``"250ms"``."""

from __future__ import annotations

import re

__all__ = ["Duration", "format_clock", "parse_duration"]

Duration = float | int | str

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|h|m|s)", re.IGNORECASE)
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(value: Duration, *, what: str = "duration") -> float:
    """Seconds from a number or a string such as ``"4h36m"``; a clear ValueError otherwise."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be seconds or a string like '4h36m', not {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            parts = list(_PART.finditer(text))
            if not parts or "".join(p.group(0) for p in parts) != text:
                raise ValueError(
                    f"{what}={value!r} is not a duration: write seconds (90) or a string "
                    "like '90s', '5m', '4h36m' or '250ms'"
                ) from None
            seconds = sum(float(p.group(1)) * _UNIT_SECONDS[p.group(2).lower()] for p in parts)
    else:
        raise TypeError(f"{what} must be seconds or a string like '4h36m', not {type(value).__name__}")
    if seconds < 0:
        raise ValueError(f"{what}={value!r} is negative; durations count forward from the test's start")
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
