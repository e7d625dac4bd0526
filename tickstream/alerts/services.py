"""Writes of watchlists and alerts. A firing is stored in the alert's history and pushed
on the owner's `alerts` channel once it commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F

from tickstream.alerts.core.book import Change, Condition
from tickstream.alerts.models import Alert, AlertFiring, Watchlist, WatchlistItem
from tickstream.alerts.shapes import alert_message
from tickstream.common.core import edge
from tickstream.common.core.errors import CodedError
from tickstream.market.selectors import instrument_by_symbol, instruments_by_symbol
from tickstream.stream.notices import notify
from tickstream.stream.publish import publish

MAX_WATCHLISTS = 20
MAX_WATCHLIST_SYMBOLS = 200
MAX_ALERTS = 500  # per user
MAX_PERCENT = Decimal(1000)
MAX_NOTE = 200
MAX_LEVEL = Decimal(10) ** 12
EVALUATOR_NOTICES = "alerts.evaluator"  # created, edited and deleted alerts, for the hook


class AlertsError(CodedError):
    """A change that cannot be made; `code` and `field` say why."""


def _one_at_a_time(owner: Any) -> None:
    """Locks the owner's row until the transaction ends, so two processes creating at once
    count one after the other and a cap holds (SQLite's writers are serial already)."""
    list(get_user_model().objects.select_for_update().filter(pk=owner.pk).values_list("pk"))


def _name(name: Any) -> str:
    text = str(name or "").strip()
    if not text or len(text) > 100 or not text.isprintable():
        raise AlertsError(
            "bad_name", "a name of 1 to 100 printable characters is needed", field="name"
        )
    return text


def _symbols(symbols: Any) -> list[Any]:
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise AlertsError("bad_symbols", "symbols must be a list of symbols", field="symbols")
    wanted = list(dict.fromkeys(s.strip().upper() for s in symbols))
    if len(wanted) > MAX_WATCHLIST_SYMBOLS:
        raise AlertsError(
            "bad_symbols", f"at most {MAX_WATCHLIST_SYMBOLS} symbols", field="symbols"
        )
    found = instruments_by_symbol(wanted)
    unknown = [s for s in wanted if s not in found]
    if unknown:
        raise AlertsError("unknown_symbol", f"unknown symbol {unknown[0]!r}", field="symbols")
    return [found[s] for s in wanted]


@transaction.atomic
def watchlist_create(*, owner: Any, name: Any, symbols: Any = ()) -> Watchlist:
    """A new watchlist of `symbols` in that order."""
    _one_at_a_time(owner)
    if Watchlist.objects.filter(owner=owner).count() >= MAX_WATCHLISTS:
        raise AlertsError("too_many", f"at most {MAX_WATCHLISTS} watchlists")
    instruments = _symbols(list(symbols))
    watchlist = Watchlist(owner=owner, name=_name(name))
    watchlist.position = Watchlist.objects.filter(owner=owner).count()
    _save_unique(watchlist)
    _set_items(watchlist, instruments)
    return watchlist


@transaction.atomic
def watchlist_update(*, watchlist: Watchlist, name: Any = None, symbols: Any = None) -> Watchlist:
    """Rename a watchlist or replace its symbols (their order is the list's)."""
    if name is not None:
        watchlist.name = _name(name)
        _save_unique(watchlist)
    if symbols is not None:
        _set_items(watchlist, _symbols(symbols))
    return watchlist


def watchlist_delete(*, watchlist: Watchlist) -> None:
    watchlist.delete()


def _save_unique(watchlist: Watchlist) -> None:
    try:
        with transaction.atomic():
            watchlist.save()
    except IntegrityError:
        raise AlertsError(
            "duplicate_name", "you have a watchlist of that name already", field="name"
        ) from None


def _set_items(watchlist: Watchlist, instruments: Sequence[Any]) -> None:
    watchlist.items.all().delete()
    WatchlistItem.objects.bulk_create(
        WatchlistItem(watchlist=watchlist, instrument=i, position=n)
        for n, i in enumerate(instruments)
    )


def _alert_fields(symbol: Any, condition: Any, value: Any) -> tuple[Any, Condition, Decimal]:
    instrument = instrument_by_symbol(str(symbol or "").strip().upper()[:32])
    if instrument is None:
        raise AlertsError("unknown_symbol", f"unknown symbol {symbol!r}", field="symbol")
    try:
        kind = Condition(str(condition))
    except ValueError:
        names = ", ".join(c.value for c in Condition)
        raise AlertsError(
            "bad_condition", f"condition must be one of {names}", field="condition"
        ) from None
    try:
        number = edge.parse_decimal(value)
    except edge.NumberError as exc:
        raise AlertsError("bad_value", f"value: {exc}", field="value") from None
    bound = MAX_PERCENT if kind.relative else MAX_LEVEL
    if kind is Condition.MOVE_DOWN:
        bound = Decimal(100)  # a price falls by less than all of it: 100 % never fires
    if not 0 < number < bound:
        what = "percent" if kind.relative else "level"
        raise AlertsError(
            "bad_value", f"value must be a {what} above 0 and below {bound:,.0f}", field="value"
        )
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -10:
        raise AlertsError("bad_value", "value has more than 10 decimals", field="value")
    return instrument, kind, number


@transaction.atomic
def alert_create(*, owner: Any, symbol: Any, condition: Any, value: Any, note: Any = "") -> Alert:
    """A new active alert. It starts armed unless its level is already passed: then it
    waits for the price to cross back first."""
    _one_at_a_time(owner)
    if Alert.objects.filter(owner=owner).count() >= MAX_ALERTS:
        raise AlertsError("too_many", f"at most {MAX_ALERTS} alerts")
    instrument, kind, number = _alert_fields(symbol, condition, value)
    alert = Alert(
        owner=owner,
        instrument=instrument,
        condition=kind.value,
        value=number,
        note=_note(note or ""),
    )
    alert.save()
    _tell_evaluator(alert.pk)
    return alert


@transaction.atomic
def alert_update(
    *,
    alert: Alert,
    condition: Any = None,
    value: Any = None,
    active: Any = None,
    note: Any = None,
) -> Alert:
    """Change an alert; a new condition or value re-evaluates whether it is armed."""
    if condition is not None or value is not None:
        _, kind, number = _alert_fields(
            alert.instrument.symbol,
            alert.condition if condition is None else condition,
            alert.value if value is None else value,
        )
        alert.condition, alert.value, alert.armed = kind.value, number, None
    if active is not None:
        if not isinstance(active, bool):
            raise AlertsError("bad_active", "active must be true or false", field="active")
        alert.active = active
        alert.armed = None
    if note is not None:
        alert.note = _note(note)
    alert.save()
    _tell_evaluator(alert.pk)
    return alert


def _note(note: Any) -> str:
    """A note as given, or `bad_note`: never cut short (control characters never reach
    here: the edge refuses them, tickstream/market/text.py)."""
    text = str(note)
    if len(text) > MAX_NOTE:
        raise AlertsError("bad_note", f"a note is at most {MAX_NOTE} characters", field="note")
    return text


@transaction.atomic
def alert_delete(*, alert: Alert) -> None:
    _tell_evaluator(alert.pk)
    alert.delete()


def _tell_evaluator(alert_id: int) -> None:
    """Hand the alert to the evaluator once this transaction commits, so it is checked
    from the next trade on (its poll, every ALERTS_REFRESH_S, is the safety net)."""
    notify(EVALUATOR_NOTICES, {"type": "alerts.alert", "id": alert_id})


@transaction.atomic
def alert_changes_record(*, changes: Sequence[tuple[Change, datetime]]) -> int:
    """Store what the evaluator decided: each firing in its alert's history (pushed to the
    owner on commit), each re-arm on its alert. Returns the firings stored."""
    fired = 0
    rows = {
        a.pk: a
        for a in Alert.objects.filter(pk__in={c.id for c, _ in changes}).select_related(
            "instrument", "owner"
        )
    }
    for change, when in changes:
        alert = rows.get(change.id)
        if alert is None:
            continue  # deleted meanwhile
        if not change.fired:
            Alert.objects.filter(pk=alert.pk).update(armed=True)
            continue
        firing = AlertFiring.objects.create(
            alert=alert,
            price=change.price,
            level=_stored(change.level),
            reference=None if change.reference is None else _stored(change.reference),
            fired_at=when.astimezone(UTC),
        )
        Alert.objects.filter(pk=alert.pk).update(
            armed=False, fired_count=F("fired_count") + 1, last_fired_at=firing.fired_at
        )
        publish("alerts", alert_message(alert, firing), user=alert.owner)
        fired += 1
    return fired


def _stored(value: Decimal) -> Decimal:
    """A derived level at the column's ten decimals."""
    return value.quantize(Decimal("1e-10"))
