"""Transactions in other currencies than the portfolio's (pure): every figure at the rate
of the transaction that made it, realized gains split into price and currency effect,
cash held per currency, valuation at today's rate; and a portfolio all in one other
currency at one rate is exactly the same portfolio in its own currency, scaled."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.portfolio.core.test_costbasis import _t, histories
from tickstream.portfolio.core.costbasis import Kind, Method, Transaction, compute
from tickstream.portfolio.core.valuation import Basis, Rate, Valuation, fx_legs


def eur(kind: Kind, day: int, qty: str, price: str = "0", fee: str = "0", rate: str = "1.1"):  # type: ignore[no-untyped-def]
    symbol = "SAP.DE" if kind in (Kind.BUY, Kind.SELL) else ""
    return Transaction(kind, _t(day), symbol, D(qty), D(price), D(fee), f"t{day}", "EUR", D(rate))


def test_a_lot_costs_its_buys_rate_and_a_sale_gains_at_its_own() -> None:
    book = compute(
        [
            eur(Kind.BUY, 0, "10", "200", "5", rate="1.10"),
            eur(Kind.SELL, 1, "4", "220", "2", rate="1.20"),
        ],
        Method.FIFO,
    )
    (sale,) = book.sales
    # 10 x 200 + 5 = 2005 EUR at 1.10 = 2205.50 USD; 4 of 10 cost 882.20 USD (802 EUR)
    assert book.bought == D("2205.50") and sale.cost == D("882.20")
    assert sale.native_cost == D("802") and sale.native_proceeds == D("878")
    # 878 EUR at 1.20 = 1053.60 USD: a gain of 171.40, 80.20 of it the euro's rise
    assert sale.proceeds == D("1053.60") and sale.realized == D("171.40")
    assert sale.currency_effect == D("80.20")
    assert sale.realized - sale.currency_effect == (D("878") - D("802")) * D("1.20")
    # The euros paid for the buy came from the portfolio's cash (money brought in); the
    # sale's euros stay euros.
    assert book.implicit == D("2205.50") and book.cash == 0
    assert book.foreign == {"EUR": D("878")}
    assert book.fees == D("5") * D("1.10") + D("2") * D("1.20")


def test_a_buy_spends_the_currencys_cash_first_then_converts_the_rest() -> None:
    book = compute(
        [
            Transaction(Kind.DEPOSIT, _t(0), quantity=D("1000"), ref="a"),
            eur(Kind.DEPOSIT, 1, "300", rate="1.05"),
            eur(Kind.BUY, 2, "2", "200", rate="1.10"),  # 400 EUR: 300 held, 100 converted
            eur(Kind.DIVIDEND, 3, "10", fee="1.5", rate="1.12"),
        ],
        Method.FIFO,
    )
    assert book.foreign == {"EUR": D("8.5")}
    assert book.cash == D("1000") - D("100") * D("1.10")
    assert book.deposits == D("1000") + D("300") * D("1.05")
    assert book.dividends == D("10") * D("1.12") and book.implicit == 0


def test_valuation_at_todays_rate_splits_price_and_currency_effect() -> None:
    book = compute(
        [
            eur(Kind.BUY, 0, "10", "200", "5", rate="1.10"),
            eur(Kind.SELL, 1, "4", "220", "2", rate="1.20"),
        ],
        Method.FIFO,
    )
    basis = Basis.of(book)
    assert basis.currencies() == {"EUR"}
    valuation = Valuation(
        basis,
        header={"currency": "USD"},
        rates=[Rate("EUR", D("1.15"), (("EUR-USD", 1),))],
    )
    assert valuation.symbols() == {"SAP.DE", "EUR-USD"}
    assert valuation.totals()["cash"] == "1009.70"  # 878 EUR at the fallback 1.15
    valuation.mark("SAP.DE", D("250"), D("240"))
    valuation.mark("EUR-USD", D("1.25"), D("1.24"))
    (held,) = valuation.holdings()
    # 6 x 250 = 1500 EUR at 1.25 = 1875 USD; cost 2205.50 - 882.20 = 1323.30 (1203 EUR)
    assert held["market_value"] == "1875.00" and held["cost_basis"] == "1323.30"
    assert held["unrealized_pnl"] == "551.70"
    assert held["price_effect"] == "371.25" and held["currency_effect"] == "180.45"
    # the day: 1875 now against 6 x 240 EUR at 1.24 = 1785.60 at yesterday's close
    assert held["day_change"] == "89.40"
    totals = valuation.totals()
    assert totals["cash"] == "1097.50" and totals["value"] == "2972.50"
    assert totals["day_change"] == "89.40"
    # The rate moves alone: the holding and the euros move with it, in O(1).
    assert valuation.mark("EUR-USD", D("1.30"), D("1.24"))
    assert valuation.totals()["value"] == str(D("1500") * D("1.30") + D("878") * D("1.30"))[:7]
    again = Valuation(basis, header={"currency": "USD"}, rates=[Rate("EUR", D("1.30"))])
    again.mark("SAP.DE", D("250"), D("240"))
    assert again.totals()["value"] == valuation.totals()["value"]


def test_the_legs_of_a_rate() -> None:
    pairs = {"EUR-USD": ("EUR", "USD"), "USD-JPY": ("USD", "JPY"), "GBP-USD": ("GBP", "USD")}
    assert fx_legs("EUR", "USD", pairs) == (("EUR-USD", 1),)
    assert fx_legs("USD", "EUR", pairs) == (("EUR-USD", -1),)
    assert fx_legs("JPY", "EUR", pairs) == (("USD-JPY", -1), ("EUR-USD", -1))
    assert fx_legs("CHF", "USD", pairs) == ()
    basis = Basis(foreign=(("JPY", D("1000000")),))
    valuation = Valuation(
        basis,
        header={"currency": "EUR"},
        rates=[Rate("JPY", D("0.0056"), fx_legs("JPY", "EUR", pairs))],
    )
    assert valuation.totals()["cash"] == "5600.00"
    valuation.mark("USD-JPY", D("160"))
    assert valuation.totals()["cash"] == "5600.00"  # until every leg has a price
    valuation.mark("EUR-USD", D("1.25"))
    assert valuation.totals()["cash"] == "5000.00"  # 1,000,000 / 160 / 1.25


@settings(max_examples=100, deadline=None)
@given(
    txs=histories(),
    method=st.sampled_from(list(Method)),
    rate=st.decimals(min_value=D("0.001"), max_value=D("500"), places=4),
    deposit=st.decimals(min_value=D(0), max_value=D("100000"), places=2),
)
def test_all_in_one_other_currency_at_one_rate_is_the_same_portfolio_scaled(
    txs: list[Transaction], method: Method, rate: D, deposit: D
) -> None:
    """The same history in the portfolio's currency and in EUR at one rate: every figure
    is the first times the rate, the cash the first held is held in euros. A part of a
    lot's cost is rounded at the store's ten decimals in each currency on its own, so the
    costs of sales agree to 1e-10 per lot consumed (times the rate), and no closer."""
    head = [Transaction(Kind.DEPOSIT, _t(0) - 1, quantity=deposit, ref="d")] if deposit else []
    own = compute(head + txs, method)
    foreign = compute([replace(t, currency="EUR", rate=rate) for t in head + txs], method)
    for name in ("bought", "deposits", "dividends", "fees", "implicit"):
        assert getattr(foreign, name) == getattr(own, name) * rate, name
    parts = sum(len(s.lots) for s in own.sales)
    tolerance = parts * (D("1e-10") * rate + D("1e-10"))
    assert abs(foreign.sold_cost - own.sold_cost * rate) <= tolerance
    assert abs(foreign.realized - own.realized * rate) <= tolerance
    assert foreign.cash == 0 and foreign.foreign.get("EUR", D(0)) == own.cash
    for symbol, holding in own.holdings.items():
        other = foreign.holdings[symbol]
        assert other.quantity == holding.quantity and other.native == holding.cost
        assert abs(other.cost - holding.cost * rate) <= tolerance
    for a, b in zip(own.sales, foreign.sales, strict=True):
        assert b.native_proceeds == a.proceeds and b.native_cost == a.cost
        assert b.currency_effect == b.native_cost * rate - b.cost


def test_each_days_value_at_that_days_rate_and_the_gain_split() -> None:
    """Day 0: 1000 EUR deposited (rate 1.10) and 2 SAP.DE bought at 400 EUR: 200 EUR cash.
    Day 1: SAP.DE closes at 410, the rate is 1.20. Day 2: 410 again, the rate 1.00."""
    from datetime import date, timedelta

    from tickstream.portfolio.core.history import daily_values, day_of, period_returns

    day0 = day_of(_t(0))
    rates = {day0: D("1.10"), day0 + timedelta(1): D("1.20"), day0 + timedelta(2): D("1.00")}

    def rate_of(currency: str, day: date) -> D:
        assert currency == "EUR"
        return rates[day] if day in rates else D("1.10")

    txs = [
        Transaction(Kind.DEPOSIT, _t(0), "", D("1000"), ref="a", currency="EUR", rate=D("1.10")),
        eur(Kind.BUY, 0, "2", "400", rate="1.10"),
    ]
    closes = {"SAP.DE": [(day0, D("400")), (day0 + timedelta(1), D("410"))]}
    values = daily_values(txs, closes, day0, day0 + timedelta(2), rate_of)
    assert [v.value for v in values] == [D("1100.00"), D("1224.00"), D("1020.00")]
    assert values[0].flow == D("1100.00") and values[1].flow == 0
    # day 1: what was held at day 0's end at day 1's prices (2 x 410 + 200 EUR) times the
    # rate's +0.10: +102 of the +124
    assert values[1].currency_effect == D("102.00")
    # day 2: 1020 EUR held, rate -0.20: -204, all of the day's change
    assert values[2].currency_effect == D("-204.00")
    period = period_returns(values)
    assert period.gain == D("-80.00") and period.currency_effect == D("-102.00")
    assert period.gain - period.currency_effect == D("22.00")  # 2 x 10 EUR at 1.10


def test_a_tax_lot_in_another_currency_carries_both_rates() -> None:
    from tickstream.portfolio.core.taxlots import csv_text, report

    txs = [
        eur(Kind.BUY, 0, "10", "200", "5", rate="1.10"),
        eur(Kind.SELL, 400, "4", "220", "2", rate="1.20"),
    ]
    (row,) = report(txs, Method.HIFO, None).rows
    assert (row.proceeds, row.cost, row.gain) == (D("1053.60"), D("882.20"), D("171.40"))
    assert (row.buy_rate, row.sale_rate, row.currency_effect) == (D("1.10"), D("1.20"), D("80.20"))
    assert row.long_term  # 400 days
    line = csv_text([row], "USD").splitlines()[1]
    assert line.endswith(",1053.60,882.20,171.40,long,4,SAP.DE,EUR,1.1,1.2,80.20")


def test_a_conversion_moves_cash_between_currencies_and_brings_nothing_in() -> None:
    """In USD: 10,000 deposited; 1,000 EUR bought on EUR-USD at 1.10 (1 USD fee); 800 EUR
    of it spent on SAP.DE; the other 200 EUR sold back at 1.20 (0.50 USD fee)."""
    from tickstream.portfolio.core.costbasis import apply, unapply, undo_of

    def fx(kind: Kind, day: int, qty: str, price: str, fee: str) -> Transaction:
        return Transaction(
            kind, _t(day), "EUR-USD", D(qty), D(price), D(fee), f"c{day}", pair="EUR"
        )

    txs = [
        Transaction(Kind.DEPOSIT, _t(0), quantity=D("10000"), ref="d"),
        fx(Kind.BUY, 1, "1000", "1.10", "1"),
        eur(Kind.BUY, 2, "4", "200", rate="1.10"),
        fx(Kind.SELL, 3, "200", "1.20", "0.50"),
    ]
    book = compute(txs, Method.FIFO)
    assert book.cash == D("10000") - D("1101") + D("239.50")
    assert book.foreign == {"EUR": D("0")} and book.implicit == 0
    assert book.invested == D("10000") and book.fees == D("1.50")
    assert "EUR-USD" not in book.holdings and book.holdings["SAP.DE"].native == D("800")
    # Taken back exactly (an edit replays from there).
    before = (book.cash, dict(book.foreign), book.fees)
    undo = undo_of(book)
    apply(book, fx(Kind.BUY, 4, "500", "1.15", "1"), undo)
    assert book.foreign["EUR"] == D("500")
    unapply(book, undo)
    assert (book.cash, dict(book.foreign), book.fees) == before
    # In a EUR portfolio the same instrument turns euros into dollars and back.
    eur_book = compute(
        [
            Transaction(Kind.DEPOSIT, _t(0), quantity=D("5000"), ref="d"),
            Transaction(
                Kind.SELL,
                _t(1),
                "EUR-USD",
                D("1000"),
                D("1.10"),
                D("2"),
                "s",
                currency="USD",
                rate=D("0.90"),
                pair="",
            ),
        ],
        Method.FIFO,
    )
    assert eur_book.cash == D("4000") and eur_book.foreign == {"USD": D("1098")}
    assert eur_book.fees == D("1.80")
