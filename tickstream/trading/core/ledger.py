"""Paper balances (pure): per account and currency, `available` and `reserved`, exact.

Funds are reserved when an order is placed and released when it closes; a fill moves
reserved funds out and proceeds in. Nothing is created or lost: for every account and
currency, available + reserved + fees paid = deposits - withdrawals + what fills moved.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from tickstream.trading.core.events import BalanceMove

ZERO = Decimal(0)
Key = tuple[int, str]  # (account, currency)


class LedgerError(ValueError):
    code = "invalid"


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"


@dataclass(slots=True)
class Balance:
    available: Decimal = ZERO
    reserved: Decimal = ZERO


class Ledger:
    """Every account's balances, with the totals that prove conservation."""

    def __init__(self) -> None:
        self.balances: dict[Key, Balance] = defaultdict(Balance)
        self.deposited: dict[Key, Decimal] = defaultdict(Decimal)
        self.moved: dict[Key, Decimal] = defaultdict(Decimal)  # by fills: + in, - out
        self.fees: dict[Key, Decimal] = defaultdict(Decimal)

    def balance(self, account: int, currency: str) -> Balance:
        return self.balances[(account, currency)]

    def deposit(self, account: int, currency: str, amount: Decimal) -> None:
        """Paper cash (or an asset) in; a negative amount is a withdrawal of what is
        available."""
        b = self.balances[(account, currency)]
        if amount < 0 and b.available < -amount:
            raise InsufficientFunds(f"{-amount} {currency} is more than is available")
        b.available += amount
        self.deposited[(account, currency)] += amount

    def reserve(self, account: int, currency: str, amount: Decimal) -> None:
        b = self.balances[(account, currency)]
        if amount < 0:
            raise LedgerError("a reservation is never negative")
        if b.available < amount:
            raise InsufficientFunds(
                f"{amount} {currency} needed, {b.available} {currency} available"
            )
        b.available -= amount
        b.reserved += amount

    def release(self, account: int, currency: str, amount: Decimal) -> None:
        b = self.balances[(account, currency)]
        if amount < 0 or amount > b.reserved:
            raise LedgerError(f"cannot release {amount} {currency} of {b.reserved} reserved")
        b.reserved -= amount
        b.available += amount

    def spend(
        self, account: int, currency: str, amount: Decimal, fee: Decimal = ZERO
    ) -> BalanceMove:
        """A fill takes `amount` (and `fee`) out of what was reserved; the move made."""
        b = self.balances[(account, currency)]
        if amount + fee > b.reserved:
            raise LedgerError(f"a fill spends {amount + fee} {currency} of {b.reserved} reserved")
        b.reserved -= amount + fee
        self.moved[(account, currency)] -= amount
        self.fees[(account, currency)] += fee
        return BalanceMove(currency, reserved=-(amount + fee), fees=fee)

    def receive(
        self, account: int, currency: str, amount: Decimal, fee: Decimal = ZERO
    ) -> BalanceMove:
        """A fill brings `amount` in, less `fee`; the move made."""
        b = self.balances[(account, currency)]
        b.available += amount - fee
        self.moved[(account, currency)] += amount
        self.fees[(account, currency)] += fee
        return BalanceMove(currency, available=amount - fee, fees=fee)

    def conserved(self) -> bool:
        """available + reserved + fees = deposits + moved, for every account and currency,
        and no balance below zero."""
        keys = set(self.balances) | set(self.deposited) | set(self.moved) | set(self.fees)
        for key in keys:
            b = self.balances[key]
            if b.available < 0 or b.reserved < 0:
                return False
            if b.available + b.reserved + self.fees[key] != self.deposited[key] + self.moved[key]:
                return False
        return True
