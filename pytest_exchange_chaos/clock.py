"""The chaos clock: one time line for the bot, ccxt, retry libraries and the event loop.

With the virtual clock, time stands still while the bot computes and jumps ahead whenever
everything is waiting: an asyncio loop about to block until its next timer, or a
``time.sleep``. Hours of backoff and waves then take no wall time, and because ``time.time()``,
``time.monotonic()``, ``datetime.now()`` and the loop's own clock all read the same offset, a
retry library that sleeps on one clock and measures on another sees them agree.
"""

from __future__ import annotations

import contextlib
import selectors
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

__all__ = ["ChaosClock", "ClockMode"]

ClockMode = Literal["virtual", "real"]

# Captured at import, before any patching, so the clock itself never reads its own patches.
_real_monotonic = time.monotonic
_real_time = time.time
_real_sleep = time.sleep

# The classes that implement select() themselves (epoll and poll share a base that does).
_SELECTOR_CLASSES: tuple[type[selectors.BaseSelector], ...] = tuple(
    dict.fromkeys(
        cls
        for cls in vars(selectors).values()
        if isinstance(cls, type)
        and issubclass(cls, selectors.BaseSelector)
        and cls is not selectors.BaseSelector
        and "select" in cls.__dict__
    )
)


# Same seed, same journal: that needs bit-identical float arithmetic on every run, so the
# virtual clocks start from bases whose rounding does not vary. Monotonic starts at a fixed
# 2**21 s (24 days): a float there resolves better than asyncio's 1 ns clock resolution for
# the next 70 days of chaos time, so a timer due "now" is always seen as due (a coarser base
# lets the loop spin forever one ulp short of it). The wall clock starts at a whole second,
# which keeps ``time() * 1000`` rounding the same whatever the date.
VIRTUAL_MONOTONIC_BASE = float(2**21)


class ChaosClock:
    """Seconds since the test started; virtual (jumps ahead) or real (reads the wall clock)."""

    def __init__(self, mode: ClockMode = "virtual") -> None:
        self.mode: ClockMode = mode
        if mode == "virtual":
            self._start_wall = float(int(_real_time()))
            self._start_monotonic = VIRTUAL_MONOTONIC_BASE
        else:
            self._start_wall = _real_time()
            self._start_monotonic = _real_monotonic()
        # The virtual clock's state is the monotonic reading itself, not an offset added to a
        # base: a loop's timer at ``when`` computes ``when - monotonic``, and adding exactly that
        # back lands exactly on ``when`` (the operands are close, so the subtraction is exact).
        # Through an offset, rounding could leave the loop one ulp short of its timer forever.
        self._monotonic = self._start_monotonic
        self._owner = threading.get_ident()
        self._real_io_in_flight = 0
        self._undo: list[Callable[[], None]] = []
        self._traveller: Any = None

    @property
    def virtual(self) -> bool:
        return self.mode == "virtual"

    def now(self) -> float:
        # Read several times for every request a venue answers: the mode is compared inline
        # rather than through the ``virtual`` property.
        if self.mode == "virtual":
            return self._monotonic - self._start_monotonic
        return _real_monotonic() - self._start_monotonic

    def wall_time(self) -> float:
        return self._start_wall + self.now()

    def monotonic(self) -> float:
        return self._monotonic if self.virtual else _real_monotonic()

    def advance(self, seconds: float) -> None:
        """Move virtual time forward (a no-op on the real clock, where time moves by itself)."""
        if not self.virtual or seconds <= 0:
            return
        self._monotonic += seconds
        if self._traveller is not None:
            self._traveller.shift(seconds)

    def sleep(self, seconds: float) -> None:
        """A blocking sleep on this clock: instant when virtual."""
        if self.virtual:
            self.advance(seconds)
        else:
            _real_sleep(seconds)

    @contextlib.contextmanager
    def real_io(self) -> Iterator[None]:
        """Mark a request that really goes out (an allowed host): while one is in flight, a loop
        with nothing ready waits for the socket for real instead of jumping to its next timer,
        which would be the client's own timeout."""
        self._real_io_in_flight += 1
        try:
            yield
        finally:
            self._real_io_in_flight -= 1

    # -- patching -----------------------------------------------------------------------------

    def install(self) -> None:
        """Route the process's clocks through this one (virtual mode only). Undo with uninstall()."""
        if not self.virtual or self._undo:
            return
        # Imported here: a suite that never runs a chaos test never loads it through us.
        import time_machine

        travel = time_machine.travel(self._start_wall, tick=False)
        self._traveller = travel.start()
        self._undo.append(travel.stop)
        self._patch(time, "monotonic", self._patched_monotonic)
        self._patch(time, "monotonic_ns", lambda: int(self._patched_monotonic() * 1e9))
        self._patch(time, "sleep", self._patched_sleep)
        for cls in _SELECTOR_CLASSES:
            self._patch(cls, "select", self._make_select(cls.select))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()
        self._traveller = None

    def _patch(self, owner: Any, name: str, replacement: Any) -> None:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        setattr(owner, name, replacement)
        self._undo.append(lambda: setattr(owner, name, original))

    def _mine(self) -> bool:
        # Other threads (xdist's I/O, a bot's worker threads) keep real time: only the test's
        # own thread lives on the chaos clock.
        return threading.get_ident() == self._owner

    def _patched_monotonic(self) -> float:
        return self.monotonic() if self._mine() else _real_monotonic()

    def _patched_sleep(self, seconds: float) -> None:
        if self._mine():
            self.advance(float(seconds))
        else:
            _real_sleep(seconds)

    def _make_select(self, original: Callable[..., Any]) -> Callable[..., Any]:
        clock = self

        def select(selector: selectors.BaseSelector, timeout: float | None = None) -> Any:
            # The loop asks to block until its next timer. If no I/O is ready right now, nothing
            # can happen before that timer but the timer itself: jump straight to it.
            if timeout is None or timeout <= 0 or not clock._mine():
                return original(selector, timeout)
            ready = original(selector, timeout if clock._real_io_in_flight else 0)
            if ready:
                return ready
            clock.advance(timeout)
            return ready

        return select
