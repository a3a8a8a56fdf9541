"""Serializers for teams and services."""
from __future__ import annotations

from rest_framework import serializers

from core.models import Service, Team


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "slug", "email"]


class ServiceSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())
    depends_on = serializers.SlugRelatedField(
        slug_field="name", many=True, queryset=Service.objects.all(), required=False
    )

    class Meta:
        model = Service
        fields = ["id", "name", "team", "tier", "downtime_cost_per_minute", "owner_email", "description", "depends_on"]
