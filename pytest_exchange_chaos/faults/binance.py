"""Binance's own error answers, as ``faults.binance.<name>()``."""

from __future__ import annotations

from pytest_exchange_chaos._durations import shown
from pytest_exchange_chaos.faults._base import ExchangeErrorFault, Fault, Ghost

__all__ = [
    "internal_error",
    "margin_insufficient",
    "timestamp_outside_recv_window",
    "unknown_execution_status",
]


def unknown_execution_status(*, executed: bool = True) -> Fault:
    """-1007: "Timeout waiting for response from backend server. Send status unknown; execution
    status unknown." The order may well have been placed: by default the venue executes it."""
    if not isinstance(executed, bool):
        raise TypeError(
            f"unknown_execution_status(executed={shown(executed)}): write executed=True (the exchange "
            "placed the order) or executed=False"
        )
    error = ExchangeErrorFault(
        code=-1007,
        message="Timeout waiting for response from backend server. Send status unknown; "
        "execution status unknown.",
        status=408,
        name="binance.unknown_execution_status",
    )
    return Ghost(error, label="binance.unknown_execution_status") if executed else error


def internal_error() -> Fault:
    """-1001: "Internal error; unable to process your request. Please try again." """
    return ExchangeErrorFault(
        code=-1001,
        message="Internal error; unable to process your request. Please try again.",
        status=500,
        name="binance.internal_error",
    )


def timestamp_outside_recv_window() -> Fault:
    """-1021: the bot's clock drifted past ``recvWindow``."""
    return ExchangeErrorFault(
        code=-1021,
        message="Timestamp for this request is outside of the recvWindow.",
        status=400,
        name="binance.timestamp_outside_recv_window",
    )


def margin_insufficient() -> Fault:
    """-2019: "Margin is insufficient." """
    return ExchangeErrorFault(
        code=-2019, message="Margin is insufficient.", status=400, name="binance.margin_insufficient"
    )
