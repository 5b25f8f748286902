"""Per-test seeds derived from the session's seed and the test's node id (as pytest-randomly does)."""

from __future__ import annotations

import hashlib
import random

__all__ = ["derive_seed", "fresh_seed"]


def derive_seed(seed: int, *parts: str) -> int:
    # sha256, not hash(): hash() of a str changes per process, and xdist workers must agree.
    digest = hashlib.sha256("\0".join((str(seed), *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def fresh_seed() -> int:
    return random.SystemRandom().randrange(1, 2**31)
