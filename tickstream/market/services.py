"""Writes to market data."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from tickstream.market.instruments import DEFAULT_UNIVERSE, InstrumentSpec
from tickstream.market.models import Instrument


@transaction.atomic
def instruments_load(*, specs: Iterable[InstrumentSpec] = DEFAULT_UNIVERSE) -> tuple[int, int]:
    """Create the instruments that are missing; existing ones are left as their admins set
    them. Returns (created, already present)."""
    created = present = 0
    for spec in specs:
        instrument = Instrument(
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
        if Instrument.objects.filter(symbol=spec.symbol).exists():
            present += 1
            continue
        instrument.full_clean()
        instrument.save()
        created += 1
    return created, present
