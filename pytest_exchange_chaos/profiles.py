"""Named, documented wave sets: ``profiles.<name>()`` or ``exchange_chaos(profile="<name>")``.

Each profile is a function returning a list of waves; the marker calls it with its defaults, and a
test that wants another shape calls it with arguments and passes the list to the marker:

    @pytest.mark.exchange_chaos(profiles.maintenance_window(start="1h", duration="2h"))

Times count on the chaos clock from the test's start. The docstrings below are the documentation
(docs/reference/profiles.md quotes them).
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_exchange_chaos import faults
from pytest_exchange_chaos._durations import Duration, parse_duration
from pytest_exchange_chaos.schedule import Schedule, Wave
from pytest_exchange_chaos.venues.base import Intent

__all__ = [
    "ORDER_PLACEMENT",
    "PROFILES",
    "binance_502_day",
    "flapping_gateway",
    "get",
    "maintenance_window",
    "rate_limit_storm",
    "unknown_execution_status",
]

ORDER_PLACEMENT: tuple[Intent, ...] = ("entry", "exit", "stop_loss", "take_profit")
"""The intents of requests that place an order: the ones a gateway outage costs money on."""


def binance_502_day(rate: float = 0.5) -> list[Schedule]:
    """The day this project exists for, on the clock of a bot started at 05:15.

    Binance USD-M's gateway answered order placement with ``502 Bad Gateway`` 3 times in the
    09:51 minute (+4h36m), 21 times at 12:16 (+7h01m) and 35 times at 12:22 (+7h07m), with calm
    in between. Each wave hits a share ``rate`` of the order requests sent in its minute, up to
    the log's count. The day ends at 12:37 (7 h 22 min after the start): run the bot that long.
    """
    bad_gateway = faults.bad_gateway()
    return [
        Wave("4h36m", "1m", bad_gateway, rate=rate, limit=3, intent=ORDER_PLACEMENT, venue="binanceusdm"),
        Wave("7h01m", "1m", bad_gateway, rate=rate, limit=21, intent=ORDER_PLACEMENT, venue="binanceusdm"),
        Wave("7h07m", "1m", bad_gateway, rate=rate, limit=35, intent=ORDER_PLACEMENT, venue="binanceusdm"),
    ]


def flapping_gateway(
    start: Duration = "1m",
    duration: Duration = "30m",
    *,
    period: Duration = "5m",
    down: Duration = "30s",
    rate: float = 1.0,
) -> list[Schedule]:
    """A gateway that goes down and comes back: ``502 Bad Gateway`` for ``down`` seconds out of
    every ``period``, from ``start`` for ``duration``, on every request of every venue.

    What it finds: a retry wrapper whose total backoff is shorter than one outage (it gives up
    just before the gateway comes back), and state that goes stale between flaps, such as a
    position opened just before an outage whose stop is sent during it.
    """
    first = parse_duration(start, what="flapping_gateway start")
    total = parse_duration(duration, what="flapping_gateway duration")
    cycle = parse_duration(period, what="flapping_gateway period")
    outage = parse_duration(down, what="flapping_gateway down")
    if cycle <= 0 or not 0 < outage <= cycle:
        raise ValueError(
            f"flapping_gateway(period={period!r}, down={down!r}): the gateway must be down for part "
            "of each period, e.g. period='5m', down='30s'"
        )
    bad_gateway = faults.bad_gateway()
    waves: list[Schedule] = []
    offset = 0.0
    while offset < total:
        waves.append(Wave(first + offset, min(outage, total - offset), bad_gateway, rate=rate))
        offset += cycle
    return waves


def rate_limit_storm(
    start: Duration = "1m",
    duration: Duration = "3m",
    *,
    ban: Duration = "2m",
    rate: float = 0.5,
    retry_after: Duration = 30,
) -> list[Schedule]:
    """Binance's rate limiter, then its ban: from ``start`` for ``duration`` a share ``rate`` of
    all requests get ``429 Too Many Requests`` (``Retry-After: retry_after``); then for ``ban``
    every request gets ``418 I'm a teapot``, the IP ban Binance hands to clients that kept
    hammering through the 429s.

    What it finds: retry loops that treat 429 like a 502 and retry at once instead of honouring
    ``Retry-After``, and bots that have no way to stand still for the length of a ban.
    """
    storm_start = parse_duration(start, what="rate_limit_storm start")
    storm = parse_duration(duration, what="rate_limit_storm duration")
    return [
        Wave(storm_start, storm, faults.rate_limited(retry_after=retry_after), rate=rate),
        Wave(storm_start + storm, ban, faults.ip_banned(retry_after=ban)),
    ]


def maintenance_window(start: Duration = "10m", duration: Duration = "30m") -> list[Schedule]:
    """Scheduled exchange maintenance: every request to every venue gets ``503 Service
    Unavailable`` from ``start`` for ``duration``, market data and account calls included.

    What it finds: bots that crash or spin instead of waiting, and stop-losses that a bot
    "fixes" after the window by re-placing them twice.
    """
    return [Wave(start, duration, faults.service_unavailable())]


def unknown_execution_status(
    start: Duration = "1m", duration: Duration = "10m", *, rate: float = 0.3
) -> list[Schedule]:
    """Orders whose fate the bot cannot know: from ``start`` for ``duration``, a share ``rate``
    of order placements come back as Binance's ``-1007`` ("execution status unknown") or as a
    read timeout, and the exchange executed every one of them (ghosts).

    What it finds: a retry after a ghost places the same order twice, unless every attempt
    carries the same client order id or the bot looks the order up before trying again. Pair it
    with ``exchange_chaos.assert_no_duplicate_orders()``. ``-1007`` is Binance's; on other venues
    the read timeouts alone do the damage.
    """
    half = rate / 2
    # The second wave draws only when the first did not fire, so it needs the conditional share
    # to make the two together hit ``rate`` of the orders.
    rest = 0.0 if half >= 1.0 else min(1.0, half / (1 - half))
    return [
        Wave(start, duration, faults.binance.unknown_execution_status(), rate=half, intent=ORDER_PLACEMENT),
        Wave(start, duration, faults.ghost(faults.read_timeout()), rate=rest, intent=ORDER_PLACEMENT),
    ]


PROFILES: dict[str, Callable[[], list[Schedule]]] = {
    "binance_502_day": binance_502_day,
    "flapping_gateway": flapping_gateway,
    "rate_limit_storm": rate_limit_storm,
    "maintenance_window": maintenance_window,
    "unknown_execution_status": unknown_execution_status,
}
"""Every profile by name, as the marker's ``profile=`` finds it; the incident day first."""


def get(name: str) -> list[Schedule]:
    """The waves of the profile called ``name``, with its defaults."""
    try:
        factory = PROFILES[name]
    except KeyError:
        raise ValueError(
            f"profile={name!r} is not a profile; the profiles are: {', '.join(PROFILES)} "
            "(see docs/reference/profiles.md)"
        ) from None
    return factory()
