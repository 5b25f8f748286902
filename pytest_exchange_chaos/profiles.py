"""Named, documented wave sets: ``profiles.<name>()`` or ``exchange_chaos(profile="<name>")``."""

from __future__ import annotations

from collections.abc import Callable

from pytest_exchange_chaos import faults
from pytest_exchange_chaos.schedule import Schedule, Wave
from pytest_exchange_chaos.venues.base import Intent

__all__ = ["PROFILES", "binance_502_day", "get"]

ORDER_PLACEMENT: tuple[Intent, ...] = ("entry", "exit", "stop_loss", "take_profit")


def binance_502_day(rate: float = 0.5) -> list[Schedule]:
    """The day this project exists for, on the clock of a bot started at 05:15.

    Binance USD-M's gateway answered order placement with ``502 Bad Gateway`` 3 times in the
    09:51 minute, 21 times at 12:16 and 35 times at 12:22, with calm in between. Each wave hits
    a share ``rate`` of the order requests sent in its minute, up to the log's count. The day
    ends at 12:37 (7 h 22 min after the start).
    """
    bad_gateway = faults.bad_gateway()
    return [
        Wave("4h36m", "1m", bad_gateway, rate=rate, limit=3, intent=ORDER_PLACEMENT, venue="binanceusdm"),
        Wave("7h01m", "1m", bad_gateway, rate=rate, limit=21, intent=ORDER_PLACEMENT, venue="binanceusdm"),
        Wave("7h07m", "1m", bad_gateway, rate=rate, limit=35, intent=ORDER_PLACEMENT, venue="binanceusdm"),
    ]


PROFILES: dict[str, Callable[[], list[Schedule]]] = {
    "binance_502_day": binance_502_day,
}


def get(name: str) -> list[Schedule]:
    try:
        factory = PROFILES[name]
    except KeyError:
        raise ValueError(
            f"profile={name!r} is not a profile; the profiles are: {', '.join(sorted(PROFILES))}"
        ) from None
    return factory()
