"""Instrument specifications and the default universe (pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum


class InstrumentKind(StrEnum):
    STOCK = "stock"
    CRYPTO = "crypto"
    FX = "fx"  # an exchange rate: `EUR-USD` is the price of 1 EUR in USD


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """What the market core needs to know of an instrument."""

    symbol: str
    name: str
    kind: InstrumentKind
    quote_currency: str = "USD"
    tick_size: Decimal = Decimal("0.01")
    quantity_step: Decimal = Decimal("1")
    start_price: Decimal = Decimal("100")
    volatility: float = 0.3  # annualised, used by the simulated market
    active: bool = True

    def round_price(self, price: Decimal) -> Decimal:
        """Round a price to the nearest multiple of the tick size (never below one tick)."""
        steps = (price / self.tick_size).to_integral_value(rounding=ROUND_HALF_EVEN)
        return max(steps, Decimal(1)) * self.tick_size

    def round_quantity(self, quantity: Decimal) -> Decimal:
        """Round a quantity to the nearest multiple of the quantity step (at least one step)."""
        steps = (quantity / self.quantity_step).to_integral_value(rounding=ROUND_HALF_EVEN)
        return max(steps, Decimal(1)) * self.quantity_step


def _stock(
    symbol: str,
    name: str,
    price: str,
    vol: float,
    currency: str = "USD",
    tick: str = "0.01",
    step: str = "1",
) -> InstrumentSpec:
    return InstrumentSpec(
        symbol,
        name,
        InstrumentKind.STOCK,
        currency,
        Decimal(tick),
        Decimal(step),
        Decimal(price),
        vol,
    )


def _fx(symbol: str, name: str, price: str, vol: float, tick: str) -> InstrumentSpec:
    return InstrumentSpec(
        symbol,
        name,
        InstrumentKind.FX,
        symbol.split("-")[1],
        Decimal(tick),
        Decimal("1"),
        Decimal(price),
        vol,
    )


def _crypto(symbol: str, name: str, price: str, vol: float, tick: str, step: str) -> InstrumentSpec:
    return InstrumentSpec(
        symbol,
        name,
        InstrumentKind.CRYPTO,
        "USD",
        Decimal(tick),
        Decimal(step),
        Decimal(price),
        vol,
    )


# Starting prices and annualised volatilities are round figures of the kind these
# instruments have shown; the simulated market only needs them to be plausible.
DEFAULT_UNIVERSE: tuple[InstrumentSpec, ...] = (
    _stock("AAPL", "Apple Inc.", "228.50", 0.26),
    _stock("MSFT", "Microsoft Corporation", "418.20", 0.24),
    _stock("NVDA", "NVIDIA Corporation", "135.40", 0.52),
    _stock("AMZN", "Amazon.com, Inc.", "186.30", 0.32),
    _stock("GOOGL", "Alphabet Inc. Class A", "164.70", 0.30),
    _stock("META", "Meta Platforms, Inc.", "560.10", 0.36),
    _stock("TSLA", "Tesla, Inc.", "248.90", 0.58),
    _stock("BRK.B", "Berkshire Hathaway Inc. Class B", "452.60", 0.16),
    _stock("JPM", "JPMorgan Chase & Co.", "212.40", 0.22),
    _stock("V", "Visa Inc.", "283.70", 0.19),
    _stock("JNJ", "Johnson & Johnson", "161.20", 0.16),
    _stock("WMT", "Walmart Inc.", "80.50", 0.18),
    _stock("XOM", "Exxon Mobil Corporation", "118.30", 0.24),
    _stock("UNH", "UnitedHealth Group Incorporated", "590.80", 0.24),
    _stock("PG", "The Procter & Gamble Company", "171.40", 0.15),
    _stock("HD", "The Home Depot, Inc.", "395.60", 0.22),
    _stock("KO", "The Coca-Cola Company", "70.10", 0.14),
    _stock("DIS", "The Walt Disney Company", "95.80", 0.28),
    _stock("NFLX", "Netflix, Inc.", "705.30", 0.38),
    _stock("INTC", "Intel Corporation", "22.60", 0.45),
    _stock("AMD", "Advanced Micro Devices, Inc.", "152.90", 0.50),
    _stock("ORCL", "Oracle Corporation", "172.80", 0.30),
    _stock("IBM", "International Business Machines Corporation", "214.50", 0.21),
    _stock("SPY", "SPDR S&P 500 ETF Trust", "572.40", 0.15),
    # Quoted in their own currencies, at their exchanges' usual price steps (Xetra and
    # Euronext: 0.01 EUR at these prices, London: half a penny, Tokyo: 0.5 JPY and lots of
    # 100 shares).
    _stock("SAP.DE", "SAP SE", "236.40", 0.24, "EUR"),
    _stock("ASML.AS", "ASML Holding N.V.", "642.80", 0.38, "EUR"),
    _stock("SHEL.L", "Shell plc", "26.615", 0.22, "GBP", "0.005"),
    _stock("7203.T", "Toyota Motor Corporation", "2890.5", 0.26, "JPY", "0.5", "100"),
    # Exchange rates: the price of one unit of the first currency in the second.
    _fx("EUR-USD", "Euro / US Dollar", "1.11720", 0.07, "0.00001"),
    _fx("GBP-USD", "British Pound / US Dollar", "1.33990", 0.08, "0.00001"),
    _fx("USD-JPY", "US Dollar / Japanese Yen", "157.250", 0.10, "0.001"),
    _crypto("BTC-USD", "Bitcoin", "67250.00", 0.60, "0.01", "0.00001"),
    _crypto("ETH-USD", "Ethereum", "2650.00", 0.70, "0.01", "0.0001"),
    _crypto("SOL-USD", "Solana", "152.00", 0.90, "0.01", "0.001"),
    _crypto("XRP-USD", "XRP", "0.5400", 0.80, "0.0001", "0.1"),
    _crypto("ADA-USD", "Cardano", "0.3500", 0.85, "0.0001", "0.1"),
    _crypto("DOGE-USD", "Dogecoin", "0.11000", 1.00, "0.00001", "1"),
    _crypto("LTC-USD", "Litecoin", "68.50", 0.75, "0.01", "0.001"),
    _crypto("LINK-USD", "Chainlink", "11.200", 0.90, "0.001", "0.01"),
    _crypto("DOT-USD", "Polkadot", "4.300", 0.90, "0.001", "0.01"),
    _crypto("AVAX-USD", "Avalanche", "26.50", 0.95, "0.01", "0.001"),
    _crypto("BCH-USD", "Bitcoin Cash", "345.00", 0.80, "0.01", "0.0001"),
    _crypto("XLM-USD", "Stellar", "0.09500", 0.85, "0.00001", "1"),
)
