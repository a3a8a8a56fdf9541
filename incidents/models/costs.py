"""Incident cost: the stored figures (recomputed while open, frozen at close) and manual cost lines."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from incidents.choices import CostLineCategory

MAX_DIGITS, DECIMAL_PLACES = 14, 2  # up to 999,999,999,999.99 in the configured currency


class IncidentCost(models.Model):
    """The last computed cost of an incident; `frozen_at` set at close, after which it never changes."""

    incident = models.OneToOneField("incidents.Incident", on_delete=models.CASCADE, related_name="cost")
    currency = models.CharField(max_length=3)
    downtime = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, default=Decimal("0"))
    response = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, default=Decimal("0"))
    review = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, default=Decimal("0"))
    manual = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, default=Decimal("0"))
    total = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, default=Decimal("0"))
    breakdown = models.JSONField(default=dict, blank=True, help_text="Per service and responder, as computed.")
    computed_at = models.DateTimeField(default=timezone.now)
    frozen_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.total} {self.currency} for incident {self.incident_id}"


class CostLine(models.Model):
    """A cost entered by hand (credits paid, penalties, vendor fees), in the configured currency."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="cost_lines")
    category = models.CharField(max_length=10, choices=CostLineCategory.choices, default=CostLineCategory.OTHER)
    description = models.CharField(max_length=300)
    amount = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES,
                                 validators=[MinValueValidator(Decimal("0"))])
    currency = models.CharField(max_length=3, blank=True, help_text="Empty: the configured currency.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}: {self.description}"

    def clean(self) -> None:
        """One currency for every cost (the admin form calls this; the service checks the same)."""
        self.currency = (self.currency or settings.COST_CURRENCY).upper()
        if self.currency != settings.COST_CURRENCY:
            raise ValidationError({"currency": f"Costs are kept in {settings.COST_CURRENCY}; convert first."})


class ReportSubscription(models.Model):
    """A manager's subscription to a report e-mailed on its schedule (daily business impact, weekly KPI)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions")
    report = models.CharField(max_length=40, help_text="Report name, e.g. business_impact or weekly_kpi.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "report"], name="report_subscription_unique")]

    def __str__(self) -> str:
        return f"{self.user} -> {self.report}"
