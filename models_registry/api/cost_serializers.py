"""Serializers of the cost API: ledger entries, FOCUS imports (output and schema; the services validate)."""
from __future__ import annotations

from rest_framework import serializers

from ..models import CostEntry, CostImport


class CostEntrySerializer(serializers.ModelSerializer):
    model: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="name", read_only=True)
    service: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = CostEntry
        fields = ["id", "model", "service", "category", "period_start", "period_end", "amount", "billed_amount",
                  "currency", "source", "cost_import", "provider_service", "resource_id", "description",
                  "created_at"]
        read_only_fields = fields


class CostEntryCreateSerializer(serializers.Serializer):
    """Schema of a new entry; values are checked by the ledger service so errors name the field."""

    model = serializers.CharField(required=False, help_text="Registered model name (or give service).")
    service = serializers.CharField(required=False, help_text="Service name (or give model).")
    category = serializers.CharField(help_text="One of the ledger categories, e.g. infrastructure.compute.")
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField(help_text="Exclusive.")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    billed_amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    currency = serializers.CharField(required=False, help_text="Must be the configured COST_CURRENCY.")
    description = serializers.CharField(required=False)


class CostImportSerializer(serializers.ModelSerializer):
    class Meta:
        model = CostImport
        fields = ["id", "filename", "sha256", "rows", "entries", "skipped", "total", "currency", "created_at"]
        read_only_fields = fields


class CostImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A FinOps FOCUS CSV (multipart/form-data).")
