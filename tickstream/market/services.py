"""Writes to market data."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from tickstream.market.core.instruments import DEFAULT_UNIVERSE, InstrumentSpec
from tickstream.market.models import Instrument


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
