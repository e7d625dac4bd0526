"""Which sign-up names look alike: the skeleton of a name (Unicode's UTS #39), and the
names kept for the product.

Two names with one skeleton are read as the same name by a person: `dеmo` with a
Cyrillic `е`, `DEMO`, `ｄｅｍｏ` and `dem0` all have the skeleton of `demo`. The name is
NFKC-normalised and case-folded first (so case never tells two accounts apart), then each
character is replaced by its prototype from Unicode's confusables table (the data of
`confusable_homoglyphs`), twice, so a prototype that is itself confusable settles.
A name costs O(its length); the table is built once, O(9,600 entries).
"""

from __future__ import annotations

import unicodedata
from functools import cache

from confusable_homoglyphs import utils as confusable_data

# Names a person could take for the product speaking, or for a page of the site.
RESERVED = frozenset(
    {
        "admin", "administrator", "root", "system", "sysadmin", "superuser", "staff",
        "support", "help", "helpdesk", "security", "abuse", "postmaster", "hostmaster",
        "webmaster", "info", "noreply", "no-reply", "mail", "www", "api", "static",
        "media", "accounts", "account", "login", "logout", "signup", "settings",
        "tickstream", "operator", "moderator", "owner", "billing", "official", "team",
        "null", "none", "undefined", "anonymous", "everyone", "me",
    }
)  # fmt: skip

_DIRECTION_MARKS = str.maketrans("", "", "\u200e\u200f")


@cache
def _prototypes() -> dict[str, str]:
    """Each confusable character to its prototype. The table lists every pair both
    ways; a character that names a single other one, which itself names several, is a
    source of that prototype. A pair naming only each other keeps the lower one."""
    table: dict[str, list[str]] = {}
    for char, alikes in confusable_data.load("confusables.json").items():
        key = char.translate(_DIRECTION_MARKS)
        table.setdefault(key, []).extend(a["c"].translate(_DIRECTION_MARKS) for a in alikes)
    prototypes = {}
    for char, alikes in table.items():
        if len(char) != 1 or len(alikes) != 1:
            continue
        (alike,) = alikes
        target = alike if len(table.get(alike, ())) > 1 else min(char, alike)
        if target != char:
            prototypes[char] = target
    return prototypes


def skeleton(name: str) -> str:
    """The form two look-alike names share (see the module's text)."""
    prototypes = _prototypes()
    text = unicodedata.normalize("NFKC", name).casefold()
    for _ in range(2):
        decomposed = unicodedata.normalize("NFD", text)
        mapped = "".join(prototypes.get(char, char) for char in decomposed)
        text = unicodedata.normalize("NFD", mapped).casefold()
    return text


@cache
def reserved_skeletons() -> frozenset[str]:
    return frozenset(skeleton(name) for name in RESERVED)
