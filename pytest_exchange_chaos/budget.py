"""Retry budgets: how many requests, and how much chaos-clock time, one logical operation may take."""

from __future__ import annotations

from pytest_exchange_chaos._durations import Duration, parse_duration, shown

__all__ = ["Budget"]

# No bot retries an operation a million times; a bigger number is a typo for None.
MAX_ATTEMPTS = 1_000_000


class Budget:
    """``Budget(attempts=5, seconds=60)``: at most 5 requests and 60 s from the first attempt to
    the acknowledged success. Either may be None (no limit), not both: a budget with no limit
    would check nothing and always be kept."""

    __slots__ = ("attempts", "seconds")

    def __init__(self, attempts: int | None = None, seconds: Duration | None = None) -> None:
        if attempts is not None and (
            isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= MAX_ATTEMPTS
        ):
            raise ValueError(
                f"Budget(attempts={shown(attempts)}): write a whole number of requests, at least 1 "
                f"and at most {MAX_ATTEMPTS:,} (attempts=None for no limit on requests)"
            )
        if attempts is None and seconds is None:
            raise ValueError(
                "Budget() without attempts or seconds checks nothing: write e.g. "
                "Budget(attempts=5, seconds=60), or one of the two"
            )
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
