"""Per-test seeds, and the global generators a bot draws from, seeded for one chaos test.

A seed from ``--chaos-seed``, its ini twin or a fresh draw is mixed with the test's node id (as
pytest-randomly does), so one test's draws never shift another's. A seed written on the test
itself (``exchange_chaos(seed=2)``) is used alone: a copied or renamed test repeats the same run.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["MAX_SEED", "derive_seed", "fresh_seed", "seeded_global_random"]

MAX_SEED = 2**63 - 1
"""The largest seed taken: seeds print in the header, repeat on the command line and are
integers in the JSON report, which readers in other languages hold in 64 bits."""


def derive_seed(seed: int, *parts: str) -> int:
    # sha256, not hash(): hash() of a str changes per process, and xdist workers must agree.
    digest = hashlib.sha256("\0".join((str(seed), *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def fresh_seed() -> int:
    return random.SystemRandom().randrange(1, 2**31)


@contextlib.contextmanager
def seeded_global_random(seed: int) -> Iterator[None]:
    """Seed ``random`` (and ``numpy.random`` if the bot imported numpy) for one test, then put
    back the state they had, so the code around the test draws as if it never ran."""
    saved = random.getstate()
    # Looked up, never imported: a bot without numpy must not pay for it, and a bot that
    # imports it only inside the test seeds it with its own first call.
    numpy_random: Any = getattr(sys.modules.get("numpy"), "random", None)
    numpy_saved = numpy_random.get_state() if numpy_random is not None else None
    random.seed(seed)
    if numpy_random is not None:
        # numpy takes seeds below 2**32 only.
        numpy_random.seed(seed % 2**32)
    try:
        yield
    finally:
        random.setstate(saved)
        if numpy_random is not None:
            numpy_random.set_state(numpy_saved)
