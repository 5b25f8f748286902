"""Naked time: the intervals in which a position had no stop-loss covering it.

Each simulated venue keeps them over the chaos clock as its positions and stops change
(``venue.unprotected_intervals()``); ``assert_positions_protected(max_unprotected=...)``, the
report and the timeline read them. No pytest here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["UnprotectedInterval", "by_position", "clock_time", "format_span"]


@dataclass(frozen=True)
class UnprotectedInterval:
    """One interval in which an open position had no stop covering it.

    Covered means an open reduce-only or close-position stop order on the closing side whose
    sizes add up to the position's (Bybit's stop-loss on the position counts). The interval
    starts when the position opens uncovered, grows past its stops, or loses a stop (cancelled,
    triggered, expired); it ends when stops cover it again or the position closes.
    """

    venue: str
    """The ccxt id, e.g. ``"binanceusdm"``."""
    symbol: str
    """The ccxt unified symbol, e.g. ``"BTC/USDT:USDT"``."""
    side: Literal["long", "short"]
    size: float
    """The largest the position grew to during the interval, in contracts."""
    opened_at: float
    """When the position was opened (chaos-clock seconds): intervals with the same venue,
    symbol and ``opened_at`` belong to one position."""
    start: float
    """Chaos-clock seconds since the test started."""
    end: float | None
    """None while the position is still unprotected."""
    seconds: float
    """How long it lasted; for one still open, up to when it was read."""

    @property
    def position(self) -> str:
        """``"long 0.01 BTC/USDT:USDT on binanceusdm"``."""
        return f"{self.side} {self.size:g} {self.symbol} on {self.venue}"

    def describe(self) -> str:
        """``"long 0.01 BTC/USDT:USDT on binanceusdm unprotected for 4h12m (from 05:15:00 to
        09:27:00)"``."""
        until = self.start + self.seconds
        if self.end is None:
            when = f"from {clock_time(self.start)}, still unprotected at {clock_time(until)}"
        else:
            when = f"from {clock_time(self.start)} to {clock_time(until)}"
        return f"{self.position} unprotected for {format_span(self.seconds)} ({when})"


def format_span(seconds: float) -> str:
    """A length of time as a trader says it: ``4h12m``, ``2m30s``, ``1m00.4s``, ``35.5s``,
    ``0.105s``; tenths of a second under an hour, so a gap just over a limit reads so."""
    if round(seconds, 1) < 60:
        digits = 3 if seconds < 10 else 1
        return f"{seconds:.{digits}f}".rstrip("0").rstrip(".") + "s"
    tenths = round(seconds * 10)
    if tenths < 36_000:
        minutes, rest = divmod(tenths, 600)
        if not rest:
            return f"{minutes}m"
        return f"{minutes}m" + (f"{rest // 10:02d}" if rest % 10 == 0 else f"{rest / 10:04.1f}") + "s"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" + (f"{secs:02d}s" if secs else "")


def clock_time(seconds: float) -> str:
    """Chaos-clock seconds since the test started as a time of day: ``05:15:00``,
    ``00:00:01.25``."""
    millis = round(seconds * 1000)
    whole, fraction = divmod(millis, 1000)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return text + f".{fraction:03d}".rstrip("0") if fraction else text


def by_position(intervals: Iterable[UnprotectedInterval]) -> list[dict[str, Any]]:
    """The report's ``unprotected`` entries: per position (venue, symbol and when it opened),
    how long it spent unprotected in all, its longest interval, and each interval."""
    positions: dict[tuple[str, str, float], list[UnprotectedInterval]] = {}
    for interval in intervals:
        positions.setdefault((interval.venue, interval.symbol, interval.opened_at), []).append(interval)
    entries = []
    for (venue, symbol, opened_at), spans in positions.items():
        total = sum(span.seconds for span in spans)
        longest = max(span.seconds for span in spans)
        size = max(span.size for span in spans)
        still = spans[-1].end is None
        text = f"{spans[0].side} {size:g} {symbol} on {venue} unprotected for {format_span(total)}"
        if len(spans) > 1:
            text += f" in {len(spans)} intervals, the longest {format_span(longest)}"
        if still:
            text += ", still unprotected at the end"
        entries.append(
            {
                "venue": venue,
                "symbol": symbol,
                "side": spans[0].side,
                "size": size,
                "opened_at": opened_at,
                "seconds": total,
                "longest": longest,
                "still_unprotected": still,
                "text": text,
                "intervals": [
                    {"start": span.start, "end": span.end, "seconds": span.seconds, "size": span.size}
                    for span in spans
                ],
            }
        )
    return entries
