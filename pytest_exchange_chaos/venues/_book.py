"""The state of one simulated derivatives account, shared by every venue.

A venue adapter parses its exchange's request into an :class:`OrderRequest` (or a cancel, a
lookup, a leverage change), calls the :class:`Book`, maps any :class:`BookError` to its own
error codes, and renders the returned records in its own payloads. The book owns the trading
rules: instrument filters, one-way positions, USDT cross margin, fills at the mark price,
resting limits, and stop/take-profit triggers when the mark moves.

No HTTP and no pytest here: the book only needs clocks and an id source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, InvalidOperation, getcontext
from typing import Literal

from pytest_exchange_chaos.naked_time import UnprotectedInterval
from pytest_exchange_chaos.venues._errors import (
    DuplicateClientOrderId,
    FillOrKillNotFillable,
    InsufficientMargin,
    InvalidLeverage,
    InvalidOrderParameters,
    NoChangeNeeded,
    NotionalTooSmall,
    OrderNotFound,
    PostOnlyWouldTake,
    PrecisionError,
    PriceField,
    QuantityTooLarge,
    QuantityTooSmall,
    ReduceOnlyRejected,
    SettingLocked,
    TickSizeError,
    UnknownSymbol,
    WouldTriggerImmediately,
)
from pytest_exchange_chaos.venues._instruments import Instrument, decimals
from pytest_exchange_chaos.venues._records import (
    CONDITIONAL_KINDS,
    MARKET_KINDS,
    STOP_KINDS,
    AccountSnapshot,
    Fill,
    IdSource,
    MarkStats,
    Order,
    OrderRequest,
    Position,
    PositionSnapshot,
    intent_of,
)
from pytest_exchange_chaos.venues.base import OrderView, PositionView, Venue

__all__ = [
    "Book",
    "BookVenue",
    "Listing",
    "ListingVenue",
    "NakedSpan",
    "parse_decimal",
    "price_crosses",
    "trigger_crossed",
]

ZERO = Decimal(0)
_MAX_TRIGGER_ROUNDS = 16
_QUANTITY_CACHE_SIZE = 1024
# Sums of margins without rounding: far wider than any sum of a book's margins needs, and a
# sum that would still need rounding raises rather than drift.
_EXACT = Context(prec=120, traps=[Inexact])
# Changes to a position or its stops less than this far apart on the chaos clock are one
# instant: an entry and the stop-loss Bybit attaches to it in the same request, or, on the
# real clock, the microseconds between two steps of one request, leave no naked interval.
INSTANT = 0.001


@dataclass(slots=True, eq=False)
class NakedSpan:
    """One interval in which a position had no stop covering it, in the book's own terms."""

    symbol: str
    """The exchange's instrument id."""
    side: Literal["long", "short"]
    size: Decimal
    """The largest the position grew to while naked."""
    opened_at: float
    """When the position was opened, on the chaos clock: it tells positions apart."""
    start: float
    end: float | None = None
    """None while the position is still naked."""


@dataclass(slots=True)
class _Numbers:
    quantity: Decimal
    price: Decimal | None = None
    trigger: Decimal | None = None
    callback_rate: Decimal | None = None
    activation: Decimal | None = None


class _Reserve:
    """The margin one symbol's resting limit orders hold, kept up to date as they change.

    The book used to add up every open order's margin on each request: per symbol, in the
    order the orders were placed, each addition rounded to the decimal context's 28 digits.
    ``exact`` is the same sum kept without rounding (each order's margin added once and taken
    back out when it changes or leaves). While it fits in 28 digits at its own exponent, which
    is at most any margin's, none of those additions rounded anything, whatever orders are left
    and in whatever order, so it is that very number. Margins with a long expansion (a 3x or
    7x leverage gives 28 digits) can make it not fit: then ``folded`` replays the old additions
    in the orders' order, extended as orders arrive and replayed again only after an order
    changed or left.
    """

    __slots__ = ("exact", "folded", "held")

    def __init__(self) -> None:
        # By (channel, order id), in the order the book placed them: the order's place in the
        # book's sequence (to add the symbols up in the old order), the order, its margin.
        self.held: dict[tuple[str, str], tuple[int, Order, Decimal]] = {}
        self.exact: Decimal | None = ZERO
        self.folded: Decimal | None = ZERO

    def add(self, key: tuple[str, str], sequence: int, order: Order, margin: Decimal) -> None:
        """A new order, placed after every other one held."""
        self.held[key] = (sequence, order, margin)
        if self.exact is not None:
            self.exact = self._exactly(_EXACT.add, self.exact, margin)
        if self.folded is not None:
            # The very addition the book used to make for the last order.
            self.folded += margin

    def change(self, key: tuple[str, str], margin: Decimal) -> None:
        sequence, order, before = self.held[key]
        self.held[key] = (sequence, order, margin)
        if self.exact is not None:
            self.exact = self._exactly(_EXACT.subtract, self.exact, before)
        if self.exact is not None:
            self.exact = self._exactly(_EXACT.add, self.exact, margin)
        self.folded = None

    def release(self, key: tuple[str, str]) -> None:
        _, _, margin = self.held.pop(key)
        self.folded = None
        if self.exact is not None:
            self.exact = self._exactly(_EXACT.subtract, self.exact, margin)

    def total(self) -> Decimal:
        exact = self.exact
        if exact is not None and len(exact.as_tuple().digits) <= getcontext().prec:
            return exact
        if self.folded is None:
            folded = ZERO
            for _, _, margin in self.held.values():
                folded += margin
            self.folded = folded
        return self.folded

    @property
    def first_placed(self) -> int:
        return next(iter(self.held.values()))[0]

    @staticmethod
    def _exactly(operation: Callable[[Decimal, Decimal], Decimal], a: Decimal, b: Decimal) -> Decimal | None:
        try:
            return operation(a, b)
        except Inexact:
            # Too wide even for the exact context: the replayed sum answers from now on.
            return None


def parse_decimal(value: str | float | Decimal, field: str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidOrderParameters(f"illegal characters in {field}: {value!r}", field, "illegal") from None
    if not number.is_finite():
        raise InvalidOrderParameters(f"illegal value for {field}: {value!r}", field, "illegal")
    return number


def price_crosses(side: str, price: Decimal, mark: Decimal) -> bool:
    """Whether a limit at ``price`` trades at ``mark``: a buy once the mark is at or below it, a
    sell once it is at or above."""
    return mark <= price if side == "buy" else mark >= price


def trigger_crossed(kind: str, side: str, trigger: Decimal, mark: Decimal) -> bool:
    # A stop buys above and sells below the market; a take-profit the other way round.
    if kind in STOP_KINDS:
        return mark >= trigger if side == "buy" else mark <= trigger
    return mark <= trigger if side == "buy" else mark >= trigger


class Listing:
    """What every book of one account keeps, derivatives or spot: its instruments (by exchange
    id and by ccxt symbol), their marks and the day's statistics, the fills, the filters an
    order's price and quantity must pass, and the intervals a position (or a spot holding) was
    naked."""

    def __init__(
        self,
        instruments: Iterable[Instrument],
        *,
        ids: IdSource,
        wall_ms: Callable[[], int],
        now: Callable[[], float],
    ) -> None:
        self.instruments: dict[str, Instrument] = {i.id: i for i in instruments}
        self._by_symbol = {i.symbol: i for i in self.instruments.values()}
        self.ids = ids
        self.wall_ms = wall_ms
        self.now = now
        self.marks: dict[str, Decimal] = {i.id: i.mark_price for i in self.instruments.values()}
        self.stats: dict[str, MarkStats] = {
            i.id: MarkStats(open=i.mark_price, high=i.mark_price, low=i.mark_price)
            for i in self.instruments.values()
        }
        self.fills: list[Fill] = []
        self._naked: dict[str, NakedSpan] = {}
        self.naked_spans: list[NakedSpan] = []
        self.positions_opened = 0
        """How many positions (or holdings) were opened, a flip counting as a new one: naked
        time was tracked for each."""

    def instrument(self, symbol: str) -> Instrument:
        """By exchange id (``BTCUSDT``) or ccxt unified symbol (``BTC/USDT:USDT``, ``BTC/USDT``)."""
        found = self.instruments.get(symbol) or self._by_symbol.get(symbol)
        if found is None:
            raise UnknownSymbol(symbol)
        return found

    def lists(self, symbol: str | None) -> bool:
        """Whether ``symbol`` (exchange id or ccxt symbol) is one of this book's instruments."""
        return symbol is not None and (symbol in self.instruments or symbol in self._by_symbol)

    def fills_for(self, symbol: str | None = None) -> list[Fill]:
        instrument_id = self.instrument(symbol).id if symbol is not None else None
        return [fill for fill in self.fills if instrument_id is None or fill.symbol == instrument_id]

    def set_mark(self, symbol: str, price: float | Decimal | str) -> list[Order]:
        """Move the mark; return the orders that triggered or filled because of it."""
        instrument, mark = self._move_mark(symbol, price)
        touched: list[Order] = []
        # A triggered order may leave another for the same mark to fill (the order an algo stop
        # spawns, a stop limit now working): look again until a round changes nothing.
        for _ in range(_MAX_TRIGGER_ROUNDS):
            progressed = False
            for order in self._resting_on(instrument.id):
                if self._on_mark(order, mark):
                    touched.append(order)
                    progressed = True
            if not progressed:
                break
        return touched

    def _resting_on(self, instrument_id: str) -> list[Order]:
        """The open orders on an instrument, as they stood before the mark moved."""
        raise NotImplementedError

    def _on_mark(self, order: Order, mark: Decimal) -> bool:
        """Trigger or fill ``order`` if ``mark`` reaches it; whether it did."""
        raise NotImplementedError

    def _move_mark(self, symbol: str, price: float | Decimal | str) -> tuple[Instrument, Decimal]:
        instrument = self.instrument(symbol)
        mark = parse_decimal(price, "price")
        if mark <= 0:
            raise InvalidOrderParameters(f"mark price must be positive, got {price!r}", "price")
        self.marks[instrument.id] = mark
        stats = self.stats[instrument.id]
        stats.high = max(stats.high, mark)
        stats.low = min(stats.low, mark)
        return instrument, mark

    def _record_fill(
        self,
        order: Order,
        price: Decimal,
        quantity: Decimal,
        quote_qty: Decimal,
        *,
        realized_pnl: Decimal,
        commission: Decimal,
        commission_asset: str,
        maker: bool,
        now_ms: int,
    ) -> None:
        """The trade in the day's statistics and the account's fills."""
        stats = self.stats[order.symbol]
        stats.volume += quantity
        stats.quote_volume += quote_qty
        stats.trades += 1
        self.fills.append(
            Fill(
                id=self.ids.trade_id(order.symbol),
                order_id=order.id,
                symbol=order.symbol,
                side=order.side,
                price=price,
                quantity=quantity,
                quote_qty=quote_qty,
                realized_pnl=realized_pnl,
                commission=commission,
                commission_asset=commission_asset,
                maker=maker,
                time_ms=now_ms,
            )
        )

    def unprotected(self) -> list[NakedSpan]:
        """Every interval so far in which a position had no stop covering it, oldest first; the
        last of a symbol has ``end`` None while its position is still naked."""
        return list(self.naked_spans)

    def order_views(self, symbol: str | None = None) -> list[OrderView]:
        """The open orders, as the trader's checks read them."""
        raise NotImplementedError

    def position_views(self) -> list[PositionView]:
        """What a stop-loss must protect, as the trader's checks read it."""
        raise NotImplementedError

    def naked_intervals(self, venue: str, now: float) -> list[UnprotectedInterval]:
        """:meth:`unprotected` as the plugin reports it, by ccxt symbol, open ones up to ``now``."""
        return [
            UnprotectedInterval(
                venue=venue,
                symbol=self.instruments[span.symbol].symbol,
                side=span.side,
                size=float(span.size),
                opened_at=span.opened_at,
                start=span.start,
                end=span.end,
                seconds=(now if span.end is None else span.end) - span.start,
            )
            for span in self.unprotected()
        ]

    def _end_span(self, span: NakedSpan, at: float) -> None:
        del self._naked[span.symbol]
        span.end = at
        if at - span.start < INSTANT:
            # Bought and covered within one instant of the chaos clock, or judged naked by a
            # look taken mid-instant and covered again within it: never naked.
            self.naked_spans.remove(span)

    @staticmethod
    def _check_quantity(instrument: Instrument, text: str, *, market: bool) -> Decimal:
        quantity = parse_decimal(text, "quantity")
        if quantity <= 0:
            raise QuantityTooSmall(quantity, instrument.min_qty)
        if decimals(quantity) > instrument.quantity_precision or quantity % instrument.step_size:
            raise PrecisionError("quantity", text)
        if quantity < instrument.min_qty:
            raise QuantityTooSmall(quantity, instrument.min_qty)
        maximum = instrument.market_max_qty if market else instrument.max_qty
        if quantity > maximum:
            raise QuantityTooLarge(quantity, maximum)
        return quantity

    @staticmethod
    def _price(instrument: Instrument, text: str, field: PriceField) -> Decimal:
        price = parse_decimal(text, field)
        if price <= 0:
            raise InvalidOrderParameters(f"{field} must be positive", field)
        if decimals(price) > instrument.price_precision:
            raise PrecisionError(field, text)
        if price % instrument.tick_size:
            raise TickSizeError(field, text)
        return price


class Book(Listing):
    """Instruments, marks, orders, one-way positions and a USDT cross-margin wallet."""

    def __init__(
        self,
        instruments: Iterable[Instrument],
        *,
        ids: IdSource,
        wall_ms: Callable[[], int],
        now: Callable[[], float],
        wallet_balance: Decimal = Decimal(10_000),
        asset: str = "USDT",
        default_leverage: int = 20,
        taker_fee: Decimal = Decimal("0.0005"),
        maker_fee: Decimal = Decimal("0.0002"),
        expire_protective_orders_on_close: bool = True,
    ) -> None:
        super().__init__(instruments, ids=ids, wall_ms=wall_ms, now=now)
        self.asset = asset
        self.wallet_balance = wallet_balance
        self.balance_updated_ms = wall_ms()
        self.default_leverage = default_leverage
        self.taker_fee = taker_fee
        self.maker_fee = maker_fee
        # Binance expires reduce-only and close-position orders once their position is gone,
        # so a take-profit that closes the trade does not leave a stop to re-open it.
        self.expire_protective_orders_on_close = expire_protective_orders_on_close
        self.orders: dict[tuple[str, str], Order] = {}
        # Orders that were open when last looked at: a day of trading leaves thousands of
        # closed orders, and every trigger check and margin sum only needs the open ones.
        self._live: dict[tuple[str, str], Order] = {}
        # Every order by (channel, client order id), oldest first: a lookup or duplicate check
        # by client id reads its few orders instead of walking the whole history.
        self._by_client_id: dict[tuple[str, str], list[Order]] = {}
        # The margin resting limit orders hold, per symbol, kept as orders arrive, fill, leave
        # or change and as leverage changes: placing an order reads it instead of adding up
        # every open order's margin again (8 ms an order with 10,000 resting).
        self._reserves: dict[str, _Reserve] = {}
        self._placed_count = 0
        self.positions: dict[str, Position] = {}
        self.leverages: dict[str, int] = {}
        self.margin_modes: dict[str, Literal["cross", "isolated"]] = {}
        self.hedge_mode = False
        self.multi_assets = False
        # Quantities that passed an instrument's filters, by (instrument, text, market): a bot
        # sends the same few sizes over and over, and a Decimal never changes.
        self._valid_quantities: dict[tuple[str, str, bool], Decimal] = {}
        # Naked time, kept as positions and stops change rather than by scanning every open
        # order: the open protective stops (reduce-only or close-position stop orders) by
        # symbol, what they cover by symbol and side, the ones that may have left since the
        # last look, the symbols changed in the current instant (a dict keeps them in order),
        # and every naked interval so far, the open ones also by symbol.
        self._stops: dict[tuple[str, str], Order] = {}
        self._cover: dict[tuple[str, str], _Cover] = {}
        self._leaving: list[Order] = []
        self._unsettled: dict[str, None] = {}
        self._unsettled_since = 0.0
        self._unsettled_at = 0.0

    # ----------------------------------------------------------------- instruments and marks

    def mark(self, symbol: str) -> Decimal:
        return self.marks[self.instrument(symbol).id]

    def _resting_on(self, instrument_id: str) -> list[Order]:
        return [o for o in self._open_orders() if o.symbol == instrument_id]

    def _on_mark(self, order: Order, mark: Decimal) -> bool:
        if not order.is_open:
            return False
        if order.waiting_for_trigger:
            self._track_trailing(order, mark)
            if self._crossed(order, mark):
                self._trigger(order)
                return True
        elif not order.market_like and self._limit_crosses(order, mark):
            assert order.price is not None
            self._fill(order, order.remaining, order.price, maker=True, now_ms=self.wall_ms())
            return True
        return False

    # ---------------------------------------------------------------------------- orders

    def place(self, request: OrderRequest) -> Order:
        """Validate and accept an order; market orders fill at once, crossing limits too."""
        instrument = self.instrument(request.symbol)
        mark = self.marks[instrument.id]
        kind = request.kind
        conditional = kind in CONDITIONAL_KINDS
        numbers = self._parse_numbers(instrument, request)
        quantity, price, trigger = numbers.quantity, numbers.price, numbers.trigger

        client_id = request.client_order_id or self.ids.client_order_id()
        same_client_id = self._by_client_id.get((request.channel, client_id))
        if same_client_id and any(o.is_open for o in same_client_id):
            raise DuplicateClientOrderId(client_id)

        position_qty = self.position_qty(instrument.id)
        if request.reduce_only and not request.close_position:
            closes = (request.side == "sell" and position_qty > 0) or (
                request.side == "buy" and position_qty < 0
            )
            if not closes:
                raise ReduceOnlyRejected("reduce-only order would not reduce a position")

        if not (request.reduce_only or request.close_position):
            reference = price if price is not None else (trigger if trigger is not None else mark)
            notional = quantity * reference
            if notional < instrument.min_notional:
                raise NotionalTooSmall(notional, instrument.min_notional)

        if trigger is not None and trigger_crossed(kind, request.side, trigger, mark):
            raise WouldTriggerImmediately("the order would trigger immediately")

        if not conditional:
            crosses = price is not None and price_crosses(request.side, price, mark)
            if kind == "limit" and request.time_in_force == "GTX" and crosses:
                raise PostOnlyWouldTake("a post-only order would take liquidity")
            if kind == "limit" and request.time_in_force == "FOK" and not crosses:
                raise FillOrKillNotFillable("a fill-or-kill order could not fill at once")
            if not request.reduce_only:
                reference = mark if kind == "market" or crosses else (price or mark)
                self._check_margin(instrument, request.side, quantity, reference)

        now_ms = self.wall_ms()
        order = Order(
            id=self.ids.order_id(instrument.id, request.channel),
            client_order_id=client_id,
            symbol=instrument.id,
            side=request.side,
            kind=kind,
            quantity=quantity,
            price=price,
            trigger_price=trigger,
            reduce_only=request.reduce_only,
            close_position=request.close_position,
            time_in_force=request.time_in_force,
            channel=request.channel,
            created_ms=now_ms,
            updated_ms=now_ms,
            spawns_order_on_trigger=request.spawns_order_on_trigger,
            callback_rate=numbers.callback_rate,
            activation_price=numbers.activation,
            extra=dict(request.extra),
        )
        if kind == "trailing_stop_market" and numbers.activation is None:
            order.trailing_extreme = mark
        self._store(order)
        if not conditional:
            self._work(order, taker=True, now_ms=now_ms)
        return order

    def find(
        self,
        symbol: str | None,
        channel: str = "regular",
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Any order, open or not; by client id the most recent one wins."""
        instrument_id = self.instrument(symbol).id if symbol is not None else None
        if order_id is not None:
            order = self.orders.get((channel, str(order_id)))
            if order is not None and instrument_id in (None, order.symbol):
                return order
            raise OrderNotFound(f"order {order_id} does not exist")
        if client_order_id is not None:
            for order in reversed(self._by_client_id.get((channel, client_order_id), ())):
                if instrument_id in (None, order.symbol):
                    return order
            raise OrderNotFound(f"order with client id {client_order_id} does not exist")
        raise InvalidOrderParameters("an order id or a client order id is required", "order_id", "missing")

    def cancel(
        self,
        symbol: str | None,
        channel: str = "regular",
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        try:
            order = self.find(symbol, channel, order_id=order_id, client_order_id=client_order_id)
        except OrderNotFound:
            raise OrderNotFound("unknown order") from None
        if not order.is_open:
            raise OrderNotFound("order is no longer open")
        self.cancel_order(order, self.wall_ms())
        return order

    def cancel_order(self, order: Order, now_ms: int) -> None:
        """Cancel an open order the venue already holds, at the exchange's time ``now_ms``."""
        self._close(order, "canceled", now_ms)

    def cancel_all(self, symbol: str, channel: str = "regular") -> list[Order]:
        cancelled = []
        for order in self.open_orders(symbol, channel):
            self.cancel_order(order, self.wall_ms())
            cancelled.append(order)
        return cancelled

    def open_orders(self, symbol: str | None = None, channel: str | None = None) -> list[Order]:
        return self.all_orders(symbol, channel, open_only=True)

    def all_orders(
        self, symbol: str | None = None, channel: str | None = None, *, open_only: bool = False
    ) -> list[Order]:
        instrument_id = self.instrument(symbol).id if symbol is not None else None
        orders = self._open_orders() if open_only else list(self.orders.values())
        return [
            order
            for order in orders
            if (instrument_id is None or order.symbol == instrument_id)
            and (channel is None or order.channel == channel)
        ]

    def amend(self, symbol: str, order: Order, *, quantity: str, price: str) -> Order:
        """Change a resting limit order's price and quantity (it keeps its id and place)."""
        instrument = self.instrument(symbol)
        if not order.is_open or order.kind != "limit":
            raise OrderNotFound("only open limit orders can be amended")
        new_quantity = self._quantity(instrument, quantity, market=False)
        new_price = self._price(instrument, price, "price")
        if new_quantity <= order.executed_qty:
            raise InvalidOrderParameters("quantity is not above the executed quantity", "quantity")
        order.quantity = new_quantity
        order.price = new_price
        order.updated_ms = now_ms = self.wall_ms()
        self._hold(order)
        mark = self.marks[instrument.id]
        if price_crosses(order.side, new_price, mark):
            self._fill(order, order.remaining, mark, maker=False, now_ms=now_ms)
        return order

    def intent(self, order: Order) -> Literal["entry", "exit", "stop_loss", "take_profit"]:
        intent = intent_of(
            order.kind, order.side, order.reduce_only, order.close_position, self.position_qty(order.symbol)
        )
        assert intent in ("entry", "exit", "stop_loss", "take_profit")
        return intent

    # ------------------------------------------------------------------ account settings

    def leverage(self, symbol: str) -> int:
        return self.leverages.get(self.instrument(symbol).id, self.default_leverage)

    def set_leverage(self, symbol: str, leverage: int) -> int:
        instrument = self.instrument(symbol)
        if not 1 <= leverage <= instrument.max_leverage:
            raise InvalidLeverage(leverage, instrument.max_leverage)
        position = self.positions.get(instrument.id)
        if position is not None:
            needed = abs(position.quantity) * self.marks[instrument.id] / leverage
            current = abs(position.quantity) * self.marks[instrument.id] / self.leverage(instrument.id)
            account = self.account()
            if needed - current > account.available_balance:
                raise InsufficientMargin(needed, account.available_balance + current)
        self.leverages[instrument.id] = leverage
        # Every margin the symbol's resting orders hold is a new number; no other symbol's is.
        reserve = self._reserves.pop(instrument.id, None)
        if reserve is not None:
            for key, (sequence, order, _) in reserve.held.items():
                self._hold(order, key, sequence)
        return leverage

    def max_notional(self, symbol: str, leverage: int | None = None) -> Decimal:
        instrument = self.instrument(symbol)
        leverage = leverage if leverage is not None else self.leverage(symbol)
        allowed = [tier.cap for tier in instrument.tiers if tier.max_leverage >= leverage]
        return allowed[-1] if allowed else instrument.tiers[0].cap

    def margin_mode(self, symbol: str) -> Literal["cross", "isolated"]:
        return self.margin_modes.get(self.instrument(symbol).id, "cross")

    def set_margin_mode(self, symbol: str, mode: Literal["cross", "isolated"]) -> None:
        instrument = self.instrument(symbol)
        if self.margin_mode(instrument.id) == mode:
            raise NoChangeNeeded("margin_mode")
        if instrument.id in self.positions:
            raise SettingLocked("margin_mode", "position")
        if self.open_orders(instrument.id):
            raise SettingLocked("margin_mode", "open_orders")
        self.margin_modes[instrument.id] = mode

    def set_hedge_mode(self, hedged: bool) -> None:
        if self.hedge_mode == hedged:
            raise NoChangeNeeded("hedge_mode")
        if self.positions:
            raise SettingLocked("hedge_mode", "position")
        if self.open_orders():
            raise SettingLocked("hedge_mode", "open_orders")
        self.hedge_mode = hedged

    def set_multi_assets(self, enabled: bool) -> None:
        if self.multi_assets == enabled:
            raise NoChangeNeeded("multi_assets")
        self.multi_assets = enabled

    # ------------------------------------------------------------------ balances, positions

    def account(self) -> AccountSnapshot:
        unrealized = ZERO
        position_im = ZERO
        maint = ZERO
        for position in self.positions.values():
            snapshot = self.position_snapshot(position.symbol)
            assert snapshot is not None
            unrealized += snapshot.unrealized_pnl
            position_im += snapshot.initial_margin
            maint += snapshot.maint_margin
        order_im = self._open_order_margin_total()
        margin_balance = self.wallet_balance + unrealized
        available = margin_balance - position_im - order_im
        return AccountSnapshot(
            asset=self.asset,
            wallet_balance=self.wallet_balance,
            unrealized_pnl=unrealized,
            margin_balance=margin_balance,
            position_initial_margin=position_im,
            open_order_initial_margin=order_im,
            maint_margin=maint,
            available_balance=available,
            max_withdraw=max(ZERO, min(self.wallet_balance, available)),
            updated_ms=self.balance_updated_ms,
        )

    def _available_balance(self) -> Decimal:
        """``account().available_balance``, the same decimals in the same order, without the
        liquidation and break-even prices a full snapshot computes for every position."""
        unrealized = ZERO
        position_im = ZERO
        for position in self.positions.values():
            mark = self.marks[position.symbol]
            notional = position.quantity * mark
            unrealized += position.quantity * (mark - position.entry_price)
            position_im += abs(notional) / self.leverage(position.symbol)
        order_im = self._open_order_margin_total()
        margin_balance = self.wallet_balance + unrealized
        return margin_balance - position_im - order_im

    def position_snapshot(self, symbol: str) -> PositionSnapshot | None:
        instrument = self.instrument(symbol)
        position = self.positions.get(instrument.id)
        if position is None:
            return None
        mark = self.marks[instrument.id]
        leverage = self.leverage(instrument.id)
        notional = position.quantity * mark
        tier = instrument.tier_for(notional)
        maint = abs(notional) * tier.maint_margin_ratio - tier.cum
        return PositionSnapshot(
            symbol=instrument.id,
            quantity=position.quantity,
            entry_price=position.entry_price,
            mark_price=mark,
            notional=notional,
            unrealized_pnl=position.quantity * (mark - position.entry_price),
            initial_margin=abs(notional) / leverage,
            maint_margin=max(maint, ZERO),
            open_order_initial_margin=self.open_order_margin(instrument.id),
            leverage=leverage,
            liquidation_price=self._liquidation_price(instrument, position),
            break_even_price=self._break_even(position),
            margin_mode=self.margin_mode(instrument.id),
            opened_at=position.opened_at,
            updated_ms=position.updated_ms,
        )

    # ---------------------------------------------------------------------------- naked time

    def unprotected(self) -> list[NakedSpan]:
        """Every interval so far in which a position had no stop covering it, oldest first; the
        last of a symbol has ``end`` None while its position is still naked.

        Covered means what ``assert_positions_protected`` checks: open reduce-only or
        close-position stop orders on the closing side whose sizes add up to the position's
        (a close-position one covers any size). Intervals shorter than :data:`INSTANT` are
        not kept."""
        if self._unsettled:
            self._settle()
        return list(self.naked_spans)

    def _touch(self, symbol: str) -> None:
        """Called before a position or a protective stop of ``symbol`` changes: the state the
        last instant ended in is judged first, once the chaos clock has moved past it."""
        now = self.now()
        if self._unsettled:
            if now - self._unsettled_since >= INSTANT:
                self._settle()
                self._unsettled_since = now
        else:
            self._unsettled_since = now
        self._unsettled[symbol] = None
        self._unsettled_at = now

    def _settle(self) -> None:
        for order in self._leaving:
            key = (order.channel, order.id)
            if not order.is_open and self._stops.get(key) is order:
                del self._stops[key]
                self._cover[(order.symbol, order.side)].remove(order)
        self._leaving.clear()
        at = self._unsettled_at
        for symbol in self._unsettled:
            position = self.positions.get(symbol)
            span = self._naked.get(symbol)
            if position is not None and not self._covered(position):
                size = abs(position.quantity)
                if span is not None and span.side == position.side and span.opened_at == position.opened_at:
                    span.size = max(span.size, size)
                    continue
                if span is not None:
                    self._end_span(span, at)
                span = NakedSpan(symbol, position.side, size, position.opened_at, at)
                self._naked[symbol] = span
                self.naked_spans.append(span)
            elif span is not None:
                self._end_span(span, at)
        self._unsettled.clear()

    def _covered(self, position: Position) -> bool:
        cover = self._cover.get((position.symbol, "sell" if position.quantity > 0 else "buy"))
        return cover is not None and (cover.closing > 0 or cover.quantity >= abs(position.quantity))

    def _stop_placed(self, key: tuple[str, str], order: Order) -> None:
        self._touch(order.symbol)
        self._stops[key] = order
        cover = self._cover.get((order.symbol, order.side))
        if cover is None:
            cover = self._cover[(order.symbol, order.side)] = _Cover()
        cover.add(order)

    def _stop_may_leave(self, order: Order) -> None:
        """Before a protective stop's status changes: it is let go of at the next look if it
        is no longer open then."""
        self._touch(order.symbol)
        self._leaving.append(order)

    # ------------------------------------------------------------------------------ views

    def order_views(self, symbol: str | None = None) -> list[OrderView]:
        views = []
        for order in self.open_orders(symbol):
            instrument = self.instruments[order.symbol]
            trigger = order.trigger_price
            if order.kind == "trailing_stop_market":
                trigger = self._trailing_trigger(order)
            views.append(
                OrderView(
                    id=order.id,
                    client_order_id=order.client_order_id,
                    symbol=instrument.symbol,
                    side=order.side,
                    type=order.kind,
                    amount=float(order.quantity),
                    price=float(order.price) if order.price is not None else None,
                    trigger_price=float(trigger) if trigger is not None else None,
                    reduce_only=order.reduce_only,
                    close_position=order.close_position,
                    status="open",
                    intent=self.intent(order),
                )
            )
        return views

    def position_views(self) -> list[PositionView]:
        return [
            PositionView(
                symbol=self.instruments[position.symbol].symbol,
                side=position.side,
                contracts=float(abs(position.quantity)),
                entry_price=float(position.entry_price),
                opened_at=position.opened_at,
            )
            for position in self.positions.values()
        ]

    # ---------------------------------------------------------------------------- helpers

    def _parse_numbers(self, instrument: Instrument, request: OrderRequest) -> _Numbers:
        """The order's numbers, checked against the instrument's filters."""
        kind = request.kind
        if request.close_position:
            if kind not in {"stop_market", "take_profit_market", "trailing_stop_market"}:
                raise InvalidOrderParameters(
                    "closePosition needs a stop or take-profit market order", "kind", "conflict"
                )
            if request.quantity not in (None, ""):
                raise InvalidOrderParameters(
                    "quantity must be empty with closePosition", "quantity", "conflict"
                )
            if request.reduce_only:
                raise InvalidOrderParameters(
                    "reduceOnly cannot be sent with closePosition", "reduce_only", "conflict"
                )
            quantity = ZERO
        elif not request.quantity:
            raise InvalidOrderParameters("quantity is required", "quantity", "missing")
        else:
            quantity = self._quantity(instrument, request.quantity, market=kind in MARKET_KINDS)
        numbers = _Numbers(quantity)
        if kind in {"limit", "stop", "take_profit"}:
            if not request.price:
                raise InvalidOrderParameters("price is required", "price", "missing")
            numbers.price = self._price(instrument, request.price, "price")
        if kind == "trailing_stop_market":
            numbers.callback_rate = self._callback_rate(request.callback_rate)
            if request.activation_price:
                numbers.activation = self._price(instrument, request.activation_price, "activation_price")
        elif kind in CONDITIONAL_KINDS:
            if not request.trigger_price:
                raise InvalidOrderParameters("trigger price is required", "trigger_price", "missing")
            numbers.trigger = self._price(instrument, request.trigger_price, "trigger_price")
        return numbers

    def _quantity(self, instrument: Instrument, text: str, *, market: bool) -> Decimal:
        key = (instrument.id, text, market)
        known = self._valid_quantities.get(key)
        if known is not None:
            return known
        quantity = self._check_quantity(instrument, text, market=market)
        if len(self._valid_quantities) >= _QUANTITY_CACHE_SIZE:
            self._valid_quantities.clear()
        self._valid_quantities[key] = quantity
        return quantity

    @staticmethod
    def _callback_rate(text: str | None) -> Decimal:
        if text in (None, ""):
            raise InvalidOrderParameters("callback rate is required", "callback_rate", "missing")
        assert text is not None
        rate = parse_decimal(text, "callback_rate")
        if not Decimal("0.1") <= rate <= Decimal(10):
            raise InvalidOrderParameters("callback rate must be within 0.1 and 10", "callback_rate")
        return rate

    def position_qty(self, instrument_id: str) -> Decimal:
        """The signed position size on an instrument (by exchange id): zero without a position."""
        position = self.positions.get(instrument_id)
        return position.quantity if position is not None else ZERO

    def _limit_crosses(self, order: Order, mark: Decimal) -> bool:
        return order.price is not None and price_crosses(order.side, order.price, mark)

    def _crossed(self, order: Order, mark: Decimal) -> bool:
        if order.kind == "trailing_stop_market":
            trigger = self._trailing_trigger(order)
            if trigger is None:
                return False
            return mark >= trigger if order.side == "buy" else mark <= trigger
        assert order.trigger_price is not None
        return trigger_crossed(order.kind, order.side, order.trigger_price, mark)

    @staticmethod
    def _track_trailing(order: Order, mark: Decimal) -> None:
        if order.kind != "trailing_stop_market":
            return
        if order.trailing_extreme is None:
            activation = order.activation_price
            activated = activation is None or (
                mark >= activation if order.side == "sell" else mark <= activation
            )
            if activated:
                order.trailing_extreme = mark
            return
        if order.side == "sell":
            order.trailing_extreme = max(order.trailing_extreme, mark)
        else:
            order.trailing_extreme = min(order.trailing_extreme, mark)

    @staticmethod
    def _trailing_trigger(order: Order) -> Decimal | None:
        if order.trailing_extreme is None or order.callback_rate is None:
            return None
        factor = order.callback_rate / 100
        if order.side == "sell":
            return order.trailing_extreme * (1 - factor)
        return order.trailing_extreme * (1 + factor)

    def _check_margin(self, instrument: Instrument, side: str, quantity: Decimal, price: Decimal) -> None:
        position_qty = self.position_qty(instrument.id)
        signed = quantity if side == "buy" else -quantity
        if position_qty == 0 or (position_qty > 0) == (signed > 0):
            opening = quantity
        else:
            opening = max(quantity - abs(position_qty), ZERO)
        if opening == 0:
            return
        required = opening * price / self.leverage(instrument.id)
        available = self._available_balance()
        if required > available:
            raise InsufficientMargin(required, available)

    def _trigger(self, order: Order) -> None:
        if _protective(order):
            self._stop_may_leave(order)
        now_ms = self.wall_ms()
        order.trigger_ms = now_ms
        order.updated_ms = now_ms
        if order.kind == "trailing_stop_market":
            order.trigger_price = self._trailing_trigger(order)
        if not order.spawns_order_on_trigger:
            order.triggered = True
            self._work(order, taker=True, now_ms=now_ms)
            return
        market = order.market_like
        child = Order(
            id=self.ids.order_id(order.symbol, "regular"),
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            kind="market" if market else "limit",
            quantity=order.quantity,
            price=None if market else order.price,
            trigger_price=None,
            reduce_only=order.reduce_only,
            close_position=order.close_position,
            time_in_force=order.time_in_force,
            channel="regular",
            created_ms=now_ms,
            updated_ms=now_ms,
            parent_order_id=order.id,
            extra=dict(order.extra),
        )
        order.status = "triggered"
        order.triggered = True
        order.child_order_id = child.id
        self._store(child)
        self._work(child, taker=True, now_ms=now_ms)

    def _work(self, order: Order, *, taker: bool, now_ms: int) -> None:
        """Execute what can execute now: market orders in full, limits if the mark crosses."""
        mark = self.marks[order.symbol]
        if order.market_like:
            self._fill(order, order.remaining, mark, maker=False, now_ms=now_ms)
            return
        if self._limit_crosses(order, mark):
            price = mark if taker else (order.price or mark)
            self._fill(order, order.remaining, price, maker=not taker, now_ms=now_ms)
        elif order.time_in_force in ("IOC", "FOK"):
            self._close(order, "expired", now_ms)

    def _fill(self, order: Order, quantity: Decimal, price: Decimal, *, maker: bool, now_ms: int) -> None:
        """Execute ``quantity`` at ``price``; ``now_ms`` is the exchange's time of the fill."""
        position_qty = self.position_qty(order.symbol)
        if order.reduce_only or order.close_position:
            opposite = position_qty * order.signed_side < 0
            reducible = abs(position_qty) if opposite else ZERO
            quantity = reducible if order.close_position else min(quantity, reducible)
            if quantity <= 0:
                self._close(order, "expired", now_ms)
                return
        elif order.triggered or order.parent_order_id is not None:
            # Stop entries reserve nothing while they wait; the margin is checked on trigger.
            try:
                self._check_margin(self.instruments[order.symbol], order.side, quantity, price)
            except InsufficientMargin:
                self._close(order, "expired", now_ms)
                return
        # Exact decimals: the one product stands for each of the four it used to be computed as.
        quote_qty = quantity * price
        fee = quote_qty * (self.maker_fee if maker else self.taker_fee)
        realized = self._apply_to_position(order.symbol, order.signed_side * quantity, price, now_ms)
        self.wallet_balance += realized - fee
        self.balance_updated_ms = now_ms
        # A first fill keeps its own decimals (one object fewer each to allocate and to keep).
        order.executed_qty = order.executed_qty + quantity if order.executed_qty else quantity
        order.cum_quote = order.cum_quote + quote_qty if order.cum_quote else quote_qty
        order.updated_ms = now_ms
        done = order.close_position or order.reduce_only or order.executed_qty >= order.quantity
        if _protective(order):
            self._stop_may_leave(order)
        order.status = "filled" if done else "partially_filled"
        self._hold(order)
        self._record_fill(
            order,
            price,
            quantity,
            quote_qty,
            realized_pnl=realized,
            commission=fee,
            commission_asset=self.asset,
            maker=maker,
            now_ms=now_ms,
        )
        if order.symbol not in self.positions:
            self._position_closed(order.symbol, now_ms)

    def _apply_to_position(self, symbol: str, delta: Decimal, price: Decimal, now_ms: int) -> Decimal:
        """Move the one-way position by ``delta`` at ``now_ms``; return the realised PnL."""
        self._touch(symbol)
        position = self.positions.get(symbol)
        if position is None:
            self.positions[symbol] = Position(symbol, delta, price, self.now(), now_ms)
            self.positions_opened += 1
            return ZERO
        current = position.quantity
        new_quantity = current + delta
        position.updated_ms = now_ms
        if (current > 0) == (delta > 0):
            position.entry_price = (abs(current) * position.entry_price + abs(delta) * price) / abs(
                new_quantity
            )
            position.quantity = new_quantity
            return ZERO
        closing = min(abs(delta), abs(current))
        realized = closing * (price - position.entry_price) * (1 if current > 0 else -1)
        if new_quantity == 0:
            del self.positions[symbol]
        elif (new_quantity > 0) != (current > 0):
            position.quantity = new_quantity
            position.entry_price = price
            position.opened_at = self.now()
            self.positions_opened += 1
        else:
            position.quantity = new_quantity
        return realized

    def _position_closed(self, symbol: str, now_ms: int) -> None:
        if not self.expire_protective_orders_on_close:
            return
        for order in self.open_orders(symbol):
            if order.reduce_only or order.close_position:
                self._close(order, "expired", now_ms)

    def open_order_margin(self, instrument_id: str) -> Decimal:
        """Margin held by resting limit orders that would add to a position on one symbol."""
        reserve = self._reserves.get(instrument_id)
        return reserve.total() if reserve is not None else ZERO

    def _open_order_margin_total(self) -> Decimal:
        # The symbols in the order their first resting order was placed, as the book always
        # added them: with margins of 28 digits the sum's last digit depends on it.
        reserves = sorted(self._reserves.values(), key=lambda reserve: reserve.first_placed)
        total = ZERO
        for reserve in reserves:
            total += reserve.total()
        return total

    def _hold(self, order: Order, key: tuple[str, str] | None = None, sequence: int | None = None) -> None:
        """Bring the margin ``order`` holds up to date after its status, size, price or its
        symbol's leverage changed: a resting limit that would add to the position holds
        remaining x price / leverage; anything else holds none."""
        if key is None:
            key = (order.channel, order.id)
        reserve = self._reserves.get(order.symbol)
        if order.kind == "limit" and not order.reduce_only and order.price is not None and order.is_open:
            margin = order.remaining * order.price / self.leverage(order.symbol)
            if reserve is None:
                reserve = self._reserves[order.symbol] = _Reserve()
            if key in reserve.held:
                reserve.change(key, margin)
                return
            if sequence is None:
                sequence = self._placed_count = self._placed_count + 1
            reserve.add(key, sequence, order, margin)
            return
        if reserve is not None and key in reserve.held and reserve.held[key][1] is order:
            reserve.release(key)
            if not reserve.held:
                # Nothing left to sum: the next order starts from a plain zero again, not
                # from the exponent of every margin that passed through.
                del self._reserves[order.symbol]

    def _close(self, order: Order, status: Literal["canceled", "expired"], now_ms: int) -> None:
        if _protective(order):
            self._stop_may_leave(order)
        order.status = status
        order.updated_ms = now_ms
        self._hold(order)

    def _store(self, order: Order) -> None:
        key = (order.channel, order.id)
        replaced = self.orders.get(key)
        if replaced is not None and self._stops.get(key) is replaced:
            self._touch(replaced.symbol)
            del self._stops[key]
            self._cover[(replaced.symbol, replaced.side)].remove(replaced)
        if _protective(order):
            self._stop_placed(key, order)
        self.orders[key] = order
        self._live[key] = order
        if replaced is None:
            self._by_client_id.setdefault((order.channel, order.client_order_id), []).append(order)
            self._hold(order)
        else:
            # Two symbols' id sequences met: the new order took the old one's place in
            # ``orders``, so the index is rebuilt in that order, and the margins in the open
            # orders' order.
            self._by_client_id = {}
            for stored in self.orders.values():
                self._by_client_id.setdefault((stored.channel, stored.client_order_id), []).append(stored)
            self._reserves = {}
            for live in self._open_orders():
                self._hold(live)

    def _open_orders(self) -> list[Order]:
        for key in [key for key, order in self._live.items() if not order.is_open]:
            # An order a venue closed without telling the book lets go of its margin here.
            self._hold(self._live.pop(key), key)
        return list(self._live.values())

    def _liquidation_price(self, instrument: Instrument, position: Position) -> Decimal:
        """Cross-margin liquidation price of this position, the others held at their marks."""
        others_pnl = ZERO
        others_maint = ZERO
        for other in self.positions.values():
            if other.symbol == instrument.id:
                continue
            other_instrument = self.instruments[other.symbol]
            mark = self.marks[other.symbol]
            notional = abs(other.quantity) * mark
            tier = other_instrument.tier_for(notional)
            others_pnl += other.quantity * (mark - other.entry_price)
            others_maint += notional * tier.maint_margin_ratio - tier.cum
        quantity = abs(position.quantity)
        side = 1 if position.quantity > 0 else -1
        tier = instrument.tier_for(quantity * self.marks[instrument.id])
        numerator = (
            self.wallet_balance
            + others_pnl
            - others_maint
            + tier.cum
            - side * quantity * position.entry_price
        )
        denominator = quantity * tier.maint_margin_ratio - side * quantity
        if denominator == 0:
            return ZERO
        price = numerator / denominator
        return price if price > 0 else ZERO

    def _break_even(self, position: Position) -> Decimal:
        # Opening and closing both pay the taker fee.
        if position.quantity > 0:
            return position.entry_price * (1 + self.taker_fee) / (1 - self.taker_fee)
        return position.entry_price * (1 - self.taker_fee) / (1 + self.taker_fee)


class _Cover:
    """What the open protective stops on one side of one symbol cover: the sum of the
    reduce-only ones' sizes, and how many close the whole position."""

    __slots__ = ("closing", "quantity")

    def __init__(self) -> None:
        self.quantity = ZERO
        self.closing = 0

    def add(self, order: Order) -> None:
        if order.close_position:
            self.closing += 1
        else:
            self.quantity += order.quantity

    def remove(self, order: Order) -> None:
        if order.close_position:
            self.closing -= 1
        else:
            self.quantity -= order.quantity


def _protective(order: Order) -> bool:
    """A stop that may cover a position: a stop kind sent reduce-only or close-position."""
    return order.kind in STOP_KINDS and (order.reduce_only or order.close_position)


class ListingVenue(Venue):
    """A venue whose trader's views come straight from one :class:`Listing`, a derivatives
    :class:`Book` or a spot book (whose holdings show as long positions)."""

    listing: Listing

    def unprotected_intervals(self) -> list[UnprotectedInterval]:
        return self.listing.naked_intervals(self.id, self.context.now())

    def positions_opened(self) -> int:
        return self.listing.positions_opened

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        return self.listing.order_views(symbol)

    def positions(self) -> list[PositionView]:
        return self.listing.position_views()

    def set_price(self, symbol: str, price: float) -> None:
        self.listing.set_mark(symbol, price)


class BookVenue(ListingVenue):
    """A venue whose state is a :class:`Book` (its ``listing``)."""

    book: Book
