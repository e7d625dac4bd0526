"""Writes to market data."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from tickstream.market.core.fx import Fixing
from tickstream.market.core.instruments import DEFAULT_UNIVERSE, InstrumentSpec
from tickstream.market.models import Instrument, ReferenceRate


@transaction.atomic
def instruments_load(*, specs: Iterable[InstrumentSpec] = DEFAULT_UNIVERSE) -> tuple[int, int]:
    """Create the instruments that are missing; existing ones are left as their admins set
    them. Returns (created, already present)."""
    created = present = 0
    for spec in specs:
        if Instrument.objects.filter(symbol=spec.symbol).exists():
            present += 1
            continue
        instrument = Instrument.from_spec(spec)
        instrument.full_clean()
        instrument.save()
        created += 1
    return created, present


@transaction.atomic
def rates_load(fixings: Iterable[Fixing]) -> tuple[int, int]:
    """Store reference rates; a day already stored for a currency is kept as it is (the
    ECB does not revise a published fixing). Returns (stored now, read). O(rows) in
    batches of 5,000."""
    from tickstream.market import selectors

    read = 0
    before = ReferenceRate.objects.count()
    batch: list[ReferenceRate] = []
    for f in fixings:
        read += 1
        batch.append(ReferenceRate(day=f.day, currency=f.currency, per_euro=f.per_euro))
        if len(batch) == 5000:
            ReferenceRate.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        ReferenceRate.objects.bulk_create(batch, ignore_conflicts=True)
    selectors.reference_rates_forget()
    return ReferenceRate.objects.count() - before, read
