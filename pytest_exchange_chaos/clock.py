"""The chaos clock: one time line for the bot, ccxt, retry libraries and the event loop.

With the virtual clock, time stands still while the bot computes and jumps ahead whenever
everything is waiting: an asyncio loop about to block until its next timer, or a
``time.sleep``. Hours of backoff and waves then take no wall time, and because ``time.time()``,
``time.monotonic()``, ``datetime.now()`` and the loop's own clock all read the same offset, a
retry library that sleeps on one clock and measures on another sees them agree.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.thread
import contextlib
import math
import selectors
import sys
import threading
import time
import weakref
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

# Real seconds a thread waits for its turn behind a thread blocked outside the chaos clock (a
# lock, a queue, a socket) before it runs beside it.
_PATIENCE = 1.0
# How long the test's loop blocks for real at a time while it waits beside such a thread.
_REAL_SLICE = 0.01


class _TaskCall:
    """A pool job's callable, tagged with its task (the pool runs it in its own work item)."""

    __slots__ = ("fn", "task")

    def __init__(self, task: _Task, fn: Callable[..., Any]) -> None:
        self.task = task
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


class _Task:
    """A thread the bot started during the test, or one job it gave a thread pool (``to_thread``,
    ``run_in_executor``, ``ThreadPoolExecutor.submit``). The test's own thread is task -1."""

    __slots__ = ("arrived", "done", "executor", "seq", "thread", "waiting", "wake")

    def __init__(self, seq: int, executor: Any, wake: float) -> None:
        self.seq = seq
        self.executor = executor
        # The thread the bot started (None for a pool's job): named when it outlives the test.
        self.thread: threading.Thread | None = None
        # Until it first runs, a task is due at the moment it was created: tasks start in order.
        self.wake = wake
        self.arrived = False
        self.waiting = False
        self.done = False


class _Turns:
    """The bot's threads take turns on the chaos clock, so the same seed interleaves them alike.

    One thread runs at a time: the test's own thread, or one task. A running thread hands the
    turn on only where it waits on the chaos clock (``time.sleep``, an event loop with nothing
    to do, ``Future.result()``, ``Thread.join()``) or when its task ends. The turn then goes to
    the waiter due first on the chaos clock (ties: the test's thread, then tasks in the order
    they were created), and the clock jumps to that moment if it is ahead. So the clock never
    jumps while a thread computes, and who runs next never depends on the OS scheduler.

    A thread that blocks on anything else (a lock, a queue, a socket, ``Event.wait``) while it
    holds the turn is waited for ``_PATIENCE`` seconds of real time; then it leaves the turns
    (a library's service thread that waits forever on a C queue, such as pycares' under aiodns,
    must not stop the clock for the rest of the test), the others take turns without it and the
    clock jumps again. It rejoins when it next waits on the chaos clock; what it did in between
    ran beside the others, so the run is no longer guaranteed to repeat.
    """

    def __init__(self, clock: ChaosClock) -> None:
        self._clock = clock
        self._cond = threading.Condition(threading.Lock())
        self._local = threading.local()
        self._live: dict[int, _Task] = {}
        self._next_seq = 0
        self.owner = _Task(-1, None, 0.0)
        self.owner.arrived = True
        self._holder: _Task | None = self.owner
        # The owner waiting on something that a task's step may have made ready (I/O, a
        # future): it looks again after every step, before the next task runs.
        self._owner_polls = False
        self._steps = 0
        self._owner_seen = 0
        self.closed = False
        # The owner is inside Thread.start(), which waits for the new thread to be up.
        self.starting = False
        # Where the owner ranks among waiters due at the same moment: first, except when it
        # lets every task due by now take its step (settle).
        self._owner_rank = -1

    # -- reading ---------------------------------------------------------------------------

    def current(self) -> _Task | None:
        task: _Task | None = getattr(self._local, "task", None)
        return task

    def busy(self) -> bool:
        return bool(self._live)

    def threads_on_clock(self) -> list[threading.Thread]:
        """The threads the bot started that are alive and waiting on the chaos clock for a later
        step (a loop between two polls). A thread still finishing its last step (a test
        server's request handler closing its socket) is not listed: it is about to end."""
        now = self._clock._monotonic
        with self._cond:
            tasks = sorted(self._live.values(), key=lambda t: t.seq)
            waiting = [t.thread for t in tasks if t.arrived and t.waiting and t.wake > now]
        return [thread for thread in waiting if thread is not None and thread.is_alive()]

    # -- the tasks' life ---------------------------------------------------------------------

    def create(self, executor: Any) -> _Task:
        with self._cond:
            task = _Task(self._next_seq, executor, self._clock._monotonic)
            self._next_seq += 1
            self._live[task.seq] = task
            return task

    def forget(self, task: _Task) -> None:
        """A task that will never run (its future was cancelled, its thread failed to start)."""
        with self._cond:
            if not task.arrived and self._live.pop(task.seq, None) is not None:
                self._grant()

    def enter(self, task: _Task) -> None:
        self._local.task = task
        with self._cond:
            if self.closed or task.seq not in self._live:
                # Forgotten: a cancelled job's work item only finds its future cancelled.
                return
            task.arrived = True
            task.waiting = True
            self._grant()
            self._wait_for_turn(task)

    def leave(self, task: _Task) -> None:
        self._local.task = None
        with self._cond:
            task.done = True
            self._live.pop(task.seq, None)
            self._steps += 1
            self._release(task)
            self._grant()

    def park(self, task: _Task, wake: float, *, polls: bool = False) -> bool:
        """Hand the turn on until ``wake`` on the chaos clock (or, for the owner with ``polls``,
        until a task's step may have changed something). True if the turn came back in order,
        False if this thread stopped waiting for a thread blocked outside the chaos clock."""
        with self._cond:
            if self.closed:
                return False
            task.wake = wake
            task.waiting = True
            if task is not self.owner and not task.done:
                # A task that left the turns while blocked outside the clock comes back here.
                self._live.setdefault(task.seq, task)
            if task is self.owner:
                self._owner_polls = polls
                self._owner_seen = self._steps
            else:
                self._steps += 1
            self._release(task)
            self._grant()
            return self._wait_for_turn(task)

    def settle(self) -> None:
        """The owner hands the turn to every task due by now, without moving the clock: each takes
        its step until it finishes, waits on the clock for later, or leaves the turns (blocked
        outside the clock). A thread the test just started then shows where it lives."""
        if not self._live or self.closed:
            return
        self._owner_rank = sys.maxsize
        try:
            self.park(self.owner, self._clock._monotonic)
        finally:
            self._owner_rank = -1
            self.resume_owner()

    def resume_owner(self) -> None:
        """The owner runs again on its own (no task is left, or it stopped waiting for one)."""
        with self._cond:
            if not self._live and self._holder is None:
                self._holder = self.owner
                self.owner.waiting = False

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    # -- handing the turn on ---------------------------------------------------------------

    def _release(self, task: _Task) -> None:
        if self._holder is task:
            self._holder = None

    def _can_start(self, task: _Task) -> bool:
        # A pool job starts only once one of the pool's threads is free: waiting for a job
        # behind a full pool would wait forever.
        if task.executor is None:
            return True
        running = sum(1 for t in self._live.values() if t.arrived and t.executor is task.executor)
        return running < getattr(task.executor, "_max_workers", 1)

    def _grant(self) -> None:
        if self._holder is not None or self.closed:
            return
        best: tuple[float, int] | None = None
        chosen: _Task | None = None
        owner = self.owner
        if owner.waiting:
            due = (
                self._clock._monotonic
                if self._owner_polls and self._steps != self._owner_seen
                else owner.wake
            )
            best, chosen = (due, self._owner_rank), owner
        for task in self._live.values():
            if task.arrived and not task.waiting:
                continue  # running beside a stuck holder
            if not task.arrived and not self._can_start(task):
                continue
            key = (task.wake, task.seq)
            if best is None or key < best:
                best, chosen = key, task
        if chosen is None or best is None or not chosen.arrived or best[0] == math.inf:
            # Nobody to run yet: the chosen task's thread has not started; its arrival grants.
            return
        if chosen is owner:
            self._owner_seen = self._steps
        self._clock._advance_to(best[0])
        self._holder = chosen
        chosen.waiting = False
        self._cond.notify_all()

    def _wait_for_turn(self, task: _Task) -> bool:
        started = _real_monotonic()
        while self._holder is not task and not self.closed:
            if self._clock._real_io_in_flight:
                # A request really on the network: its timing is the network's anyway, and a
                # resolver thread must not wait for the loop that waits for it.
                break
            self._cond.wait(_PATIENCE / 20)
            if self._holder is task or _real_monotonic() - started <= _PATIENCE:
                continue
            if self._holder is None:
                break  # the task chosen to run next never started: run without it
            self._detach(self._holder)
            started = _real_monotonic()
        else:
            return True
        task.waiting = False
        if task is not self.owner and task.wake != math.inf:
            self._clock._advance_to(task.wake)
        if self._holder is None:
            self._holder = task
            return True
        return False

    def _detach(self, holder: _Task) -> None:
        # Blocked outside the chaos clock for longer than _PATIENCE: it leaves the turns, so
        # the clock can jump again without it (see the class docstring).
        self._live.pop(holder.seq, None)
        self._holder = None
        self._grant()


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
        self._advancing = threading.Lock()
        self._turns = _Turns(self)
        # Event loops that ran on this clock: their timers are moved back to real time after.
        self._loops: weakref.WeakSet[Any] = weakref.WeakSet()
        self._last_loop: Any = None
        # asyncio tasks created during the test: one still pending on a loop that outlives the
        # test runs in the next test, without the guard.
        self._tasks_started: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._tasks_created = 0

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
        with self._advancing:
            self._monotonic += seconds
            if self._traveller is not None:
                self._traveller.shift(seconds)

    def _advance_to(self, monotonic: float) -> None:
        with self._advancing:
            seconds = monotonic - self._monotonic
            if seconds <= 0 or not self.virtual:
                return
            # Assigned, not added: a timer due at ``monotonic`` must see exactly that reading.
            self._monotonic = monotonic
            if self._traveller is not None:
                self._traveller.shift(seconds)

    def sleep(self, seconds: float) -> None:
        """A blocking sleep on this clock: instant when virtual (for the thread's turn, when the
        bot's threads take turns)."""
        if self.virtual:
            self._patched_sleep(seconds)
        else:
            _real_sleep(seconds)

    def threads_left_running(self) -> list[threading.Thread]:
        """The threads the bot started during the test that still live on the chaos clock: each
        first takes the steps it is due now, so one started just before the test ended shows
        whether it waits on the clock (still listed), finishes, or blocks outside it (not)."""
        if not self._undo or not self._mine():
            return []
        self._turns.settle()
        return self._turns.threads_on_clock()

    def tasks_left_pending(self) -> list[Any]:
        """The asyncio tasks created during the test that are still pending on an open loop."""
        started = sorted(self._tasks_started.items(), key=lambda item: item[1])
        return [t for t, _ in started if not t.done() and not t.get_loop().is_closed()]

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

        # time-machine patches time.time(), time_ns(), datetime.now() and the rest for every
        # thread at once: the bot's threads read the chaos wall clock like the test does.
        travel = time_machine.travel(self._start_wall, tick=False)
        self._traveller = travel.start()
        self._undo.append(travel.stop)
        self._patch(time, "monotonic", self._patched_monotonic)
        self._patch(time, "monotonic_ns", lambda: int(self._patched_monotonic() * 1e9))
        self._patch(time, "sleep", self._patched_sleep)
        for cls in _SELECTOR_CLASSES:
            self._patch(cls, "select", self._make_select(cls.select))
        self._patch_threads()
        self._patch_tasks()

    def uninstall(self) -> None:
        self._turns.close()
        self._return_loops_to_real_time()
        self._last_loop = None
        while self._undo:
            self._undo.pop()()
        self._traveller = None

    def _patch(self, owner: Any, name: str, replacement: Any) -> None:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        setattr(owner, name, replacement)
        self._undo.append(lambda: setattr(owner, name, original))

    def _return_loops_to_real_time(self) -> None:
        # A loop that outlives the test (pytest-asyncio's module or session scope) holds timers
        # set on the virtual clock, days ahead of real time: move them back by the difference,
        # so a 5 s timer left with 2 s to go fires 2 real seconds from now.
        ahead = self._monotonic - _real_monotonic()
        for loop in list(self._loops):
            scheduled = getattr(loop, "_scheduled", None)
            if loop.is_closed() or not scheduled:
                continue
            for timer in scheduled:
                # A uniform shift keeps the loop's heap in order.
                timer._when -= ahead

    def _mine(self) -> bool:
        return threading.get_ident() == self._owner

    def _on_clock(self) -> bool:
        # The test's thread and the threads the bot started during the test live on the chaos
        # clock; threads that were there before (xdist's I/O, the interpreter's own) keep real
        # monotonic time and real sleeps.
        return threading.get_ident() == self._owner or self._turns.current() is not None

    def _patched_monotonic(self) -> float:
        return self.monotonic() if self._on_clock() else _real_monotonic()

    def _patched_sleep(self, seconds: float) -> None:
        seconds = float(seconds)
        if self._mine():
            if not self._turns.busy():
                self.advance(seconds)
                return
            wake = self._monotonic + max(seconds, 0.0)
            turns = self._turns
            if not turns.park(turns.owner, wake):
                self._advance_to(wake)
            turns.resume_owner()
            return
        task = self._turns.current()
        if task is None:
            _real_sleep(seconds)
            return
        self._turns.park(task, self._monotonic + max(seconds, 0.0))

    def _make_select(self, original: Callable[..., Any]) -> Callable[..., Any]:
        clock = self

        def select(selector: selectors.BaseSelector, timeout: float | None = None) -> Any:
            # The loop asks to block until its next timer. If no I/O is ready right now, nothing
            # can happen before that timer but the timer itself: jump straight to it.
            if timeout is not None and timeout <= 0:
                return original(selector, timeout)
            if clock._mine():
                loop = _running_loop()
                if loop is not clock._last_loop and loop is not None:
                    clock._last_loop = loop
                    clock._loops.add(loop)
                if clock._turns.busy() and not clock._real_io_in_flight:
                    return clock._select_beside_tasks(original, selector, timeout)
                if timeout is None:
                    return original(selector, timeout)
                ready = original(selector, timeout if clock._real_io_in_flight else 0)
                if not ready:
                    clock.advance(timeout)
                return ready
            task = clock._turns.current()
            if task is None or timeout is None or clock._real_io_in_flight:
                return original(selector, timeout)
            ready = original(selector, 0)
            if not ready:
                clock._turns.park(task, clock._monotonic + timeout)
                ready = original(selector, 0)
            return ready

        return select

    def _select_beside_tasks(
        self, original: Callable[..., Any], selector: selectors.BaseSelector, timeout: float | None
    ) -> Any:
        # The bot's threads are running: the loop hands them the turn and looks at its sockets
        # again after each of their steps (a finished ``to_thread`` wakes the loop through one).
        turns = self._turns
        wake = math.inf if timeout is None else self._monotonic + timeout
        while True:
            ready = original(selector, 0)
            if ready or self._monotonic >= wake or not turns.busy():
                turns.resume_owner()
                return ready
            if not turns.park(turns.owner, wake, polls=True):
                # A thread is stuck outside the chaos clock: wait for the sockets for real and
                # let the chaos clock run at real speed meanwhile.
                started = _real_monotonic()
                slice_ = _REAL_SLICE if timeout is None else min(_REAL_SLICE, wake - self._monotonic)
                ready = original(selector, max(slice_, 0))
                self.advance(min(_real_monotonic() - started, wake - self._monotonic))
                return ready

    def _wait_beside_tasks(self, done: Callable[[], bool], timeout: float | None) -> bool:
        """The test's thread waits for a future or a thread, taking turns with the bot's threads:
        True once ``done`` or its timeout passed on the chaos clock, False if it must wait for
        real (no task is left, or one is stuck outside the chaos clock)."""
        turns = self._turns
        wake = math.inf if timeout is None else self._monotonic + timeout
        while not done() and self._monotonic < wake:
            if not turns.busy() or not turns.park(turns.owner, wake, polls=True):
                turns.resume_owner()
                return False
        turns.resume_owner()
        return True

    def _patch_tasks(self) -> None:
        # Every task goes through the loop's create_task (asyncio.create_task, ensure_future,
        # TaskGroup, pytest-asyncio's runner); uvloop's loop is not Python and is not seen.
        import asyncio.base_events

        loop_class = asyncio.base_events.BaseEventLoop
        original_create_task = loop_class.create_task
        clock = self

        def create_task(loop: Any, *args: Any, **kwargs: Any) -> Any:
            task = original_create_task(loop, *args, **kwargs)
            if clock._on_clock():
                clock._tasks_created += 1
                clock._tasks_started[task] = clock._tasks_created
            return task

        self._patch(loop_class, "create_task", create_task)

    def _patch_threads(self) -> None:
        clock = self
        turns = self._turns
        # Whatever is in place now (another tool may have wrapped them first) is what ours call.
        original_submit = concurrent.futures.ThreadPoolExecutor.submit
        original_work_item_run = concurrent.futures.thread._WorkItem.run
        original_result = concurrent.futures.Future.result
        original_thread_start = threading.Thread.start
        original_join = threading.Thread.join
        original_event_wait = threading.Event.wait

        def submit(executor: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            if not clock._on_clock():
                # Submitted by a thread that was there before the test (a server's, xdist's):
                # not the bot's work, and it keeps real time like its submitter.
                return original_submit(executor, fn, *args, **kwargs)
            task = turns.create(executor)
            try:
                future = original_submit(executor, _TaskCall(task, fn), *args, **kwargs)
            except BaseException:
                turns.forget(task)
                raise
            # A job cancelled before it ran never takes its turn.
            future.add_done_callback(lambda _: turns.forget(task))
            return future

        def run_work_item(item: Any, *args: Any) -> Any:
            task = item.fn.task if isinstance(item.fn, _TaskCall) else None
            if task is None or turns.closed:
                return original_work_item_run(item, *args)
            turns.enter(task)
            try:
                # The future is settled inside: the turn is handed on after its waiters woke.
                return original_work_item_run(item, *args)
            finally:
                turns.leave(task)

        def start(thread: threading.Thread) -> None:
            if (
                getattr(thread, "_target", None) is concurrent.futures.thread._worker
                or turns.closed
                # Started by a thread that was there before the test (a module-scoped server's
                # request handlers): not the bot's, and it keeps real time like its parent.
                or not clock._on_clock()
            ):
                # Not a task (for a pool's own thread, its jobs are the tasks).
                turns.starting = clock._mine()
                try:
                    original_thread_start(thread)
                finally:
                    turns.starting = False
                return
            task = turns.create(None)
            task.thread = thread
            body = thread.run

            def run() -> None:
                turns.enter(task)
                try:
                    body()
                finally:
                    turns.leave(task)

            thread.run = run  # type: ignore[method-assign]
            thread.__dict__["_exchange_chaos_task"] = task
            # start() waits for the new thread to be up, not for its first turn.
            turns.starting = clock._mine()
            try:
                original_thread_start(thread)
            except BaseException:
                turns.forget(task)
                raise
            finally:
                turns.starting = False

        def result(future: Any, timeout: float | None = None) -> Any:
            mine_to_wait = clock._mine() and turns.busy() and not future.done()
            if mine_to_wait and clock._wait_beside_tasks(future.done, timeout):
                # Done, or timed out on the chaos clock: raise TimeoutError without waiting.
                return original_result(future, 0)
            return original_result(future, timeout)

        def join(thread: threading.Thread, timeout: float | None = None) -> None:
            if clock._mine() and turns.busy() and thread.is_alive():
                task = thread.__dict__.get("_exchange_chaos_task")
                finished: Callable[[], bool] = (
                    (lambda: task.done) if task is not None else (lambda: not thread.is_alive())
                )
                if clock._wait_beside_tasks(finished, timeout):
                    # Its task is over and the thread only exits; or it timed out on the clock.
                    original_join(thread, None if finished() else 0)
                    return
            original_join(thread, timeout)

        def event_wait(event: threading.Event, timeout: float | None = None) -> bool:
            # concurrent.futures.wait() and as_completed() wait on an Event that a job sets.
            mine_to_wait = clock._mine() and turns.busy() and not turns.starting and not event.is_set()
            if mine_to_wait and clock._wait_beside_tasks(event.is_set, timeout):
                return original_event_wait(event, 0)
            return original_event_wait(event, timeout)

        self._patch(concurrent.futures.ThreadPoolExecutor, "submit", submit)
        self._patch(threading.Event, "wait", event_wait)
        self._patch(concurrent.futures.thread._WorkItem, "run", run_work_item)
        self._patch(threading.Thread, "start", start)
        self._patch(concurrent.futures.Future, "result", result)
        self._patch(threading.Thread, "join", join)


def _running_loop() -> Any:
    asyncio = sys.modules.get("asyncio")
    return asyncio._get_running_loop() if asyncio is not None else None
