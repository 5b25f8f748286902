"""``fast_init``: the same frozen dataclass, built with fewer calls."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field

import pytest

from pytest_exchange_chaos._frozen import fast_init
from pytest_exchange_chaos.journal import JournalRecord
from pytest_exchange_chaos.outcome import ClientTimeouts, Outcome
from pytest_exchange_chaos.venues.base import Call, ExchangeRequest, OrderTicket, VenueReply


def _twin() -> type:
    @dataclass(frozen=True)
    class Order:
        side: str
        amount: str | None = None
        tags: tuple[str, ...] = field(default_factory=tuple)
        notes: list[str] = field(default_factory=list, compare=False)

    return Order


def test_same_signature_values_equality_hash_and_repr_as_the_dataclass() -> None:
    plain, fast = _twin(), fast_init(_twin())
    assert str(inspect.signature(plain)) == str(inspect.signature(fast))
    for args, kwargs in [
        (("buy",), {}),
        (("sell", "0.01"), {}),
        ((), {"side": "buy", "tags": ("a",), "notes": ["b"]}),
    ]:
        a, b = plain(*args, **kwargs), fast(*args, **kwargs)
        assert (repr(a), dataclasses.asdict(a)) == (repr(b), dataclasses.asdict(b))
        assert b == fast(*args, **kwargs)
        assert hash(b) == hash(fast(*args, **kwargs))


def test_defaults_from_a_factory_are_fresh_for_every_instance() -> None:
    fast = fast_init(_twin())
    first, second = fast("buy"), fast("buy")
    assert first.notes == [] and first.notes is not second.notes


def test_still_frozen_and_replaceable() -> None:
    order = fast_init(_twin())("buy")
    with pytest.raises(dataclasses.FrozenInstanceError):
        order.side = "sell"
    assert dataclasses.replace(order, side="sell").side == "sell"


def test_missing_and_unknown_arguments_fail_as_the_dataclass_does() -> None:
    fast = fast_init(_twin())
    with pytest.raises(TypeError, match="side"):
        fast()
    with pytest.raises(TypeError, match="size"):
        fast("buy", size=1)


def test_refuses_what_it_cannot_reproduce() -> None:
    @dataclass
    class Mutable:
        side: str

    @dataclass(frozen=True)
    class Checked:
        side: str

        def __post_init__(self) -> None:
            pass

    for cls in (Mutable, Checked):
        with pytest.raises(TypeError):
            fast_init(cls)


@pytest.mark.parametrize(
    ("cls", "values"),
    [
        (ExchangeRequest, {"method": "POST", "url": "https://fapi.binance.com/fapi/v1/order"}),
        (OrderTicket, {"side": "buy", "order_type": "MARKET", "amount": "0.01"}),
        (Call, {"venue": "binanceusdm", "intent": "entry", "endpoint": "POST /fapi/v1/order"}),
        (VenueReply, {"status": 200, "body": b"{}"}),
        (Outcome, {"status": 502, "reason": "Bad Gateway"}),
        (ClientTimeouts, {"connect": 10.0}),
        (
            JournalRecord,
            {
                "t": 1.5,
                "method": "POST",
                "url": "u",
                "path": "/",
                "venue": None,
                "intent": "other",
                "symbol": None,
                "fault": None,
                "status": 200,
                "executed": True,
            },
        ),
    ],
)
def test_the_records_built_per_request_have_every_field_set(cls: type, values: dict[str, object]) -> None:
    built = cls(**values)
    assert built.__dict__.keys() == {f.name for f in dataclasses.fields(cls)}
    assert dataclasses.replace(built) == built


def test_instances_stay_as_small_as_the_dataclasses_own() -> None:
    # The journal keeps one record per request: its instances must keep sharing their keys.
    import tracemalloc

    plain, fast = _twin(), fast_init(_twin())

    def size(cls: type) -> float:
        tracemalloc.start()
        try:
            kept = [cls("buy", "0.01") for _ in range(2_000)]
            return tracemalloc.get_traced_memory()[0] / len(kept)
        finally:
            tracemalloc.stop()

    assert size(fast) <= size(plain) + 80
