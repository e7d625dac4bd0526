"""What the matching engine did, as typed events (pure): an order filled, closed or
triggered, each with its event time (integer ns of the trade or moment that caused it).

The engine appends them to `MatchingEngine.events` in the order they happened; whoever
stores them (the hook) drains that list and writes each event as it is. A fill carries the
balance moves it made, so a store applies them instead of computing the money again.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tickstream.trading.core.orders import Side, Status

ZERO = Decimal(0)


class Liquidity(StrEnum):
    MAKER = "maker"  # a resting limit the trade reached
    TAKER = "taker"  # a market order, or a limit through the market when it arrived


@dataclass(frozen=True, slots=True)
class BalanceMove:
    """How one balance of the account changed: signed changes of `available` and
    `reserved`, and the fee paid out of it."""

    currency: str
    available: Decimal = ZERO
    reserved: Decimal = ZERO
    fees: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Fill:
    order: int
    account: int
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    liquidity: Liquidity
    trade: str  # the trade that caused it


@dataclass(frozen=True, slots=True)
class OrderFilled:
    """`fill` happened: `released` left the order's reservation, and `moves` are the
    balance changes it made (what was reserved went out, the proceeds came in)."""

    fill: Fill
    released: Decimal
    moves: tuple[BalanceMove, ...]
    ts_event: int

    @property
    def order(self) -> int:
        return self.fill.order


@dataclass(frozen=True, slots=True)
class OrderClosed:
    """The order ended (`status`), for `reason`, its reservation released."""

    order: int
    status: Status
    reason: str
    ts_event: int


@dataclass(frozen=True, slots=True)
class OrderTriggered:
    """A stop's price was reached: it became a market or limit order."""

    order: int
    ts_event: int


OrderEvent = OrderFilled | OrderClosed | OrderTriggered
