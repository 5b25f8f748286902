"""Ids that look like Binance's: per-symbol increasing order ids, algo ids, 22-character client ids."""

from __future__ import annotations

import random
import string

from faker import Faker

__all__ = ["BinanceIds"]

_CLIENT_ID_ALPHABET = string.ascii_letters + string.digits
_ALPHABET_SIZE = len(_CLIENT_ID_ALPHABET)
_ALPHABET_BITS = _ALPHABET_SIZE.bit_length()


class BinanceIds:
    """Seeded, so a test sees the same ids on every run."""

    def __init__(self, seed: int) -> None:
        self._fake = Faker()
        self._fake.seed_instance(seed)
        # The generator Faker draws from: the helpers below make its draws, one for one.
        self._rng: random.Random = self._fake.random
        # ``Random.choice``/``randrange`` draw through ``_randbelow``, which for a plain
        # ``random.Random`` is ``getrandbits(n.bit_length())`` until the result is below n.
        # Making those very draws here is the same sequence without two Python frames per
        # draw; a subclass may draw differently, so it keeps the library's own methods.
        self._getrandbits = self._rng.getrandbits if type(self._rng) is random.Random else None
        self._orders: dict[str, int] = {}
        self._trades: dict[str, int] = {}
        self._algo = self._random_int(1_000_000_000, 4_000_000_000)

    def order_id(self, symbol: str, channel: str) -> str:
        # Other traders' orders interleave with ours, so ids grow by uneven steps.
        if channel == "algo":
            self._algo += self._random_int(1, 400)
            return str(self._algo)
        current = self._orders.get(symbol)
        if current is None:
            current = self._random_int(1_000_000_000, 800_000_000_000)
        current += self._random_int(1, 5_000)
        self._orders[symbol] = current
        return str(current)

    def trade_id(self, symbol: str) -> str:
        current = self._trades.get(symbol)
        if current is None:
            current = self._random_int(100_000_000, 7_000_000_000)
        current += self._random_int(1, 2_000)
        self._trades[symbol] = current
        return str(current)

    def client_order_id(self) -> str:
        return self._lexify(22)

    def listen_key(self) -> str:
        return self._lexify(64)

    def _random_int(self, low: int, high: int) -> int:
        # ``Faker.random_int(low, high)`` is this draw on the same generator; calling it directly
        # skips Faker's proxy lookups on every order.
        getrandbits = self._getrandbits
        if getrandbits is None:
            return self._rng.randrange(low, high + 1, 1)
        width = high + 1 - low
        bits = width.bit_length()
        drawn = getrandbits(bits)
        while drawn >= width:
            drawn = getrandbits(bits)
        return low + drawn

    def _lexify(self, length: int) -> str:
        # What ``Faker.lexify("?" * length, letters=...)`` draws (one ``choice`` per character
        # from the same generator), without its per-character regex callback: same ids, 7x faster.
        getrandbits = self._getrandbits
        if getrandbits is None:
            choice = self._rng.choice
            return "".join([choice(_CLIENT_ID_ALPHABET) for _ in range(length)])
        characters: list[str] = []
        while len(characters) < length:
            drawn = getrandbits(_ALPHABET_BITS)
            if drawn < _ALPHABET_SIZE:
                characters.append(_CLIENT_ID_ALPHABET[drawn])
        return "".join(characters)
