"""Instruments and the market data tickstream stores: candles, latest quotes, raw ticks."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from tickstream.fields import ExactDecimalField
from tickstream.market.core.analytics.quote import percent_change
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec

SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9.\-_]{0,31}$"
PRICE = {"max_digits": 24, "decimal_places": 10}
QUANTITY = {"max_digits": 32, "decimal_places": 10}


def plain(value: Decimal) -> Decimal:
    """A decimal without the column's padding: `0.0100000000` -> `0.01`, `100.00` -> `100`.

    Prices are built as multiples of the tick size, so its exponent is what they print with.
    """
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal.as_tuple().exponent > 0 else normal  # type: ignore[operator]


class Instrument(models.Model):
    """A tradable thing: a stock or a crypto pair."""

    class Kind(models.TextChoices):
        STOCK = InstrumentKind.STOCK.value, "Stock"
        CRYPTO = InstrumentKind.CRYPTO.value, "Crypto"
        FX = InstrumentKind.FX.value, "Exchange rate"

    symbol = models.CharField(
        max_length=32,
        unique=True,
        validators=[
            RegexValidator(SYMBOL_PATTERN, "Upper-case letters, digits and . - _ only, at most 32.")
        ],
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    quote_currency = models.CharField(max_length=10, default="USD")
    tick_size = ExactDecimalField(
        **PRICE, default=Decimal("0.01"), validators=[MinValueValidator(Decimal("1e-10"))]
    )
    quantity_step = ExactDecimalField(
        **PRICE, default=Decimal("1"), validators=[MinValueValidator(Decimal("1e-10"))]
    )
    reference_price = ExactDecimalField(
        **PRICE,
        default=Decimal("100"),
        validators=[MinValueValidator(Decimal("1e-10"))],
        help_text="Where the simulated market starts this instrument.",
    )
    volatility = models.FloatField(
        default=0.3,
        validators=[MinValueValidator(0.0)],
        help_text="Annualised volatility the simulated market uses.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]
        permissions = [("publish_ticks", "Can publish ticks through the ingest API")]

    def __str__(self) -> str:
        return self.symbol

    @classmethod
    def from_spec(cls, spec: InstrumentSpec) -> Instrument:
        """An unsaved instrument described by a pure spec."""
        return cls(
            symbol=spec.symbol,
            name=spec.name,
            kind=spec.kind.value,
            quote_currency=spec.quote_currency,
            tick_size=spec.tick_size,
            quantity_step=spec.quantity_step,
            reference_price=spec.start_price,
            volatility=spec.volatility,
            active=spec.active,
        )

    def spec(self) -> InstrumentSpec:
        """The pure description the market core works with."""
        return InstrumentSpec(
            symbol=self.symbol,
            name=self.name,
            kind=InstrumentKind(self.kind),
            quote_currency=self.quote_currency,
            tick_size=plain(self.tick_size),
            quantity_step=plain(self.quantity_step),
            start_price=plain(self.reference_price),
            volatility=self.volatility,
            active=self.active,
        )


class Candle(models.Model):
    """An OHLCV bar of one instrument and interval; `closed` is False for the forming one."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="candles")
    interval = models.CharField(max_length=8)
    start = models.DateTimeField()
    open = ExactDecimalField(**PRICE)
    high = ExactDecimalField(**PRICE)
    low = ExactDecimalField(**PRICE)
    close = ExactDecimalField(**PRICE)
    volume = ExactDecimalField(**QUANTITY)
    trades = models.PositiveIntegerField(default=0)
    closed = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "interval", "start"], name="candle_unique_bucket"
            )
        ]
        ordering = ["instrument", "interval", "start"]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.interval} {self.start:%Y-%m-%d %H:%M:%S}"


class Quote(models.Model):
    """The latest session quote of an instrument, kept current by the batch writer."""

    instrument = models.OneToOneField(
        Instrument, on_delete=models.CASCADE, primary_key=True, related_name="quote"
    )
    last = ExactDecimalField(**PRICE)
    open = ExactDecimalField(**PRICE)
    high = ExactDecimalField(**PRICE)
    low = ExactDecimalField(**PRICE)
    prev_close = ExactDecimalField(**PRICE, null=True, blank=True)
    volume = ExactDecimalField(**QUANTITY)
    vwap = ExactDecimalField(**PRICE, null=True, blank=True)
    trades = models.PositiveIntegerField(default=0)
    time = models.DateTimeField()
    # The feed of the last trade (`sim`, a venue such as `binance`, `api`, a replayed file).
    source = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ["instrument"]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.last}"

    @property
    def reference(self) -> Decimal:
        """The price change is measured against: the previous close, else the session open."""
        return self.prev_close if self.prev_close is not None else self.open

    @property
    def change(self) -> Decimal:
        return self.last - self.reference

    @property
    def change_pct(self) -> Decimal | None:
        ref = self.reference
        return percent_change(self.last - ref, ref) if ref else None


class Trade(models.Model):
    """A raw tick, stored only when MARKET_STORE_TICKS is on."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="trades")
    price = ExactDecimalField(**PRICE)
    size = ExactDecimalField(**QUANTITY)
    ts_event = models.DateTimeField()
    ts_recv = models.DateTimeField()
    source = models.CharField(max_length=32)
    trade_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["instrument", "ts_event"], name="trade_instrument_time")]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.price} x {self.size}"


class Cryptocurrency(models.Model):
    """The latest price of each crypto instrument, in the shape of the crypto-trading
    tutorial's model (name, price, timestamp); the batch writer keeps it current."""

    name = models.CharField(max_length=50, unique=True)
    instrument = models.OneToOneField(
        Instrument, on_delete=models.CASCADE, related_name="cryptocurrency"
    )
    price = ExactDecimalField(**PRICE)
    timestamp = models.DateTimeField()

    class Meta:
        verbose_name_plural = "cryptocurrencies"

    def __str__(self) -> str:
        return self.name


class ReferenceRate(models.Model):
    """A daily reference rate: units of `currency` per 1 EUR, as the European Central Bank
    fixed it on `day` (tickstream/market/core/fx.py says how days without a fixing and
    cross rates are read)."""

    day = models.DateField()
    currency = models.CharField(max_length=3)
    per_euro = ExactDecimalField(**PRICE)

    class Meta:
        ordering = ["currency", "day"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "day"], name="reference_rate_unique_day")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.currency} {self.per_euro}"
