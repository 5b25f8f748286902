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
from pytest_exchange_chaos._durations import Duration, parse_duration, shown
from pytest_exchange_chaos.schedule import Schedule, Wave, grouped
from pytest_exchange_chaos.venues.base import Intent

__all__ = [
    "ORDER_PLACEMENT",
    "PROFILES",
    "binance_502_day",
    "flapping_gateway",
    "get",
    "ghost_orders",
    "maintenance_window",
    "rate_limit_storm",
    "unknown_execution_status",
]

ORDER_PLACEMENT: tuple[Intent, ...] = ("entry", "exit", "stop_loss", "take_profit")
"""The intents of requests that place an order: the ones a gateway outage costs money on."""

MAX_FLAPS = 20_000
"""The most outages ``flapping_gateway`` cuts (a week of one-minute flaps is 10,080): every
request looks through every wave, so more would slow the whole test to a crawl."""


def _rate(rate: object, profile: str) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 < rate <= 1.0:
        raise ValueError(
            f"{profile}(rate={shown(rate)}): write the share of requests to fail, above 0.0 and at "
            "most 1.0, e.g. rate=0.5"
        )
    return float(rate)


def _length(value: Duration, profile: str, argument: str) -> float:
    seconds = parse_duration(value, what=f"{profile} {argument}")
    if seconds == 0:
        raise ValueError(
            f"{profile}({argument}={shown(value)}) is empty: write a positive duration, e.g. '5m'"
        )
    return seconds


def _profile(name: str, required: bool, waves: list[Schedule]) -> list[Schedule]:
    # A profile is one fault story: the test fails if none of its waves injects a fault, while
    # each wave alone may stay quiet (a short test meets only the first flap of a flapping
    # gateway). ``required=False`` makes the whole story optional.
    if not isinstance(required, bool):
        raise TypeError(
            f"{name}(required={required!r}): write required=True (the test fails if the profile "
            "injects no fault) or required=False (a deliberately optional profile)"
        )
    for wave in waves:
        wave.required = required
    return grouped(waves, f"profiles.{name}()")


def binance_502_day(rate: float = 0.5, *, required: bool = True) -> list[Schedule]:
    """The day this project exists for, on the clock of a bot started at 05:15.

    Binance USD-M's gateway answered order placement with ``502 Bad Gateway`` 3 times in the
    09:51 minute (+4h36m), 21 times at 12:16 (+7h01m) and 35 times at 12:22 (+7h07m), with calm
    in between. Each wave hits a share ``rate`` of the order requests sent in its minute, up to
    the log's count. The day ends at 12:37 (7 h 22 min after the start): run the bot that long.
    """
    rate = _rate(rate, "binance_502_day")
    bad_gateway = faults.bad_gateway()
    waves: list[Schedule] = [
        Wave("4h36m", "1m", bad_gateway, rate=rate, limit=3, intent=ORDER_PLACEMENT, venue="binanceusdm"),
        Wave("7h01m", "1m", bad_gateway, rate=rate, limit=21, intent=ORDER_PLACEMENT, venue="binanceusdm"),
        Wave("7h07m", "1m", bad_gateway, rate=rate, limit=35, intent=ORDER_PLACEMENT, venue="binanceusdm"),
    ]
    return _profile("binance_502_day", required, waves)


def flapping_gateway(
    start: Duration = "1m",
    duration: Duration = "30m",
    *,
    period: Duration = "5m",
    down: Duration = "30s",
    rate: float = 1.0,
    required: bool = True,
) -> list[Schedule]:
    """A gateway that goes down and comes back: ``502 Bad Gateway`` for ``down`` seconds out of
    every ``period``, from ``start`` for ``duration``, on every request of every venue.

    What it finds: a retry wrapper whose total backoff is shorter than one outage (it gives up
    just before the gateway comes back), and state that goes stale between flaps, such as a
    position opened just before an outage whose stop is sent during it.
    """
    first = parse_duration(start, what="flapping_gateway start")
    total = _length(duration, "flapping_gateway", "duration")
    cycle = parse_duration(period, what="flapping_gateway period")
    outage = parse_duration(down, what="flapping_gateway down")
    rate = _rate(rate, "flapping_gateway")
    if cycle <= 0 or not 0 < outage <= cycle:
        raise ValueError(
            f"flapping_gateway(period={shown(period)}, down={shown(down)}): the gateway must be down "
            "for part of each period, e.g. period='5m', down='30s'"
        )
    if total / cycle > MAX_FLAPS:
        raise ValueError(
            f"flapping_gateway(duration={shown(duration)}, period={shown(period)}) makes "
            f"{total / cycle:,.0f} outages; at most {MAX_FLAPS:,}: lengthen the period or shorten "
            "the duration"
        )
    bad_gateway = faults.bad_gateway()
    waves: list[Schedule] = []
    offset = 0.0
    while offset < total:
        waves.append(Wave(first + offset, min(outage, total - offset), bad_gateway, rate=rate))
        offset += cycle
    return _profile("flapping_gateway", required, waves)


def rate_limit_storm(
    start: Duration = "1m",
    duration: Duration = "3m",
    *,
    ban: Duration = "2m",
    rate: float = 0.5,
    retry_after: Duration = 30,
    required: bool = True,
) -> list[Schedule]:
    """Binance's rate limiter, then its ban: from ``start`` for ``duration`` a share ``rate`` of
    all requests get ``429 Too Many Requests`` (``Retry-After: retry_after``); then for ``ban``
    every request gets ``418 I'm a teapot``, the IP ban Binance hands to clients that kept
    hammering through the 429s.

    What it finds: retry loops that treat 429 like a 502 and retry at once instead of honouring
    ``Retry-After``, and bots that have no way to stand still for the length of a ban.
    """
    storm_start = parse_duration(start, what="rate_limit_storm start")
    storm = _length(duration, "rate_limit_storm", "duration")
    _length(ban, "rate_limit_storm", "ban")
    rate = _rate(rate, "rate_limit_storm")
    waves: list[Schedule] = [
        Wave(storm_start, storm, faults.rate_limited(retry_after=retry_after), rate=rate),
        Wave(storm_start + storm, ban, faults.ip_banned(retry_after=ban)),
    ]
    return _profile("rate_limit_storm", required, waves)


def maintenance_window(
    start: Duration = "10m", duration: Duration = "30m", *, required: bool = True
) -> list[Schedule]:
    """Scheduled exchange maintenance: every request to every venue gets ``503 Service
    Unavailable`` from ``start`` for ``duration``, market data and account calls included.

    What it finds: bots that crash or spin instead of waiting, and stop-losses that a bot
    "fixes" after the window by re-placing them twice.
    """
    parse_duration(start, what="maintenance_window start")
    _length(duration, "maintenance_window", "duration")
    return _profile("maintenance_window", required, [Wave(start, duration, faults.service_unavailable())])


def unknown_execution_status(
    start: Duration = "1m", duration: Duration = "10m", *, rate: float = 0.3, required: bool = True
) -> list[Schedule]:
    """Orders whose fate the bot cannot know: from ``start`` for ``duration``, a share ``rate``
    of order placements come back as Binance's ``-1007`` ("execution status unknown") or as a
    read timeout, and the exchange executed every one of them (ghosts).

    What it finds: a retry after a ghost places the same order twice, unless every attempt
    carries the same client order id or the bot looks the order up before trying again. Pair it
    with ``exchange_chaos.assert_no_duplicate_orders()``. ``-1007`` is Binance's; on other venues
    the read timeouts alone do the damage.
    """
    parse_duration(start, what="unknown_execution_status start")
    _length(duration, "unknown_execution_status", "duration")
    half = _rate(rate, "unknown_execution_status") / 2
    # The second wave draws only when the first did not fire, so it needs the conditional share
    # to make the two together hit ``rate`` of the orders.
    rest = 0.0 if half >= 1.0 else min(1.0, half / (1 - half))
    waves: list[Schedule] = [
        Wave(start, duration, faults.binance.unknown_execution_status(), rate=half, intent=ORDER_PLACEMENT),
        Wave(start, duration, faults.ghost(faults.read_timeout()), rate=rest, intent=ORDER_PLACEMENT),
    ]
    return _profile("unknown_execution_status", required, waves)


def ghost_orders(
    start: Duration = "1m", duration: Duration = "10m", *, rate: float = 0.3, required: bool = True
) -> list[Schedule]:
    """The ghost your bot cannot see: from ``start`` for ``duration``, a share ``rate`` of order
    placements on every venue are executed by the exchange while Cloudflare, in front of it,
    answers the bot ``524 A Timeout Occurred`` (``faults.cloudflare_timeout()``).

    ccxt 4.5 does not know 524: async ccxt raises nothing and returns an "order" whose ``id`` is
    None, sync ccxt raises a plain ``ExchangeError`` (not a ``NetworkError``). What it finds: a
    bot that sends the order again when it got no id, or on any error, holds the position twice;
    a bot that trusts the returned "order" tracks an order it cannot cancel. Pair it with
    ``exchange_chaos.assert_no_duplicate_orders()``.
    """
    parse_duration(start, what="ghost_orders start")
    _length(duration, "ghost_orders", "duration")
    rate = _rate(rate, "ghost_orders")
    waves: list[Schedule] = [
        Wave(start, duration, faults.cloudflare_timeout(), rate=rate, intent=ORDER_PLACEMENT),
    ]
    return _profile("ghost_orders", required, waves)


PROFILES: dict[str, Callable[[], list[Schedule]]] = {
    "binance_502_day": binance_502_day,
    "flapping_gateway": flapping_gateway,
    "rate_limit_storm": rate_limit_storm,
    "maintenance_window": maintenance_window,
    "unknown_execution_status": unknown_execution_status,
    "ghost_orders": ghost_orders,
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
