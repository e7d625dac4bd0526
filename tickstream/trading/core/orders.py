"""Orders of the paper venue and their state machine (pure: no Django, no asyncio).

Every status change goes through `transition`, which refuses what the table does not
allow: a filled order is never cancelled, a cancelled one never fills.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"  # a market order once the stop price trades
    STOP_LIMIT = "stop_limit"  # a limit order once the stop price trades


class TimeInForce(StrEnum):
    GTC = "GTC"  # until cancelled
    IOC = "IOC"  # what fills on the first matching trade; the rest is cancelled
    FOK = "FOK"  # all on one trade, or nothing
    DAY = "DAY"  # until the session ends


class Status(StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"


OPEN = frozenset({Status.NEW, Status.PARTIALLY_FILLED})

# The allowed transitions, in one table.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset(
        {Status.PARTIALLY_FILLED, Status.FILLED, Status.CANCELLED, Status.REJECTED, Status.EXPIRED}
    ),
    Status.PARTIALLY_FILLED: frozenset(
        {Status.PARTIALLY_FILLED, Status.FILLED, Status.CANCELLED, Status.EXPIRED}
    ),
    Status.FILLED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.REJECTED: frozenset(),
    Status.EXPIRED: frozenset(),
}


class OrderStateError(RuntimeError):
    """A transition the state machine does not allow (a bug, never an input)."""


def check_transition(order_id: int, current: Status, new: Status) -> None:
    """Raise OrderStateError unless the table allows `current` -> `new`."""
    if new not in TRANSITIONS[current]:
        raise OrderStateError(f"order {order_id}: {current} -> {new} is not allowed")


@dataclass(slots=True)
class Order:
    """An order as the engine holds it."""

    id: int
    account: int
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    price: Decimal | None = None  # limit price (limit, stop_limit)
    stop_price: Decimal | None = None  # trigger (stop, stop_limit)
    tif: TimeInForce = TimeInForce.GTC
    filled: Decimal = ZERO
    status: Status = Status.NEW
    triggered: bool = False  # a stop whose stop price has traded
    queue_ahead: Decimal = ZERO  # volume to trade at the limit price before this fills there
    notional: Decimal = ZERO  # sum of its fills' price x quantity
    taker_notional: Decimal = ZERO  # the part of `notional` filled as taker
    fees: Decimal = ZERO  # charged so far: the order's fee, rounded up, at its last fill
    seq: int = 0  # arrival order among orders at one price

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def limit(self) -> Decimal | None:
        """The price it rests at, once active: limits and triggered stop-limits."""
        if self.type is OrderType.LIMIT or (self.type is OrderType.STOP_LIMIT and self.triggered):
            return self.price
        return None

    def transition(self, status: Status) -> None:
        check_transition(self.id, self.status, status)
        self.status = status
