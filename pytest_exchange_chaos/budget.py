"""Retry budgets: how many requests, and how much chaos-clock time, one logical operation may take."""

from __future__ import annotations

from pytest_exchange_chaos._durations import Duration, parse_duration

__all__ = ["Budget"]


class Budget:
    """``Budget(attempts=5, seconds=60)``: at most 5 requests and 60 s from the first attempt to
    the acknowledged success. Either may be None (no limit)."""

    __slots__ = ("attempts", "seconds")

    def __init__(self, attempts: int | None = None, seconds: Duration | None = None) -> None:
        if attempts is not None and (
            isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1
        ):
            raise ValueError(f"Budget(attempts={attempts!r}): write a whole number of requests, at least 1")
        self.attempts = attempts
        self.seconds = None if seconds is None else parse_duration(seconds, what="Budget seconds")

    def describe(self) -> str:
        parts = []
        if self.attempts is not None:
            parts.append(f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}")
        if self.seconds is not None:
            parts.append(f"{self.seconds:g} s")
        return " / ".join(parts) or "no limit"

    def __repr__(self) -> str:
        return f"Budget(attempts={self.attempts!r}, seconds={self.seconds!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Budget) and (self.attempts, self.seconds) == (other.attempts, other.seconds)

    def __hash__(self) -> int:
        return hash((self.attempts, self.seconds))
