"""What alerts and watchlists are sent as, once for REST, the `alerts` channel and the
OpenAPI schema (`common/shapes.py`)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tickstream.alerts import selectors
from tickstream.alerts.core.book import Condition
from tickstream.alerts.models import Alert, AlertFiring
from tickstream.common.shapes import Out, Shape
from tickstream.market.core.messages import decimal_str, decimal_str_or_none
from tickstream.market.core.ticks import datetime_to_iso, iso_or_none

CONDITIONS = tuple(c.value for c in Condition)

WATCHLIST = Shape(
    "Watchlist",
    {
        "id": Out(lambda w: w.pk, "int"),
        "name": Out(lambda w: w.name),
        "symbols": Out(lambda w: selectors.watchlist_symbols(w), "texts", help="in order"),
    },
)

FIRING = Shape(
    "Firing",
    {
        "price": Out(lambda f: decimal_str(f.price), "decimal"),
        "level": Out(lambda f: decimal_str(f.level), "decimal"),
        "reference": Out(lambda f: decimal_str_or_none(f.reference), "decimal", null=True),
        "time": Out(lambda f: datetime_to_iso(f.fired_at), "time"),
    },
)

ALERT = Shape(
    "Alert",
    {
        "id": Out(lambda a: a.pk, "int"),
        "symbol": Out(lambda a: a.instrument.symbol),
        "condition": Out(lambda a: a.condition, "choice", choices=CONDITIONS),
        "value": Out(
            lambda a: decimal_str(a.value),
            "decimal",
            help="a price level, or a percent for move_up/move_down",
        ),
        "note": Out(lambda a: a.note),
        "active": Out(lambda a: a.active, "bool"),
        "armed": Out(lambda a: a.armed, "bool", null=True),
        "fired_count": Out(lambda a: a.fired_count, "int"),
        "last_fired_at": Out(lambda a: iso_or_none(a.last_fired_at), "time", null=True),
        "history": Out(
            lambda a: [FIRING.dump(f) for f in selectors.alert_firings(a)], items=FIRING
        ),
    },
)


def level_shown(alert: Alert, level: Decimal) -> Decimal:
    """The level as people read it: a move alert's level (derived from the session open:
    `2720.294946`) at the instrument's price step; a level the user gave, as given."""
    if not Condition(alert.condition).relative:
        return level
    return level.quantize(alert.instrument.tick_size.normalize(), rounding=ROUND_HALF_EVEN)


# The `alerts` channel's message when an alert fires: of (alert, firing).
FIRED = Shape(
    "AlertFired",
    {
        "event": Out(lambda p: "alert_triggered", "choice", choices=("alert_triggered",)),
        "alert": Out(lambda p: p[0].pk, "int"),
        "symbol": Out(lambda p: p[0].instrument.symbol),
        "condition": Out(lambda p: p[0].condition, "choice", choices=CONDITIONS),
        "value": Out(lambda p: decimal_str(p[0].value), "decimal"),
        "level": Out(lambda p: decimal_str(level_shown(p[0], p[1].level)), "decimal"),
        "price": Out(lambda p: decimal_str(p[1].price), "decimal"),
        "reference": Out(lambda p: decimal_str_or_none(p[1].reference), "decimal", null=True),
        "note": Out(lambda p: p[0].note),
        "time": Out(lambda p: datetime_to_iso(p[1].fired_at), "time"),
    },
)


def alert_message(alert: Alert, firing: AlertFiring) -> dict[str, Any]:
    """What the owner's `alerts` channel receives when an alert fires."""
    return FIRED.dump((alert, firing))
