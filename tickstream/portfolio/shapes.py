"""What portfolios and their transactions are sent as, once for REST and the OpenAPI
schema (`common/shapes.py`)."""

from __future__ import annotations

from tickstream.common.shapes import Out, Shape
from tickstream.market.core.messages import decimal_str
from tickstream.market.core.ticks import datetime_to_iso
from tickstream.portfolio.core.costbasis import Kind, Method

KINDS = [k.value for k in Kind]  # one enum in the schema (settings.ENUM_NAME_OVERRIDES)

_HEADER = {
    "id": Out(lambda p: p.pk, "int"),
    "name": Out(lambda p: p.name),
    "currency": Out(lambda p: p.currency),
    "method": Out(lambda p: p.method, "choice", choices=tuple(m.value for m in Method)),
    "benchmark": Out(
        lambda p: p.benchmark.symbol if p.benchmark_id else None,
        null=True,
        help="the instrument its returns are compared with",
    ),
    "revision": Out(
        lambda p: p.revision, "int", help="one more on every change of its transactions or method"
    ),
}

# What a valuation and the live channel name their portfolio by.
HEADER = Shape("PortfolioHeader", _HEADER)

PORTFOLIO = Shape(
    "Portfolio",
    {**_HEADER, "created_at": Out(lambda p: datetime_to_iso(p.created_at), "time")},
)

TRANSACTION = Shape(
    "Transaction",
    {
        "id": Out(lambda t: t.pk, "int"),
        "kind": Out(lambda t: t.kind, "choice", choices=tuple(KINDS)),
        "symbol": Out(lambda t: t.instrument.symbol if t.instrument_id else "", help="trades only"),
        "quantity": Out(
            lambda t: decimal_str(t.quantity), "decimal", help="shares; a split's ratio; cash"
        ),
        "price": Out(lambda t: decimal_str(t.price), "decimal", help="per share"),
        "fee": Out(lambda t: decimal_str(t.fee), "decimal"),
        "time": Out(lambda t: datetime_to_iso(t.time), "time"),
        "note": Out(lambda t: t.note),
        "currency": Out(
            lambda t: t.currency or t.portfolio.currency, help="of price, fee and amount"
        ),
        "rate": Out(
            lambda t: decimal_str(t.rate),
            "decimal",
            help="units of the portfolio's currency per unit of `currency` at its time",
        ),
    },
)

# A checked transaction before it is stored (an import's preview): no id yet.
RECORD = Shape(
    "TransactionRecord",
    {
        "kind": Out(lambda r: r.kind.value, "choice", choices=tuple(KINDS)),
        "symbol": Out(lambda r: r.symbol),
        "quantity": Out(lambda r: decimal_str(r.quantity), "decimal"),
        "price": Out(lambda r: decimal_str(r.price), "decimal"),
        "fee": Out(lambda r: decimal_str(r.fee), "decimal"),
        "time": Out(lambda r: datetime_to_iso(r.time), "time"),
        "note": Out(lambda r: r.note),
        "currency": Out(lambda r: r.currency, help="blank: the instrument's or portfolio's"),
        "rate": Out(
            lambda r: None if r.rate is None else decimal_str(r.rate),
            "decimal",
            help="null: the reference rate of its day",
            null=True,
        ),
    },
)
