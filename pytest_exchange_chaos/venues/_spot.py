"""The state of one simulated spot account, shared by the venues that trade spot.

Spot has balances, not positions: a buy moves the quote asset (USDT) into the base asset, a
sell the reverse. An order that rests (a limit, a stop waiting for its trigger) locks what it
would spend, so two orders cannot spend the same coins. Fills are whole, at the mark for a
market order and at the limit for a resting limit the mark reaches; fees are charged in the
quote asset on both sides, so a bot can sell exactly what it bought.

Like :class:`~pytest_exchange_chaos.venues._book.Book`, and on the same ``Listing`` (instruments,
marks, fills, the price and quantity filters), no HTTP and no pytest here: a venue adapter
parses its exchange's request into an :class:`OrderRequest`, calls the book, and maps any
:class:`BookError` to its own codes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Literal, Protocol

from pytest_exchange_chaos.venues._book import (
    Listing,
    NakedSpan,
    parse_decimal,
    price_crosses,
    trigger_crossed,
)
from pytest_exchange_chaos.venues._errors import (
    DuplicateClientOrderId,
    InsufficientBalance,
    InvalidOrderParameters,
    NotionalTooSmall,
    OrderNotFound,
    PostOnlyWouldTake,
    QuantityTooSmall,
    WouldTriggerImmediately,
)
from pytest_exchange_chaos.venues._instruments import Instrument
from pytest_exchange_chaos.venues._records import (
    CONDITIONAL_KINDS,
    STOP_KINDS,
    TAKE_PROFIT_KINDS,
    IdSource,
    Order,
    OrderRequest,
)
from pytest_exchange_chaos.venues.base import Intent, OrderView, PositionView

__all__ = ["QuoteWallet", "SpotBook", "spot_intent"]

ZERO = Decimal(0)
SPOT = "spot"
"""The channel spot orders live in: their ids never meet a derivatives book's."""
_SPOT_KINDS = frozenset({"market", "limit", "stop_market", "stop", "take_profit_market", "take_profit"})


def spot_intent(kind: str, side: str) -> Intent:
    """What a trader means by a spot order: a buy enters; a sell exits, below the market as a
    stop-loss and above it as a take-profit. (A buy stop is a breakout entry.)"""
    if side == "buy":
        return "entry"
    if kind in STOP_KINDS:
        return "stop_loss"
    if kind in TAKE_PROFIT_KINDS:
        return "take_profit"
    return "exit"


class QuoteWallet(Protocol):
    """Where the quote asset lives when it is not the spot book's own: Bybit's unified account
    spends the same USDT on spot and on derivatives margin."""

    def total(self) -> Decimal: ...

    def available(self) -> Decimal:
        """What the other side of the account leaves free to spend."""
        ...

    def add(self, delta: Decimal, now_ms: int) -> None: ...


@dataclass(slots=True)
class _Holding:
    """A base asset bought during the test: when the holding began, and its average cost."""

    opened_at: float
    cost: Decimal
    quantity: Decimal


class SpotBook(Listing):
    """Spot pairs, marks, balances and orders of one account."""

    def __init__(
        self,
        instruments: Iterable[Instrument],
        *,
        ids: IdSource,
        wall_ms: Callable[[], int],
        now: Callable[[], float],
        balances: Mapping[str, Decimal],
        quote: str = "USDT",
        taker_fee: Decimal = Decimal("0.001"),
        maker_fee: Decimal = Decimal("0.001"),
        quote_wallet: QuoteWallet | None = None,
    ) -> None:
        super().__init__(instruments, ids=ids, wall_ms=wall_ms, now=now)
        self.quote = quote
        self.taker_fee = taker_fee
        self.maker_fee = maker_fee
        self.quote_wallet = quote_wallet
        self._totals: dict[str, Decimal] = {asset: Decimal(amount) for asset, amount in balances.items()}
        self._locked: dict[str, Decimal] = {}
        # What each open order locks: (asset, amount), released when it fills or leaves.
        self._locks: dict[str, tuple[str, Decimal]] = {}
        self.orders: dict[str, Order] = {}
        self._by_client_id: dict[str, list[Order]] = {}
        self._holdings: dict[str, _Holding] = {}
        self.updated_ms = wall_ms()
        for instrument in self.instruments.values():
            held = self._totals.get(instrument.base, ZERO)
            if held > 0:
                self._holdings[instrument.id] = _Holding(now(), held * instrument.mark_price, held)
                self.positions_opened += 1
                self._judge(instrument.id)

    # ---------------------------------------------------------------------------- marks

    def _resting_on(self, instrument_id: str) -> list[Order]:
        return self.open_orders(instrument_id)

    def _on_mark(self, order: Order, mark: Decimal) -> bool:
        if order.waiting_for_trigger:
            assert order.trigger_price is not None
            if not trigger_crossed(order.kind, order.side, order.trigger_price, mark):
                return False
            order.triggered = True
            order.trigger_ms = order.updated_ms = self.wall_ms()
            self._work(order)
        elif self._limit_reached(order, mark):
            assert order.price is not None
            self._fill(order, order.price, maker=True)
        else:
            return False
        self._judge(order.symbol)
        return True

    # -------------------------------------------------------------------------- balances

    def total(self, asset: str) -> Decimal:
        if asset == self.quote and self.quote_wallet is not None:
            return self.quote_wallet.total()
        return self._totals.get(asset, ZERO)

    def locked(self, asset: str) -> Decimal:
        return self._locked.get(asset, ZERO)

    def free(self, asset: str) -> Decimal:
        if asset == self.quote and self.quote_wallet is not None:
            return min(self.quote_wallet.available(), self.quote_wallet.total()) - self.locked(asset)
        return self.total(asset) - self.locked(asset)

    def price_of(self, asset: str) -> Decimal:
        """The asset's value in the quote asset, at the mark of its pair (zero without one)."""
        if asset == self.quote:
            return Decimal(1)
        pair = self.instruments.get(f"{asset}{self.quote}")
        return self.marks[pair.id] if pair is not None else ZERO

    def assets(self) -> list[str]:
        """Every asset the account holds or has held, the quote first."""
        return [self.quote, *(a for a in self._totals if a != self.quote)]

    def _move(self, asset: str, delta: Decimal, now_ms: int) -> None:
        if asset == self.quote and self.quote_wallet is not None:
            self.quote_wallet.add(delta, now_ms)
            return
        self._totals[asset] = self._totals.get(asset, ZERO) + delta

    def _lock(self, order: Order, asset: str, amount: Decimal) -> None:
        self._locks[order.id] = (asset, amount)
        self._locked[asset] = self.locked(asset) + amount

    def _release(self, order: Order) -> None:
        held = self._locks.pop(order.id, None)
        if held is not None:
            asset, amount = held
            self._locked[asset] = self.locked(asset) - amount

    # ---------------------------------------------------------------------------- orders

    def place(self, request: OrderRequest, *, quote_quantity: str | None = None) -> Order:
        """Validate and accept an order; market orders fill at once, crossing limits too.
        ``quote_quantity`` is a market order sized in the quote asset (spend 100 USDT)."""
        instrument = self.instrument(request.symbol)
        kind = request.kind
        if kind not in _SPOT_KINDS:
            raise InvalidOrderParameters(f"{kind} orders are not traded on spot", "kind", "invalid")
        mark = self.marks[instrument.id]
        price = self._price(instrument, request.price, "price") if request.price else None
        if kind in ("limit", "stop", "take_profit") and price is None:
            raise InvalidOrderParameters("price is required", "price", "missing")
        trigger = None
        if kind in CONDITIONAL_KINDS:
            if not request.trigger_price:
                raise InvalidOrderParameters("trigger price is required", "trigger_price", "missing")
            trigger = self._price(instrument, request.trigger_price, "trigger_price")
        if quote_quantity is not None:
            if kind != "market":
                raise InvalidOrderParameters(
                    "a quote quantity sizes only market orders", "quantity", "conflict"
                )
            spend = parse_decimal(quote_quantity, "quantity")
            if spend < instrument.min_notional:
                raise NotionalTooSmall(spend, instrument.min_notional)
            step = instrument.step_size
            quantity = (spend / mark / step).to_integral_value(ROUND_FLOOR) * step
            if quantity < instrument.min_qty:
                raise QuantityTooSmall(quantity, instrument.min_qty)
        elif not request.quantity:
            raise InvalidOrderParameters("quantity is required", "quantity", "missing")
        else:
            quantity = self._check_quantity(instrument, request.quantity, market=False)
        reference = price if price is not None else (trigger if trigger is not None else mark)
        if quantity * reference < instrument.min_notional:
            raise NotionalTooSmall(quantity * reference, instrument.min_notional)

        client_id = request.client_order_id or self.ids.client_order_id()
        if any(o.is_open for o in self._by_client_id.get(client_id, ())):
            raise DuplicateClientOrderId(client_id)
        if trigger is not None and trigger_crossed(kind, request.side, trigger, mark):
            raise WouldTriggerImmediately("the order would trigger immediately")
        crosses = price is not None and kind == "limit" and price_crosses(request.side, price, mark)
        if kind == "limit" and request.time_in_force == "GTX" and crosses:
            raise PostOnlyWouldTake("a post-only order would take liquidity")

        # What it may spend: the base it sells, or the quote (and the fee) a buy pays.
        if request.side == "sell":
            asset, amount = instrument.base, quantity
        else:
            paying = mark if kind == "market" or crosses else reference
            asset, amount = self.quote, quantity * paying * (1 + self.taker_fee)
        available = self.free(asset)
        if amount > available:
            raise InsufficientBalance(asset, amount, max(available, ZERO))

        now_ms = self.wall_ms()
        order = Order(
            id=self.ids.order_id(instrument.id, SPOT),
            client_order_id=client_id,
            symbol=instrument.id,
            side=request.side,
            kind=kind,
            quantity=quantity,
            price=price,
            trigger_price=trigger,
            reduce_only=False,
            close_position=False,
            time_in_force=request.time_in_force,
            channel=SPOT,
            created_ms=now_ms,
            updated_ms=now_ms,
            extra=dict(request.extra),
        )
        self.orders[order.id] = order
        self._by_client_id.setdefault(client_id, []).append(order)
        self._lock(order, asset, amount)
        if kind not in CONDITIONAL_KINDS:
            self._work(order)
        self._judge(instrument.id)
        return order

    @staticmethod
    def _limit_reached(order: Order, mark: Decimal) -> bool:
        price = order.price
        return price is not None and not order.market_like and price_crosses(order.side, price, mark)

    def _work(self, order: Order) -> None:
        """Execute what can execute now: market-like orders in full, limits if the mark crosses."""
        mark = self.marks[order.symbol]
        if order.market_like or (order.price is not None and price_crosses(order.side, order.price, mark)):
            self._fill(order, mark, maker=False)
        elif order.time_in_force in ("IOC", "FOK"):
            self._close(order, "expired")

    def _fill(self, order: Order, price: Decimal, *, maker: bool) -> None:
        instrument = self.instruments[order.symbol]
        quantity = order.remaining
        quote_qty = quantity * price
        fee = quote_qty * (self.maker_fee if maker else self.taker_fee)
        self._release(order)
        if order.side == "buy" and quote_qty + fee > self.free(self.quote):
            # A stop buy that triggered above the price it locked for: Binance expires it.
            self._close(order, "expired")
            return
        now_ms = self.wall_ms()
        base = instrument.base
        if order.side == "buy":
            self._move(self.quote, -(quote_qty + fee), now_ms)
            self._move(base, quantity, now_ms)
            holding = self._holdings.get(order.symbol)
            if holding is None:
                self._holdings[order.symbol] = _Holding(self.now(), quote_qty, quantity)
                self.positions_opened += 1
            else:
                holding.cost += quote_qty
                holding.quantity += quantity
        else:
            self._move(base, -quantity, now_ms)
            self._move(self.quote, quote_qty - fee, now_ms)
            holding = self._holdings.get(order.symbol)
            if holding is not None:
                left = holding.quantity - quantity
                if left <= 0 or self.total(base) <= 0:
                    del self._holdings[order.symbol]
                else:
                    holding.cost = holding.cost * left / holding.quantity
                    holding.quantity = left
        self.updated_ms = now_ms
        order.executed_qty += quantity
        order.cum_quote += quote_qty
        order.updated_ms = now_ms
        order.status = "filled"
        self._record_fill(
            order,
            price,
            quantity,
            quote_qty,
            realized_pnl=ZERO,
            commission=fee,
            commission_asset=self.quote,
            maker=maker,
            now_ms=now_ms,
        )

    def _close(self, order: Order, status: Literal["canceled", "expired"]) -> None:
        self._release(order)
        order.status = status
        order.updated_ms = self.wall_ms()

    def find(
        self, symbol: str | None, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """Any order, open or not; by client id the most recent one wins."""
        instrument_id = self.instrument(symbol).id if symbol is not None else None
        if order_id is not None:
            order = self.orders.get(str(order_id))
            if order is not None and instrument_id in (None, order.symbol):
                return order
            raise OrderNotFound(f"order {order_id} does not exist")
        if client_order_id is not None:
            for order in reversed(self._by_client_id.get(client_order_id, ())):
                if instrument_id in (None, order.symbol):
                    return order
            raise OrderNotFound(f"order with client id {client_order_id} does not exist")
        raise InvalidOrderParameters("an order id or a client order id is required", "order_id", "missing")

    def cancel(
        self, symbol: str | None, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        try:
            order = self.find(symbol, order_id=order_id, client_order_id=client_order_id)
        except OrderNotFound:
            raise OrderNotFound("unknown order") from None
        if not order.is_open:
            raise OrderNotFound("order is no longer open")
        self._close(order, "canceled")
        self._judge(order.symbol)
        return order

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self.all_orders(symbol) if o.is_open]

    def all_orders(self, symbol: str | None = None) -> list[Order]:
        instrument_id = self.instrument(symbol).id if symbol is not None else None
        return [o for o in self.orders.values() if instrument_id is None or o.symbol == instrument_id]

    # ---------------------------------------------------------------------------- naked time

    def _judge(self, instrument_id: str) -> None:
        """After a holding or its stops changed: start or end its naked interval."""
        now = self.now()
        holding = self._holdings.get(instrument_id)
        held = self.total(self.instruments[instrument_id].base)
        span = self._naked.get(instrument_id)
        if holding is not None and held > 0 and not self._covered(instrument_id, held):
            if span is not None and span.opened_at == holding.opened_at:
                span.size = max(span.size, held)
                return
            if span is not None:
                self._end_span(span, now)
            span = NakedSpan(instrument_id, "long", held, holding.opened_at, now)
            self._naked[instrument_id] = span
            self.naked_spans.append(span)
        elif span is not None:
            self._end_span(span, now)

    def _covered(self, instrument_id: str, held: Decimal) -> bool:
        stops = [
            o.quantity
            for o in self.open_orders(instrument_id)
            if o.side == "sell" and o.kind in STOP_KINDS and not o.triggered
        ]
        return sum(stops, ZERO) >= held

    # ------------------------------------------------------------------------------ views

    def order_views(self, symbol: str | None = None) -> list[OrderView]:
        if symbol is not None and not self.lists(symbol):
            return []
        return [
            OrderView(
                id=order.id,
                client_order_id=order.client_order_id,
                symbol=self.instruments[order.symbol].symbol,
                side=order.side,
                type=order.kind,
                amount=float(order.quantity),
                price=float(order.price) if order.price is not None else None,
                trigger_price=float(order.trigger_price) if order.trigger_price is not None else None,
                # A spot sell can only sell what is held: it reduces the holding, never opens a
                # short, which is what reduce-only means to the protection check.
                reduce_only=order.side == "sell",
                close_position=False,
                status="open",
                intent=spot_intent(order.kind, order.side),
            )
            for order in self.open_orders(symbol)
        ]

    def position_views(self) -> list[PositionView]:
        """Each base asset held, as a long: what a stop-loss must protect."""
        views = []
        for instrument_id, holding in self._holdings.items():
            instrument = self.instruments[instrument_id]
            held = self.total(instrument.base)
            if held <= 0:
                continue
            views.append(
                PositionView(
                    symbol=instrument.symbol,
                    side="long",
                    contracts=float(held),
                    entry_price=float(holding.cost / holding.quantity) if holding.quantity else 0.0,
                    opened_at=holding.opened_at,
                )
            )
        return views
