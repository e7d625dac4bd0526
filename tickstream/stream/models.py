"""The event log of sequenced channels (`orders`, `alerts`, `portfolio:<id>`): every
message gets its `seq` from one counter per broker group, in the transaction that made the
change, and the latest ones are kept so a client resumes on any web process."""

from __future__ import annotations

from django.db import models


class StreamSequence(models.Model):
    """The last `seq` given out on a group."""

    group_name = models.CharField(max_length=100, primary_key=True)
    seq = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.group_name} at {self.seq}"


class StreamEvent(models.Model):
    """One published message, as the Hubs received it (`seq` included)."""

    group_name = models.CharField(max_length=100)
    seq = models.BigIntegerField()
    message = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group_name", "seq"], name="stream_event_unique_seq")
        ]

    def __str__(self) -> str:
        return f"{self.group_name} #{self.seq}"
