"""Brokers' exports (Schwab's and Fidelity's public CSV downloads) read as tickstream's CSV:
each row keeps its line number, money texts lose their `$` and `,` but no digit, rows of
kinds tickstream does not track are counted, not guessed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tickstream.portfolio.core import brokers, csvfile
from tickstream.portfolio.core.costbasis import Kind

NOW = datetime(2026, 12, 1, tzinfo=UTC)

SCHWAB = (
    '"Transactions  for account Individual ...123 as of 12/01/2026 10:00 AM ET"\n'
    '"Date","Action","Symbol","Description","Quantity","Price","Fees & Comm","Amount"\n'
    '"01/17/2023","Wire Funds","","WIRED FUNDS RECEIVED","","","","$25,000.00"\n'
    '"01/18/2023 as of 01/17/2023","Buy","AAPL","APPLE INC","100","$135.21","$0.65","-$13,521.65"\n'
    '"03/01/2023","Qualified Dividend","AAPL","APPLE INC","","","","$23.00"\n'
    '"03/02/2023","Bank Interest","","BANK INT","","","","$1.02"\n'
    '"04/03/2023","Sell","AAPL","APPLE INC","40","$165.00","$0.10","$6,599.90"\n'
    '"Transactions Total","","","","","","","$17,078.27"\n'
)

FIDELITY = (
    "\n"
    "Run Date,Action,Symbol,Security Description,Security Type,Quantity,Price ($),"
    "Commission ($),Fees ($),Accrued Interest ($),Amount ($),Settlement Date\n"
    "02/01/2024,Electronic Funds Transfer Received (Cash),,No Description,Cash,0,,,,,10000,\n"
    "02/02/2024,YOU BOUGHT MICROSOFT CORP (MSFT) (Cash),MSFT,MICROSOFT CORP,Cash,10,"
    "405.5,,0.02,,-4055.02,02/05/2024\n"
    "02/20/2024,YOU SOLD MICROSOFT CORP (MSFT) (Cash),MSFT,MICROSOFT CORP,Cash,-4,"
    "410,0.5,0.01,,1639.49,02/22/2024\n"
    "02/21/2024,BUY TO OPEN MSFT CALL,-MSFT240315C420,CALL,Cash,1,5.5,0.65,,,-550.65,\n"
    "\n"
    '"The data and information in this spreadsheet is provided to you solely for your use"\n'
)


def _records(text: str) -> tuple[list[csvfile.Record], brokers.Translated]:
    translated = brokers.translate(text)
    assert translated is not None
    return csvfile.read(translated.text, NOW), translated


def test_a_schwab_export_reads_as_transactions() -> None:
    records, translated = _records(SCHWAB)
    assert translated.preset == "schwab"
    assert [(r.kind, r.symbol, r.quantity, r.price, r.fee) for r in records] == [
        (Kind.DEPOSIT, "", Decimal("25000.00"), Decimal(0), Decimal(0)),
        (Kind.BUY, "AAPL", Decimal(100), Decimal("135.21"), Decimal("0.65")),
        (Kind.DIVIDEND, "AAPL", Decimal("23.00"), Decimal(0), Decimal(0)),
        (Kind.SELL, "AAPL", Decimal(40), Decimal("165.00"), Decimal("0.10")),
    ]
    assert records[1].time == datetime(2023, 1, 18, tzinfo=UTC)  # the trade date, not "as of"
    assert translated.skipped == {"Bank Interest": 1}


def test_a_fidelity_export_reads_as_transactions() -> None:
    records, translated = _records(FIDELITY)
    assert translated.preset == "fidelity"
    assert [(r.kind, r.symbol, r.quantity, r.price, r.fee) for r in records] == [
        (Kind.DEPOSIT, "", Decimal(10000), Decimal(0), Decimal(0)),
        (Kind.BUY, "MSFT", Decimal(10), Decimal("405.5"), Decimal("0.02")),
        (Kind.SELL, "MSFT", Decimal(4), Decimal(410), Decimal("0.51")),  # commission + fees
    ]
    assert translated.skipped == {"BUY TO OPEN MSFT CALL": 1}  # options: not tracked


def test_a_bad_cell_keeps_the_row_number_of_the_brokers_file() -> None:
    bad = SCHWAB.replace('"$135.21"', '"$13x5.21"')
    translated = brokers.translate(bad)
    assert translated is not None
    with pytest.raises(csvfile.CsvError) as caught:
        csvfile.read(translated.text, NOW)
    problem = caught.value.problems[0]
    assert (problem.row, problem.column, problem.code) == (4, "price", "bad_number")


def test_other_files_are_not_a_brokers() -> None:
    assert brokers.translate("time,kind,symbol,quantity,price,fee,note\n") is None
    assert brokers.detect("a,b\n1,2\n") is None
    assert brokers.detect(SCHWAB) is brokers.BY_NAME["schwab"]
