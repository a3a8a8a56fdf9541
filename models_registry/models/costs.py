"""Cost ledger, FOCUS imports, business-value settings and budgets of models and services (issue 11)."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from ..choices import CostCategory, CostSource
from .registry import RegisteredModel

NON_NEGATIVE = [MinValueValidator(Decimal("0"))]


class CostImport(models.Model):
    """One FOCUS file imported whole: its entries exist only if every row was good."""

    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    rows = models.PositiveIntegerField(help_text="Data rows in the file.")
    entries = models.PositiveIntegerField(help_text="Ledger entries stored (allocated rows).")
    skipped = models.PositiveIntegerField(default=0, help_text="Rows without an allocation tag.")
    total = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.entries} entries)"


class CostEntry(models.Model):
    """An amount spent on one model or one service, in one category, over [period_start, period_end)."""

    model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, null=True, blank=True, related_name="cost_entries"
    )
    service = models.ForeignKey(
        "core.Service", on_delete=models.CASCADE, null=True, blank=True, related_name="cost_entries"
    )
    category = models.CharField(max_length=40, choices=CostCategory.choices)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField(help_text="Exclusive, as FOCUS ChargePeriodEnd.")
    amount = models.DecimalField(
        max_digits=14, decimal_places=2, validators=NON_NEGATIVE, help_text="Allocated (effective) cost."
    )
    billed_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True, validators=NON_NEGATIVE)
    currency = models.CharField(max_length=3)
    source = models.CharField(max_length=20, choices=CostSource.choices, default=CostSource.ADMIN)
    cost_import = models.ForeignKey(
        CostImport, on_delete=models.CASCADE, null=True, blank=True, related_name="cost_entries"
    )
    provider_service = models.CharField(max_length=200, blank=True, help_text="FOCUS ServiceName.")
    resource_id = models.CharField(max_length=500, blank=True, help_text="FOCUS ResourceId.")
    description = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start", "-id"]
        verbose_name_plural = "cost entries"
        constraints = [
            models.CheckConstraint(
                condition=(Q(model__isnull=False) & Q(service__isnull=True))
                | (Q(model__isnull=True) & Q(service__isnull=False)),
                name="costentry_model_xor_service",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="costentry_amount_non_negative"),
            models.CheckConstraint(condition=Q(period_end__gt=models.F("period_start")), name="costentry_period"),
        ]
        indexes = [
            models.Index(fields=["model", "period_start"], name="costentry_model_start"),
            models.Index(fields=["service", "period_start"], name="costentry_service_start"),
        ]

    def __str__(self) -> str:
        owner = self.model.name if self.model_id and self.model else str(self.service)
        return f"{owner} {self.category} {self.amount} {self.currency}"


class ModelEconomics(models.Model):
    """How a model's predictions turn into money, its ROI target and its monthly budget.

    Regression: a forecast more than `tolerance` too optimistic costs an inbound customer call,
    too conservative a lost sale, within tolerance it earns `value_accurate`.
    Classification: the business value matrix (NannyML's) per TP / FP / FN / TN at `threshold`.
    """

    model = models.OneToOneField(RegisteredModel, on_delete=models.CASCADE, related_name="economics")
    tolerance = models.FloatField(default=15.0, help_text="Regression: error (target units) within which no cost.")
    value_accurate = models.DecimalField(
        max_digits=14, decimal_places=2, default=Decimal("0"), help_text="Regression: value per accurate forecast."
    )
    cost_optimistic = models.DecimalField(
        max_digits=14, decimal_places=2, default=Decimal("0"), validators=NON_NEGATIVE,
        help_text="Regression: inbound call cost per too-optimistic forecast.",
    )
    cost_conservative = models.DecimalField(
        max_digits=14, decimal_places=2, default=Decimal("0"), validators=NON_NEGATIVE,
        help_text="Regression: lost-sale cost per too-conservative forecast.",
    )
    threshold = models.FloatField(default=0.5, help_text="Classification: score at or above which it flags positive.")
    value_tp = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    value_fp = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    value_fn = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    value_tn = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    roi_target = models.FloatField(default=0.0, help_text="Minimum monthly ROI, e.g. 0.5 = value 1.5 x cost.")
    monthly_budget = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, validators=NON_NEGATIVE
    )

    class Meta:
        verbose_name_plural = "model economics"

    def __str__(self) -> str:
        return f"economics of {self.model.name}"


class ServiceBudget(models.Model):
    """A service's monthly cost budget: the cost forecast raises a signal before it is exceeded."""

    service = models.OneToOneField("core.Service", on_delete=models.CASCADE, related_name="cost_budget")
    monthly_budget = models.DecimalField(max_digits=14, decimal_places=2, validators=NON_NEGATIVE)

    def __str__(self) -> str:
        return f"{self.service} budget {self.monthly_budget}"
