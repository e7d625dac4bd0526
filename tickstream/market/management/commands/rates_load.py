"""`manage.py rates_load`: store the ECB's daily reference rates."""

from __future__ import annotations

import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tickstream.market.core.fx import ECB_HISTORY_URL, bundled_history, read_history
from tickstream.market.services import rates_load


class Command(BaseCommand):
    help = (
        "Store the European Central Bank's daily reference rates: by default the history "
        "bundled with the install (no network), with --ecb the newest from the ECB, or "
        "from a file (the ECB's eurofxref-hist.zip or .csv)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--ecb", action="store_true", help=f"download {ECB_HISTORY_URL}")
        source.add_argument("--file", type=Path, help="an ECB history file (.zip or .csv)")
        parser.add_argument(
            "--since", type=date.fromisoformat, help="only days from this one (YYYY-MM-DD)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["ecb"]:
            try:
                with urllib.request.urlopen(ECB_HISTORY_URL, timeout=60) as response:  # noqa: S310 - a fixed https URL
                    data = response.read(64 * 1024 * 1024)
            except OSError as exc:
                raise CommandError(f"could not download the ECB rates: {exc}") from None
            origin = ECB_HISTORY_URL
        elif options["file"]:
            try:
                data = options["file"].read_bytes()
            except OSError as exc:
                raise CommandError(f"could not read {options['file']}: {exc}") from None
            origin = str(options["file"])
        else:
            data, origin = bundled_history(), "the bundled ECB history"
        since = options["since"]
        try:
            fixings = read_history(data)
            if since is not None:
                fixings = (f for f in fixings if f.day >= since)
            stored, read = rates_load(fixings)
        except ValueError as exc:
            raise CommandError(f"{origin}: {exc}") from None
        self.stdout.write(f"reference rates from {origin}: {read} read, {stored} new stored")
