from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from tickstream.market.services import instruments_load

DEMO_USER = "demo"
DEMO_PASSWORD = "demo-tickstream"  # noqa: S105 - development mode only, printed at start


class Command(BaseCommand):
    help = "Development mode: default instruments and a demo user allowed to publish ticks."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEVELOPMENT:
            raise CommandError("setup_demo only runs with TICKSTREAM_DEVELOPMENT=true")
        created, present = instruments_load()
        user_model = get_user_model()
        user, new = user_model.objects.get_or_create(username=DEMO_USER)
        if new:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.user_permissions.add(Permission.objects.get(codename="publish_ticks"))
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(f"instruments: {created} created, {present} already present")
        self.stdout.write(f"demo user: {DEMO_USER} / {DEMO_PASSWORD}  (API token {token.key})")
