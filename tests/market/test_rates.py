"""The ECB's reference rates: the file read and checked, days without a fixing, cross
rates, and stored rates extending the bundled history (`rates_load`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tickstream.market.core.fx import NoRate, Rates, bundled_history, parse_history, read_history
from tickstream.market.selectors import reference_rates

HEADER = "Date,USD,JPY,GBP,\n"


def test_a_file_is_read_and_every_rate_checked() -> None:
    rates = Rates(
        parse_history(HEADER + "2026-06-05,1.1640,170.1,N/A,\n2026-06-08,1.17,171,0.85,\n")
    )
    assert rates.currencies() == ["EUR", "GBP", "JPY", "USD"]
    assert rates.rate("EUR", "USD", date(2026, 6, 6)) == Decimal("1.1640")  # Saturday: Friday's
    assert rates.rate("USD", "EUR", date(2026, 6, 5)) == Decimal(1) / Decimal("1.1640")
    assert rates.rate("GBP", "USD", date(2026, 6, 8)) == Decimal("1.17") / Decimal("0.85")
    with pytest.raises(NoRate):  # before its first fixing
        rates.rate("GBP", "USD", date(2026, 6, 5))
    for bad in (
        "Day,USD\n",
        "Date,usd\n",
        "Date,USD\nnot-a-day,1\n",
        "Date,USD\n2026-01-02,-1\n",
        "Date,USD\n2026-01-02,1e99\n",
        "Date,USD\n2026-01-02,abc\n",
    ):
        with pytest.raises(ValueError):
            list(parse_history(bad))


def test_the_bundled_history_covers_1999_to_its_release() -> None:
    rates = Rates(read_history(bundled_history()))
    assert rates.rate("EUR", "USD", date(1999, 1, 4)) == Decimal("1.1789")  # the first fixing
    assert (rates.latest_day() or date.min) >= date(2026, 10, 1)
    assert len(rates.currencies()) >= 30


@pytest.mark.django_db
def test_stored_rates_extend_the_bundled_ones(tmp_path: Path) -> None:
    latest = reference_rates().latest_day()
    assert latest is not None
    later = date.fromordinal(latest.toordinal() + 3)
    file = tmp_path / "eurofxref-hist.csv"
    file.write_text(f"Date,USD,\n{later.isoformat()},1.2345,\n")
    call_command("rates_load", "--file", str(file))
    assert reference_rates().rate("EUR", "USD", later) == Decimal("1.2345")
    assert reference_rates().rate("EUR", "USD", date(1999, 1, 4)) == Decimal("1.1789")
    file.write_text("Date,USD\n2026-01-02,zero\n")
    with pytest.raises(CommandError, match="not a number"):
        call_command("rates_load", "--file", str(file))
