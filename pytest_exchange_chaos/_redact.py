"""One redaction policy for everything the plugin writes or prints: URLs, headers, bodies, text.

Pure: no pytest and no HTTP client. A query parameter, header, form field or JSON key is a
credential by the shape of its name, not by a fixed list: ccxt's 100-odd exchanges name their
keys ``X-MBX-APIKEY``, ``AccessKeyId``, ``OK-ACCESS-PASSPHRASE``, ``KC-API-KEY``, ``key``,
``request-api``... and a hand-written bot may use any of them. Credential values become ``***``.

The journal redacts every request's URL, so :func:`redact_url` is on the hot path and cheap
when there is nothing to do; everything else runs only when something is printed.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote_plus

__all__ = [
    "REDACTED",
    "is_credential",
    "redact_all_query_values",
    "redact_body",
    "redact_headers",
    "redact_report",
    "redact_text",
    "redact_url",
]

REDACTED = "***"

# A word of the name (split at "-", "_", "." and camelCase) that ends with one of these makes
# it a credential: apikey, appkey, listenKey, AccessKeyId, X-BAPI-SIGN, TAPI-MAC, accessToken...
_WORD_ENDINGS = (
    "key",
    "secret",
    "sign",
    "signature",
    "mac",
    "token",
    "passphrase",
    "password",
    "passwd",
    "hash",  # zonda's API-Hash is the request's signature
)
# ... or that starts with "auth" (Authorization, X-Auth, X-Authentication), or is one of these
# (X-PCK is BtcTurk's public key).
_WORDS = frozenset({"sig", "pwd", "pck", "cookie", "sessionid", "credential", "credentials", "jwt"})
# Whole names (lowercased, separators removed) that carry an account's credentials on some
# exchanges although no word of them says so: ccxt's ``uid`` is sent as UserId (ndax), userId
# (cryptomus), clientId (coinmate), TAPI-ID (mercado), X-Device-Id (coinmetro); btse sends its
# API key as request-api, and coinex (before ccxt 4.5) as access_id.
# A bare "session" is left alone: in an HTTP stack it is the client's session object.
_NAMES = frozenset(
    {"uid", "userid", "clientid", "tapiid", "requestapi", "sessionid", "setcookie", "accessid", "xdeviceid"}
)
# ... unless it names the scheme rather than carrying its value (SignatureMethod=HmacSHA256,
# SignatureVersion=2, X-BAPI-SIGN-TYPE: 2, KC-API-KEY-VERSION: 2).
_SCHEME_WORDS = frozenset({"method", "version", "type", "algorithm", "algo"})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# Most names are asked about again and again (every request carries the same few): remember
# the verdicts, within a bound, as the names come from the bot and could be anything.
_VERDICTS: dict[str, bool] = {}
_MAX_VERDICTS = 4096


def is_credential(name: str) -> bool:
    """True when a parameter or header called ``name`` carries a credential or a proof of one.

    Innocuous names stay readable: ``symbol``, ``orderId``, ``newClientOrderId``,
    ``recvWindow``, ``timestamp``, ``Content-Type``.
    """
    verdict = _VERDICTS.get(name)
    if verdict is None:
        verdict = _judge(name)
        if len(_VERDICTS) < _MAX_VERDICTS:
            _VERDICTS[name] = verdict
    return verdict


def _judge(name: str) -> bool:
    flat = re.sub(r"[\s_.\-]", "", name).lower()
    if flat in _NAMES:
        return True
    words = [word.lower() for word in _WORD.findall(name)]
    if len(words) > 1 and words[-1] in _SCHEME_WORDS:
        return False
    return any(word in _WORDS or word.startswith("auth") or word.endswith(_WORD_ENDINGS) for word in words)


def redact_url(url: str) -> str:
    """``url`` with credential query parameters and any ``user:password@`` as ``***``.

    The rest is kept byte for byte, so a redacted URL reads as the bot sent it.
    """
    if "?" not in url and "@" not in url:
        return url  # most signed POSTs carry their proof in the body: nothing to do here
    head, mark, query = url.partition("?")
    shown_head = _redact_userinfo(head) if "@" in head else head
    shown_query = query
    if query:
        pairs, hashmark, fragment = query.partition("#")
        shown_pairs = _redact_pairs(pairs)
        if shown_pairs is not pairs:
            shown_query = shown_pairs + hashmark + fragment
    if shown_head is head and shown_query is query:
        return url
    return shown_head + mark + shown_query


def redact_all_query_values(url: str) -> str:
    """``url`` with every query value as ``***`` (names kept), any ``user:password@`` as ``***``
    and no fragment: for a request the plugin refused, whose values are of no use to the reader
    and whose names need not look like credentials (``access``, ``pk``) to carry one. A field
    without ``=`` may be a bare key, so it is hidden too."""
    head, mark, query = url.partition("#")[0].partition("?")
    if "@" in head:
        head = _redact_userinfo(head)
    fields = []
    for field in query.split("&") if query else ():
        name, equals, _ = field.partition("=")
        fields.append(f"{name}={REDACTED}" if equals else REDACTED if field else "")
    return head + mark + "&".join(fields)


def _redact_userinfo(head: str) -> str:
    scheme, slashes, rest = head.partition("://")
    if not slashes:
        return head
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return head  # an "@" in the path (/users/@me) is no credential
    return f"{scheme}://{REDACTED}@{authority.rpartition('@')[2]}{slash}{path}"


def _redact_pairs(text: str) -> str:
    """A query string or form body with every credential field's value as ``***``."""
    fields = text.split("&")
    changed = False
    for index, field_text in enumerate(fields):
        name, equals, value = field_text.partition("=")
        if not (equals and value):
            continue
        plain = unquote_plus(name) if "%" in name or "+" in name else name
        if is_credential(plain) and value != REDACTED:
            fields[index] = f"{name}={REDACTED}"
            changed = True
    return "&".join(fields) if changed else text


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with every credential header's value as ``***``."""
    return {name: REDACTED if is_credential(name) else value for name, value in headers.items()}


def redact_body(body: bytes) -> bytes:
    """A request body with its credential fields as ``***``: JSON (Bybit, OKX, ...), form
    (Binance's signed POSTs), or anything else through :func:`redact_text`."""
    if not body:
        return body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            decoded = json.loads(text)
        except ValueError:
            pass
        else:
            redacted = _redact_json(decoded)
            if redacted == decoded:
                return body
            return json.dumps(redacted, separators=(",", ":")).encode()
    if "=" in text and not any(c.isspace() for c in text):
        return _redact_pairs(text).encode()
    return redact_text(text).encode()


def _redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: REDACTED
            if isinstance(key, str) and is_credential(key) and item is not None
            else _redact_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(item) for item in value]
    return value


# Free text: what a traceback, a repr, a captured log or an exception message may hold.
_URL_USERINFO = re.compile(r"(?<=://)[^\s/@'\"<>?#]+(?=@)")
# name=value, as in a query string, a form body or a keyword repr (api_key='...'). Only the
# name is matched: a value is read on from there for credentials alone, so a quoted URL after
# ``url=`` is still searched for the pairs inside it.
_ASSIGNED = re.compile(r"(?<![\w\-.])(?P<name>[A-Za-z_][\w\-.]*)=")
# 'name': 'value' as in a dict repr or JSON. A repr cut in the middle by pytest ("...") may
# have lost the opening quote of the name.
_MAPPED = re.compile(r"(?:['\"]|\.\.\.)(?P<name>[^'\"\n]{1,100})['\"]\s*:\s*b?(?=['\"])")
_UNQUOTED_END = re.compile(r"[&\s'\",;)\]}>]")
# An HTTP header line ("Authorization: Bearer ...", "X-MBX-APIKEY: ..."): only names that look
# like headers, so "KeyError: 'x'" stays as it is.
_HEADER_LINE = re.compile(
    r"(?im)^(?P<lead>[ \t>]*)(?P<name>authorization|cookie|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+)"
    r"(?P<colon>:[ \t]*)(?P<value>\S.*)$"
)
# The same anywhere in a line, for the two headers whose names say it all.
_AUTH_HEADER = re.compile(
    r"(?i)(?<![\w-])(?P<name>(?:proxy-)?authorization|cookie)(?P<colon>:[ \t]*)"
    r"(?P<value>(?:(?:basic|bearer|digest|token|hmac[\w-]*)[ \t]+)?[^\s'\",;]+)"
)
# What a learnt secret may look like: API keys, secrets, signatures, tokens.
_SECRET_LIKE = re.compile(r"[A-Za-z0-9+/=_\-.:]{8,}")
# Values a credential-named local may hold that are no secret, left readable.
_HARMLESS = frozenset({"None", "True", "False", "''", '""', "b''", "{}", "[]", "()"})
# pytest's showlocals line: "name       = repr".
_LOCAL = re.compile(r"^(?P<name>[A-Za-z_]\w*)(?P<eq>\s*=\s)(?P<value>.*)$", re.DOTALL)


def _value_end(text: str, start: int) -> int:
    """Where the value starting at ``start`` ends: its closing quote, or the end of the field."""
    quote = text[start : start + 1]
    if quote in ("'", '"'):
        index = start + 1
        while index < len(text):
            char = text[index]
            if char == "\\":
                index += 2
                continue
            if char == quote:
                return index + 1
            if char == "\n":
                return index
            index += 1
        return len(text)
    end = _UNQUOTED_END.search(text, start)
    return len(text) if end is None else end.start()


def _masked(value: str) -> str:
    """``***`` in the value's own quotes, if it had them."""
    quote = value[:1]
    if quote in ("'", '"'):
        return quote + REDACTED + (quote if len(value) > 1 and value.endswith(quote) else "")
    return REDACTED


def redact_text(text: str) -> str:
    """Free text (a message, a repr, captured output) with every credential it shows as ``***``:
    URL userinfo, ``name=value`` pairs, ``'name': 'value'`` entries and header lines."""
    return _Redactor().redact(text)


class _Redactor:
    """Redacts by pattern, and remembers the values it redacted so that the same secret is
    also hidden where no name stands beside it (a repr cut short by pytest, say)."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()

    def _learn(self, value: str) -> None:
        value = value.removeprefix("b").strip("'\"") if value[:2] in ("b'", 'b"') else value.strip("'\"")
        # Only what looks like a key, a secret or a signature (random letters and digits): a
        # local named ``content_type_key`` holding "Content-Type" must not blank every
        # "Content-Type" in the report.
        if (
            _SECRET_LIKE.fullmatch(value)
            and any(c.isdigit() for c in value)
            and any(c.isalpha() for c in value)
        ):
            self.secrets.add(value)

    def learn(self, text: str, *, assignment: bool = False) -> str:
        self._substitute(text, assignment, learn=True)
        return text

    def redact(self, text: str, *, assignment: bool = False) -> str:
        text = self._substitute(text, assignment, learn=False)
        return self._forget_known(text) if self.secrets else text

    def _substitute(self, text: str, assignment: bool, *, learn: bool) -> str:
        if assignment:
            local = _LOCAL.match(text)
            if local and is_credential(local["name"]) and local["value"].strip() not in _HARMLESS:
                if learn:
                    self._learn(local["value"])
                return f"{local['name']}{local['eq']}{REDACTED}"

        def header(match: re.Match[str]) -> str:
            if not is_credential(match["name"]) or match["value"] == REDACTED:
                return match[0]
            if learn:
                self._learn(match["value"].split()[-1])
            return f"{match.groupdict().get('lead') or ''}{match['name']}{match['colon']}{REDACTED}"

        if "://" in text and "@" in text:
            text = _URL_USERINFO.sub(REDACTED, text)
        if "=" in text:
            text = self._mask_values(_ASSIGNED, text, learn)
        if ":" in text:
            text = self._mask_values(_MAPPED, text, learn)
            text = _HEADER_LINE.sub(header, text)
            text = _AUTH_HEADER.sub(header, text)
        return text

    def _mask_values(self, names: re.Pattern[str], text: str, learn: bool) -> str:
        pieces: list[str] = []
        done = 0
        for match in names.finditer(text):
            if match.start() < done or not is_credential(match["name"]):
                continue  # inside a value already masked, or no credential
            start = match.end()
            end = _value_end(text, start)
            value = text[start:end]
            if end == start or value.strip("'\"") == REDACTED:
                continue
            if learn:
                self._learn(value)
            pieces.append(text[done:start])
            pieces.append(_masked(value))
            done = end
        if not pieces:
            return text
        pieces.append(text[done:])
        return "".join(pieces)

    def _forget_known(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        if "..." in text:
            text = self._cut_secrets(text)
        return text

    def _cut_secrets(self, text: str) -> str:
        # pytest shortens a long repr by cutting out its middle: "...KEYzz1'" may be the end of a
        # secret whose start was cut, "'LEAKKE..." the start of one whose end was.
        pieces = text.split("...")
        for index, piece in enumerate(pieces):
            for secret in self.secrets:
                if index > 0:
                    for cut in range(1, len(secret) - 3):
                        if piece.startswith(secret[cut:]):
                            piece = REDACTED + piece[len(secret) - cut :]
                            break
                if index < len(pieces) - 1:
                    for keep in range(len(secret) - 1, 3, -1):
                        if piece.endswith(secret[:keep]):
                            piece = piece[: len(piece) - keep] + REDACTED
                            break
            pieces[index] = piece
        return "...".join(pieces)


def redact_report(report: Any) -> None:
    """Redact, in place, what pytest shows of a test: its failure (traceback, source, showlocals,
    the crash line), its captured output, and its longrepr text, in the terminal and junit.xml alike.

    Duck-typed over pytest's report objects (dataclasses whose strings are the lines printed),
    so this module stays free of pytest.
    """
    redactor = _Redactor()
    for rewrite in (redactor.learn, redactor.redact):
        longrepr = getattr(report, "longrepr", None)
        if isinstance(longrepr, str):
            report.longrepr = rewrite(longrepr)
        elif isinstance(longrepr, tuple):
            report.longrepr = tuple(rewrite(v) if isinstance(v, str) else v for v in longrepr)
        elif longrepr is not None:
            try:
                _rewrite_tree(longrepr, rewrite, set())
            except (AttributeError, TypeError, dataclasses.FrozenInstanceError):
                # A pytest whose report objects this walk does not know: the failure as plain
                # text, redacted, rather than a secret shown or an internal error.
                text = str(longrepr)
                report.longrepr = redactor.redact(redactor.learn(text))
        sections = getattr(report, "sections", None)
        if sections:
            report.sections = [(title, rewrite(content)) for title, content in sections]


def _rewrite_tree(node: Any, rewrite: Callable[..., str], seen: set[int]) -> None:
    if id(node) in seen or not dataclasses.is_dataclass(node) or isinstance(node, type):
        return
    seen.add(id(node))
    kind = type(node).__name__
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        if kind == "ReprLocals" and field.name == "lines":
            new: Any = [rewrite(line, assignment=True) if isinstance(line, str) else line for line in value]
        elif kind == "ReprFuncArgs" and field.name == "args":
            new = [_rewrite_argument(arg, rewrite) for arg in value]
        else:
            new = _rewrite_value(value, rewrite, seen)
        if new is not value:
            setattr(node, field.name, new)


def _rewrite_argument(arg: Any, rewrite: Callable[..., str]) -> Any:
    if isinstance(arg, tuple) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], str):
        name, value = arg
        return (name, rewrite(f"{name} = {value}", assignment=True).partition(" = ")[2])
    return arg


def _rewrite_value(value: Any, rewrite: Callable[..., str], seen: set[int]) -> Any:
    if isinstance(value, str):
        return rewrite(value)
    if isinstance(value, list):
        return [_rewrite_value(item, rewrite, seen) for item in value]
    if isinstance(value, tuple):
        return tuple(_rewrite_value(item, rewrite, seen) for item in value)
    _rewrite_tree(value, rewrite, seen)
    return value
