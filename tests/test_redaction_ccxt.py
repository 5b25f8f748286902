"""Every exchange in ccxt that signs a request: its credentials never survive the redaction.

Each exchange is built with recognisable credentials and asked, through its own ``sign()``,
for one private GET and one private POST, with the clock frozen. The redaction must hide every
credential value, and every value derived from the secret (a signature, an HMAC'd token, a
JWT): those are found by signing again with another secret and seeing what changed. Pure: real
ccxt signing, the plugin's redaction and guard message, no network and no pytest plugin run.
"""

from __future__ import annotations

import base64
import random
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import ccxt
import pytest
from ccxt.base.types import Entry

from pytest_exchange_chaos._redact import redact_body, redact_headers, redact_url
from pytest_exchange_chaos.clock import ChaosClock
from pytest_exchange_chaos.engine import ChaosEngine
from pytest_exchange_chaos.errors import UnservedRequestError
from pytest_exchange_chaos.outcome import ClientTimeouts
from pytest_exchange_chaos.schedule import ScheduleRun
from pytest_exchange_chaos.venues.base import ExchangeRequest

# Every credential ccxt knows, as a value nobody could mistake for anything else.
MARKERS = {
    "apiKey": "APIKEYMARKER123",
    "secret": "SECRETMARKER456",
    "password": "PASSWORDMARKER789",
    "uid": "UIDMARKER321",
    "login": "LOGINMARKER654",
    "token": "TOKENMARKER987",
    "accountId": "ACCOUNTMARKER111",
    "privateKey": "0x" + "4d41524b4552" * 10 + "abcd",  # "MARKER" in hex: a valid key for wallet signing
}
# The same with the secret changed: what changes in the signed request came from the secret.
OTHER_SECRET = {**MARKERS, "secret": "OTHERSECRET999", "privateKey": "0x" + "4f5448455221" * 10 + "abcd"}
# Some exchanges decode their secret from base64 (Kraken, Coinbase Exchange, BTC Markets...),
# Gemini wants account keys: each exchange gets the first variant it accepts.
VARIANTS = (
    (MARKERS, OTHER_SECRET),
    (
        {**MARKERS, "secret": base64.b64encode(b"SECRETMARKER456").decode()},
        {**OTHER_SECRET, "secret": base64.b64encode(b"OTHERSECRET999").decode()},
    ),
    (
        {
            **MARKERS,
            "apiKey": "account-APIKEYMARKER123",
            "secret": base64.b64encode(b"SECRETMARKER456").decode(),
        },
        {
            **OTHER_SECRET,
            "apiKey": "account-APIKEYMARKER123",
            "secret": base64.b64encode(b"OTHERSECRET999").decode(),
        },
    ),
)
# Credentials that are secrets (a wallet address is public, and sent in the clear on purpose).
SECRET_FIELDS = ("apiKey", "secret", "password", "uid", "login", "token", "accountId", "privateKey")
FROZEN_MS = 1_700_000_000_000
# ccxt 4.5 has 104 exchanges, of which about 90 sign requests this test can build without a
# network round trip (some need an ed25519 key or an auth token fetched first): most of them
# must have been checked, or the test proves nothing.
MINIMUM_CHECKED = 80


@dataclass
class Signed:
    exchange: str
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    secrets: set[str] = field(default_factory=set)
    """The credential values given and the values that the secret produced."""


def _private_endpoints(api: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[list[str], str, str]]:
    if not isinstance(api, dict):
        return
    for key, value in api.items():
        if key.upper() in ("GET", "POST"):
            names = value.keys() if isinstance(value, dict) else value
            for path in names:
                yield list(prefix), key.upper(), path
        else:
            yield from _private_endpoints(value, (*prefix, key))


def _is_private(prefix: list[str]) -> bool:
    words = " ".join(prefix).lower()
    return "public" not in words and any(w in words for w in ("private", "trade", "account", "auth", "user"))


def _sign(
    exchange_id: str, credentials: dict[str, str], api: list[str], method: str, path: str
) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some exchanges warn about their own deprecated options
        exchange = getattr(ccxt, exchange_id)(dict(credentials))
    # The same instant for every signing, so only the secret changes what is signed.
    exchange.nonce = lambda: FROZEN_MS
    exchange.milliseconds = lambda: FROZEN_MS
    exchange.seconds = lambda: FROZEN_MS // 1000
    exchange.microseconds = lambda: FROZEN_MS * 1000
    params = dict.fromkeys(re.findall(r"\{(\w+)\}", path), "1")
    params.update({"symbol": "BTCUSDT", "orderId": "42"})
    return dict(exchange.sign(path, _api_argument(type(exchange), api, method, path), method, params))


def _api_argument(cls: type, api: list[str], method: str, path: str) -> Any:
    """The api argument ccxt's own implicit method passes to sign() for this endpoint: a list
    in ccxt 4.5 (``['fapi', 'private']``), a camelCase string before (``'fapiPrivate'``)."""
    camel = "".join(api[:1] + [part[:1].upper() + part[1:] for part in api[1:]])
    for klass in cls.__mro__:
        for entry in vars(klass).values():
            if (
                isinstance(entry, Entry)
                and (entry.path, entry.method) == (path, method)
                and entry.api in (api, camel)
            ):
                return entry.api
    return api


def _as_text(request: dict[str, Any]) -> str:
    headers = request.get("headers") or {}
    body = request.get("body")
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return "\n".join([str(request["url"]), *(f"{k}: {v}" for k, v in headers.items()), str(body or "")])


def _tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[\s&?=,;:\"'{}\[\]()]+", text) if len(t) >= 8}


def _derived(
    exchange_id: str, variant: tuple[dict[str, str], dict[str, str]], api: list[str], method: str, path: str
) -> set[str]:
    """Values in the signed request that come from the secret: they change with the secret and
    stay the same when signing again with it (a random nonce or uuid changes both ways)."""
    mine, other = variant
    first = _tokens(_as_text(_sign(exchange_id, mine, api, method, path)))
    again = _tokens(_as_text(_sign(exchange_id, mine, api, method, path)))
    changed = _tokens(_as_text(_sign(exchange_id, other, api, method, path)))
    return (first & again) - changed


def _signed_requests() -> tuple[list[Signed], dict[str, str]]:
    signed: list[Signed] = []
    skipped: dict[str, str] = {}
    for exchange_id in ccxt.exchanges:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            api = getattr(ccxt, exchange_id)().api
        # A few private endpoints per method, from different api groups: an older ccxt may have
        # no host for the first group (htx's v2Private before ccxt 4.5).
        endpoints: dict[str, list[tuple[list[str], str]]] = {}
        for prefix, method, path in _private_endpoints(api):
            candidates = endpoints.setdefault(method, [])
            if _is_private(prefix) and len(candidates) < 3 and all(c[0] != prefix for c in candidates):
                candidates.append((prefix, path))
        endpoints = {method: candidates for method, candidates in endpoints.items() if candidates}
        if not endpoints:
            skipped[exchange_id] = "no private endpoint in its api definition"
            continue
        reason = ""
        for method, candidates in endpoints.items():
            for (prefix, path), variant in ((c, v) for c in candidates for v in VARIANTS):
                if any(s.exchange == exchange_id and s.method == method for s in signed):
                    break
                try:
                    request = _sign(exchange_id, variant[0], prefix, method, path)
                    if "://None" in str(request["url"]):
                        raise ValueError(f"no host for the {prefix} api in this ccxt")
                    derived = _derived(exchange_id, variant, prefix, method, path)
                except Exception as error:  # ccxt raises anything at all for synthetic input
                    reason = f"{type(error).__name__}: {error}"[:120]
                    continue
                body = request.get("body") or b""
                secrets = {variant[0][name] for name in SECRET_FIELDS} | derived
                signed.append(
                    Signed(
                        exchange_id,
                        method,
                        str(request["url"]),
                        {str(k): str(v) for k, v in (request.get("headers") or {}).items()},
                        body if isinstance(body, bytes) else str(body).encode(),
                        secrets,
                    )
                )
                break
        if not any(s.exchange == exchange_id for s in signed):
            skipped[exchange_id] = reason
    return signed, skipped


@pytest.fixture(scope="module")
def signed_requests() -> tuple[list[Signed], dict[str, str]]:
    return _signed_requests()


def _unserved_message(request: ExchangeRequest) -> str:
    """What the guard says of a request no venue serves: the engine's own path, then the error."""
    engine = ChaosEngine(
        venues=[], schedule=ScheduleRun(random.Random(0)), clock=ChaosClock(), rng=random.Random(0)
    )
    outcome = engine.handle(request, ClientTimeouts())
    assert outcome.network == "unserved"
    return "\n".join(
        [outcome.message, engine.unserved[0].describe(), str(UnservedRequestError(outcome.message))]
    )


def _visible(signed: Signed) -> set[str]:
    """Which of the request's secrets show in the redacted request, its repr or the guard's message."""
    request = ExchangeRequest(signed.method, signed.url, signed.headers, signed.body, "requests")
    shown = "\n".join(
        [
            redact_url(signed.url),
            repr(redact_headers(signed.headers)),
            redact_body(signed.body).decode("utf-8", "replace"),
            repr(request),
            _unserved_message(request),
        ]
    )
    return {secret for secret in signed.secrets if secret in shown}


def _carried(signed: Signed) -> set[str]:
    sent = "\n".join([signed.url, repr(signed.headers), signed.body.decode("utf-8", "replace")])
    return {secret for secret in signed.secrets if secret in sent}


def test_no_credential_of_any_ccxt_exchange_survives_redaction(
    signed_requests: tuple[list[Signed], dict[str, str]],
) -> None:
    signed, _ = signed_requests
    leaks = {
        f"{s.exchange} {s.method} {s.url} {s.headers} {s.body!r}": sorted(_visible(s))
        for s in signed
        if _visible(s)
    }
    assert not leaks, "credentials shown after redaction:\n" + "\n".join(
        f"{k}\n  -> {v}" for k, v in leaks.items()
    )


def test_most_ccxt_exchanges_were_really_checked(
    signed_requests: tuple[list[Signed], dict[str, str]],
) -> None:
    signed, skipped = signed_requests
    # Checked means a credential or a signature really was in the request: a request that
    # carried none would pass the test above without testing anything.
    checked = sorted({s.exchange for s in signed if _carried(s)})
    assert len(checked) >= MINIMUM_CHECKED, (len(checked), skipped)
    # The exchanges the issue names, each with its own way of sending its key.
    for exchange_id in (
        "binanceusdm",
        "bybit",
        "htx",
        "okx",
        "kucoin",
        "gate",
        "bitget",
        "coinbase",
        "kraken",
    ):
        assert exchange_id in checked, (exchange_id, skipped.get(exchange_id))
    # Every way of carrying a credential was met: query, header and body.
    assert any("AccessKeyId=" in s.url for s in signed)
    assert any(re.search(r"signature=[0-9a-f]{64}", s.url) for s in signed)
    assert any("X-MBX-APIKEY" in s.headers for s in signed)
    assert any("OK-ACCESS-PASSPHRASE" in s.headers for s in signed)
    assert any(b"api_key" in s.body for s in signed)
