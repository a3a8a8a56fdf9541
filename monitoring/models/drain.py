"""Drain leases: which worker drains which partition of a queue (see core.drain)."""
from __future__ import annotations

from django.db import models


class DrainLease(models.Model):
    """One row per drain and partition. A worker holds the partition while `lease_until` is ahead
    and renews it every step; a lease that ran out (its worker died) is taken over."""

    drain = models.CharField(max_length=64)
    partition = models.PositiveSmallIntegerField()
    holder = models.CharField(max_length=200, blank=True, default="")  # host:pid:nonce
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["drain", "partition"], name="drain_lease_unique_partition")]

    def __str__(self) -> str:
        return f"{self.drain}[{self.partition}] held by {self.holder or 'nobody'}"
