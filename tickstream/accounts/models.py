from __future__ import annotations

from django.conf import settings
from django.db import models


class NameSkeleton(models.Model):
    """The skeleton of a user's name (`names.skeleton`), unique: sign-up refuses a name
    that looks like one taken, and the index answers that in O(log users)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="name_skeleton"
    )
    skeleton = models.CharField(max_length=600, unique=True)

    def __str__(self) -> str:
        return self.skeleton
