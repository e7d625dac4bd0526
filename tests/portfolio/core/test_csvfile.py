"""The CSV format: every bad row named with its row, column and reason; export and import
are inverses; the digest makes a second import add nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tickstream.common.core.edge import FieldError
from tickstream.portfolio.core import csvfile
from tickstream.portfolio.core.records import record

NOW = datetime(2026, 1, 1, tzinfo=UTC)
GOOD = """time,kind,symbol,quantity,price,fee,note
2024-01-02,deposit,,1000,,,
2024-01-03T10:00:00+01:00,buy,aapl,5,268.1,1.5,"first, lot"
2024-01-04T15:00:00Z,split,AAPL,4,,,
"""


def test_a_good_file_reads_exactly() -> None:
    rows = csvfile.read(GOOD, NOW)
    assert [r.kind.value for r in rows] == ["deposit", "buy", "split"]
    buy = rows[1]
    assert buy.symbol == "AAPL" and str(buy.price) == "268.1" and str(buy.fee) == "1.5"
    assert buy.time == datetime(2024, 1, 3, 9, 0, tzinfo=UTC) and buy.note == "first, lot"
    assert rows[0].time == datetime(2024, 1, 2, tzinfo=UTC)


def test_write_then_read_gives_the_same_records() -> None:
    rows = csvfile.read(GOOD, NOW)
    assert csvfile.read(csvfile.write(rows), NOW) == rows


def test_every_bad_row_is_reported_with_row_column_and_reason() -> None:
    text = GOOD + "2024-01-05,buy,AAPL,,10,,\n2024-01-06,sell,AAPL,1,1e3x,,\n2024-01-07,buy\n"
    with pytest.raises(csvfile.CsvError) as caught:
        csvfile.read(text, NOW)
    problems = [(p.row, p.column, p.code) for p in caught.value.problems]
    assert problems == [
        (5, "quantity", "required"),
        (6, "price", "bad_number"),
        (7, "", "bad_row"),
    ]


def test_a_wrong_header_is_refused() -> None:
    with pytest.raises(csvfile.CsvError) as caught:
        csvfile.read("date,type\n2024-01-01,buy\n", NOW)
    assert caught.value.problems[0].code == "bad_header"


def test_digests_tell_identical_rows_apart_by_occurrence() -> None:
    a = record({"kind": "deposit", "quantity": "5", "time": "2024-01-01"}, NOW)
    b = record({"kind": "deposit", "quantity": "5.00", "time": "2024-01-01T00:00:00Z"}, NOW)
    assert a.digest() == b.digest()  # the same transaction written two ways
    assert a.digest(0) != a.digest(1)


def test_field_rules() -> None:
    for fields, code in [
        ({"kind": "buy", "symbol": "X", "quantity": "1", "price": "0"}, "out_of_range"),
        ({"kind": "buy", "symbol": "X", "quantity": "1", "price": "1e12"}, "out_of_range"),
        ({"kind": "split", "symbol": "X", "quantity": "2", "fee": "1"}, "unexpected"),
        ({"kind": "dividend", "quantity": "2", "price": "1"}, "unexpected"),
        ({"kind": "buy", "symbol": ["X"], "quantity": "1", "price": "1"}, "bad_symbol"),
        ({"kind": "buy", "symbol": "X", "quantity": True, "price": "1"}, "bad_number"),
        ({"kind": "fee", "quantity": "1", "note": "two\nlines"}, "bad_note"),
        ({"kind": "fee", "quantity": "1", "time": "1899-12-31"}, "bad_time"),
    ]:
        fields.setdefault("time", "2025-01-01")
        with pytest.raises(FieldError) as caught:
            record(fields, NOW)
        assert caught.value.code == code, fields


def test_cr_only_line_ends_read_as_lines() -> None:
    assert csvfile.read(GOOD.replace("\n", "\r"), NOW) == csvfile.read(GOOD, NOW)
    assert csvfile.read(GOOD.replace("\n", "\r\n"), NOW) == csvfile.read(GOOD, NOW)


def test_a_file_the_csv_reader_cannot_split_is_bad_csv_with_its_line() -> None:
    huge = GOOD + "2024-01-05,deposit,,1,,," + '"' + "x" * 140_000 + '"\n'
    with pytest.raises(csvfile.CsvError) as refused:
        csvfile.read(huge, NOW)
    problem = refused.value.problems[0]
    assert (problem.row, problem.code) == (5, "bad_csv") and "field" in problem.message
    long = GOOD + "2024-01-05,deposit,,1,,," + "y" * 100_001 + "\n"
    with pytest.raises(csvfile.CsvError) as refused:
        csvfile.read(long, NOW)
    assert [(p.row, p.column, p.code) for p in refused.value.problems] == [(5, "note", "too_long")]


def test_a_column_named_twice_is_refused() -> None:
    twice = "time,kind,symbol,quantity,price,fee,note,fee\n2024-01-02,deposit,,1,,,,5\n"
    with pytest.raises(csvfile.CsvError) as refused:
        csvfile.read(twice, NOW)
    assert [(p.row, p.column, p.code) for p in refused.value.problems] == [(1, "fee", "bad_header")]


@pytest.mark.parametrize(
    "note", ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "'=1", "''+x", "'", "plain", "a=b"]
)
def test_formula_notes_are_escaped_on_export_and_come_back_exactly(note: str) -> None:
    row = record({"kind": "deposit", "quantity": "1", "time": "2024-01-02", "note": note}, NOW)
    text = csvfile.write([row])
    cell = text.splitlines()[1].split(",", 6)[6].strip('"')
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert csvfile.read(text, NOW) == [row]
