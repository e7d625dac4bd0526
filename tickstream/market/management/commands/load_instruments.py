from typing import Any

from django.core.management.base import BaseCommand

from tickstream.market.services import instruments_load


class Command(BaseCommand):
    help = "Create the default instruments (24 US stocks, 12 crypto pairs) that are missing."

    def handle(self, *args: Any, **options: Any) -> None:
        created, present = instruments_load()
        self.stdout.write(f"instruments: {created} created, {present} already present")
