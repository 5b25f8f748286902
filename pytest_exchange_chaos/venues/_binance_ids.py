"""Ids that look like Binance's: per-symbol increasing order ids, algo ids, 22-character client ids."""

from __future__ import annotations

import random
import string

from faker import Faker

__all__ = ["BinanceIds"]

_CLIENT_ID_ALPHABET = string.ascii_letters + string.digits
_ALPHABET_SIZE = len(_CLIENT_ID_ALPHABET)
# A 32-bit output's top byte holds its top 6 bits (the drawn character) shifted left by 2.
_CHARACTER_OF_TOP_BYTE = bytes(
    ord(_CLIENT_ID_ALPHABET[byte >> 2]) if byte >> 2 < _ALPHABET_SIZE else 0 for byte in range(256)
)
_REDRAWN_TOP_BYTES = bytes(byte for byte in range(256) if byte >> 2 >= _ALPHABET_SIZE)


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
        # from the same generator), without its per-character regex callback: same ids.
        getrandbits = self._getrandbits
        if getrandbits is None:
            choice = self._rng.choice
            return "".join([choice(_CLIENT_ID_ALPHABET) for _ in range(length)])
        # Each ``choice`` is ``getrandbits(6)``: the top 6 bits of one 32-bit output of the
        # generator, drawn again when 62 or 63. ``getrandbits(32 * n)`` returns the next n
        # outputs whole, the first in the lowest bits; as little-endian bytes, every fourth
        # byte is an output's top byte. The same draws, in one call per batch.
        text = ""
        while (missing := length - len(text)) > 0:
            block = getrandbits(32 * missing).to_bytes(4 * missing, "little")
            text += block[3::4].translate(_CHARACTER_OF_TOP_BYTE, _REDRAWN_TOP_BYTES).decode("ascii")
        return text
