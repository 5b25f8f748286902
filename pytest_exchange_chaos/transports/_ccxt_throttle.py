"""ccxt's async rate limiter, waiting for its refill in one sleep while the chaos clock is virtual.

ccxt's leaky bucket polls every ``delay`` (1 ms): each poll sleeps, then refills the bucket by
the wall-clock time that passed. On the virtual clock each poll is one more turn of the event
loop, so a request behind a 50 ms rate limit costs 50 loop turns of real CPU for nothing. This
loop computes how many polls the refill needs and sleeps them in one go, so the request leaves
at the same millisecond on the chaos clock; only the wasted turns go. Everything else ccxt does
(building, signing, parsing, error mapping) is untouched.
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Callable
from time import time
from typing import Any

__all__ = ["accelerate_ccxt_throttler"]

_THROTTLER_MODULE = "ccxt.async_support.base.throttler"


async def _leaky_bucket_loop(self: Any) -> None:
    # ccxt's own loop, but the "not enough tokens" branch waits for the refill in one sleep.
    config = self.config
    last_timestamp = time() * 1000
    while self.running:
        future, cost = self.queue[0]
        cost = config["cost"] if cost is None else cost
        if config["tokens"] >= 0:
            config["tokens"] -= cost
            if not future.done():
                future.set_result(None)
            self.queue.popleft()
            await asyncio.sleep(0)
            if len(self.queue) == 0:
                self.running = False
        else:
            delay = config["delay"]
            missing_ms = -config["tokens"] / config["refillRate"]
            polls = max(1, math.ceil(missing_ms / (delay * 1000) - 1e-9))
            await asyncio.sleep(polls * delay)
            now = time() * 1000
            elapsed = now - last_timestamp
            last_timestamp = now
            config["tokens"] = min(config["tokens"] + elapsed * config["refillRate"], config["capacity"])


def accelerate_ccxt_throttler() -> Callable[[], None] | None:
    """Swap the loop in if the bot has imported async ccxt; returns the undo, or None."""
    module = sys.modules.get(_THROTTLER_MODULE)
    throttler = getattr(module, "Throttler", None)
    if throttler is None or "leaky_bucket_loop" not in vars(throttler):
        return None
    original = vars(throttler)["leaky_bucket_loop"]
    throttler.leaky_bucket_loop = _leaky_bucket_loop

    def undo() -> None:
        throttler.leaky_bucket_loop = original

    return undo
