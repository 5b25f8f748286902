"""Why the simulated exchange refused something, independent of any venue's error codes.

The book raises these; each venue adapter maps them to its own codes and messages (Binance
``-2019``, Bybit ``110007``...), so the trading rules live in one place.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

__all__ = [
    "BookError",
    "DuplicateClientOrderId",
    "FillOrKillNotFillable",
    "InsufficientBalance",
    "InsufficientMargin",
    "InvalidLeverage",
    "InvalidOrderParameters",
    "NoChangeNeeded",
    "NotionalTooSmall",
    "OrderNotFound",
    "PostOnlyWouldTake",
    "PrecisionError",
    "QuantityTooLarge",
    "QuantityTooSmall",
    "ReduceOnlyRejected",
    "SettingLocked",
    "TickSizeError",
    "UnknownSymbol",
    "WouldTriggerImmediately",
]

PriceField = Literal["quantity", "price", "trigger_price", "activation_price"]


class BookError(Exception):
    """Base class: ``kind`` is a stable name adapters may switch on."""

    kind: ClassVar[str] = "error"


class UnknownSymbol(BookError):
    kind = "unknown_symbol"

    def __init__(self, symbol: str) -> None:
        super().__init__(f"unknown symbol {symbol!r}")
        self.symbol = symbol


class InvalidOrderParameters(BookError):
    """The order is malformed (a missing or unparsable field, a field that must be absent)."""

    kind = "invalid_parameters"

    def __init__(
        self,
        message: str,
        field: str | None = None,
        reason: Literal["missing", "illegal", "invalid", "conflict"] = "invalid",
    ) -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason


class PrecisionError(BookError):
    """More decimals than the instrument allows, or not a multiple of the quantity step."""

    kind = "precision"

    def __init__(self, field: PriceField, value: str) -> None:
        super().__init__(f"{field} {value} is over the precision allowed")
        self.field = field
        self.value = value


class TickSizeError(BookError):
    """A price within the precision but off the tick grid."""

    kind = "tick_size"

    def __init__(self, field: PriceField, value: str) -> None:
        super().__init__(f"{field} {value} is not a multiple of the tick size")
        self.field = field
        self.value = value


class QuantityTooSmall(BookError):
    kind = "quantity_too_small"

    def __init__(self, quantity: Decimal, minimum: Decimal) -> None:
        super().__init__(f"quantity {quantity} is below {minimum}")
        self.quantity = quantity
        self.minimum = minimum

    @property
    def non_positive(self) -> bool:
        return self.quantity <= 0


class QuantityTooLarge(BookError):
    kind = "quantity_too_large"

    def __init__(self, quantity: Decimal, maximum: Decimal) -> None:
        super().__init__(f"quantity {quantity} is above {maximum}")
        self.quantity = quantity
        self.maximum = maximum


class NotionalTooSmall(BookError):
    kind = "notional_too_small"

    def __init__(self, notional: Decimal, minimum: Decimal) -> None:
        super().__init__(f"notional {notional} is below {minimum}")
        self.notional = notional
        self.minimum = minimum


class InsufficientMargin(BookError):
    kind = "insufficient_margin"

    def __init__(self, required: Decimal, available: Decimal) -> None:
        super().__init__(f"margin {required} required, {available} available")
        self.required = required
        self.available = available


class InsufficientBalance(BookError):
    """A spot order needs more of an asset than the account holds free (not locked by other
    orders)."""

    kind = "insufficient_balance"

    def __init__(self, asset: str, required: Decimal, available: Decimal) -> None:
        super().__init__(f"{required} {asset} required, {available} {asset} free")
        self.asset = asset
        self.required = required
        self.available = available


class ReduceOnlyRejected(BookError):
    """A reduce-only order that would open or increase a position."""

    kind = "reduce_only_rejected"


class DuplicateClientOrderId(BookError):
    """The client order id is already used by an open order (in the same order list)."""

    kind = "duplicate_client_order_id"

    def __init__(self, client_order_id: str) -> None:
        super().__init__(f"client order id {client_order_id!r} is already in use")
        self.client_order_id = client_order_id


class OrderNotFound(BookError):
    kind = "order_not_found"


class WouldTriggerImmediately(BookError):
    """A stop or take-profit whose trigger the mark price has already crossed."""

    kind = "would_trigger_immediately"


class PostOnlyWouldTake(BookError):
    kind = "post_only_would_take"


class FillOrKillNotFillable(BookError):
    kind = "fill_or_kill_not_fillable"


class InvalidLeverage(BookError):
    kind = "invalid_leverage"

    def __init__(self, leverage: int, maximum: int) -> None:
        super().__init__(f"leverage {leverage} is not valid (1..{maximum})")
        self.leverage = leverage
        self.maximum = maximum


class NoChangeNeeded(BookError):
    """An account setting is already what the request asks for."""

    kind = "no_change_needed"

    def __init__(self, setting: Literal["margin_mode", "hedge_mode", "multi_assets"]) -> None:
        super().__init__(f"{setting} is already set")
        self.setting = setting


class SettingLocked(BookError):
    """An account setting cannot change while positions or open orders exist."""

    kind = "setting_locked"

    def __init__(
        self,
        setting: Literal["margin_mode", "hedge_mode", "multi_assets"],
        because: Literal["position", "open_orders"],
    ) -> None:
        super().__init__(f"{setting} cannot change while there are {because}")
        self.setting = setting
        self.because = because
