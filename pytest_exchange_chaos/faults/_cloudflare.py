"""Cloudflare's ``524 A Timeout Occurred``: the ghost ccxt hides.

Cloudflare forwards the order to the exchange, waits for the answer, gives up, and answers the bot
with its own 524 page while the exchange goes on to execute the order. ccxt 4.5 has no 524 in its
``httpExceptions``: async ccxt raises nothing and returns an "order" whose ``id`` is None, sync
ccxt raises a plain ``ExchangeError`` (not a ``NetworkError``). Either way the bot does not learn
that the order exists, and a retry places it twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from pytest_exchange_chaos._durations import Duration, parse_duration, shown
from pytest_exchange_chaos.faults._base import _NETWORK_MESSAGES, Fault, FaultContext, Ghost, _check_name
from pytest_exchange_chaos.outcome import Outcome

__all__ = ["CloudflareTimeout", "cloudflare_timeout"]

STATUS = 524
REASON = "A Timeout Occurred"


def _ray_id(url: str, body: bytes) -> str:
    # A Ray ID per request (signed requests differ by their timestamp), drawn without the seeded
    # generator so that adding this fault does not shift any other decision.
    return hashlib.sha256(url.encode() + b"\0" + body).hexdigest()[:16]


def cloudflare_timeout_page(host: str, ray: str) -> bytes:
    """The 524 page Cloudflare serves, trimmed of its stylesheet: same title, headings and footer."""
    return (
        "<!DOCTYPE html>\n"
        '<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->\n'
        '<!--[if gt IE 8]><!--> <html class="no-js" lang="en-US"> <!--<![endif]-->\n'
        "<head>\n"
        f"<title>{host} | 524: A timeout occurred</title>\n"
        '<meta charset="UTF-8" />\n'
        '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />\n'
        '<meta name="robots" content="noindex, nofollow" />\n'
        "</head>\n"
        "<body>\n"
        '<div id="cf-wrapper">\n'
        '<div id="cf-error-details" class="p-0">\n'
        '<header class="mx-auto pt-10 lg:pt-6 lg:px-8 w-240 lg:w-full mb-8">\n'
        '<h1 class="inline-block sm:block sm:mb-2 font-light text-60 lg:text-4xl text-black-dark '
        'leading-tight mr-2">\n'
        '<span class="inline-block">A timeout occurred</span>\n'
        '<span class="code-label">Error code 524</span>\n'
        "</h1>\n"
        "</header>\n"
        '<div class="w-240 lg:w-full mx-auto mb-8 lg:px-8">\n'
        '<h2 class="text-3xl font-normal leading-1.3 mb-4">What happened?</h2>\n'
        "<p>The origin web server timed out responding to this request.</p>\n"
        "</div>\n"
        '<div class="cf-error-footer cf-wrapper w-240 lg:w-full py-10 sm:py-4 sm:px-8 mx-auto '
        'text-center sm:text-left border-solid border-0 border-t border-gray-300">\n'
        '<p class="text-13">\n'
        '<span class="cf-footer-item sm:block sm:mb-1">Cloudflare Ray ID: '
        f'<strong class="font-semibold">{ray}</strong></span>\n'
        '<span class="cf-footer-item sm:block sm:mb-1"><span>Performance &amp; security by</span> '
        '<a rel="noopener noreferrer" href="https://www.cloudflare.com/5xx-error-landing" '
        'id="brand_link" target="_blank">Cloudflare</a></span>\n'
        "</p>\n"
        "</div>\n"
        "</div>\n"
        "</div>\n"
        "</body>\n"
        "</html>\n"
    ).encode()


@dataclass(frozen=True)
class CloudflareTimeout(Fault):
    """Cloudflare's ``524 A Timeout Occurred`` page, ``after`` seconds into the request.

    A client whose own read timeout is shorter than ``after`` gives up first and sees its own
    timeout, as it would in production.
    """

    after: float = 0.0
    name: str = "cloudflare_timeout"

    def __post_init__(self) -> None:
        object.__setattr__(self, "after", parse_duration(self.after, what="cloudflare_timeout after"))
        _check_name("CloudflareTimeout", "name", self.name)

    def outcome(self, context: FaultContext) -> Outcome:
        deadline, kind = context.timeouts.read_deadline
        if deadline is not None and self.after >= deadline:
            return Outcome(network=kind, delay=deadline, message=_NETWORK_MESSAGES["read_timeout"])
        request = context.request
        ray = _ray_id(request.url, request.body)
        return Outcome(
            status=STATUS,
            reason=REASON,
            headers={
                "Content-Type": "text/html; charset=UTF-8",
                "X-Frame-Options": "SAMEORIGIN",
                "Referrer-Policy": "same-origin",
                "Cache-Control": "private, max-age=0, no-store, no-cache, must-revalidate, "
                "post-check=0, pre-check=0",
                "Expires": "Thu, 01 Jan 1970 00:00:01 GMT",
                "Server": "cloudflare",
                "CF-RAY": f"{ray}-NRT",
            },
            body=cloudflare_timeout_page(urlsplit(request.url).hostname or "", ray),
            delay=self.after,
        )

    def describe(self) -> str:
        return f"{STATUS} {REASON} (Cloudflare)"


def cloudflare_timeout(*, executed: bool = True, after: Duration = 0) -> Fault:
    """Cloudflare's ``524 A Timeout Occurred`` page, and by default the exchange executed the
    order anyway: the ghost your bot cannot see. ccxt 4.5 does not know 524: async ccxt returns
    an "order" with ``id`` None and raises nothing, sync ccxt raises a plain ``ExchangeError``.

    ``after`` is how long Cloudflare waited before it answered (100 s on a default zone; 0, the
    default, answers at once): a client whose timeout is shorter gives up first and sees its
    own timeout instead. ``executed=False`` is a 524 for an order that never reached the book.
    """
    if not isinstance(executed, bool):
        raise TypeError(
            f"cloudflare_timeout(executed={shown(executed)}): write executed=True (the exchange "
            "placed the order) or executed=False"
        )
    timeout = CloudflareTimeout(parse_duration(after, what="cloudflare_timeout after"))
    return Ghost(timeout, label=timeout.name) if executed else timeout
