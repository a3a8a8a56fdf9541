"""Query-parameter filters shared by the API's FilterSets."""
from __future__ import annotations

from datetime import UTC

import django_filters


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 datetime, converted to UTC before it reaches the database: Python accepts offsets up to
    ±23:59, PostgreSQL only ±15:59, so `...-22:43` would otherwise be a 500 instead of a plain comparison."""

    def filter(self, qs, value):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return super().filter(qs, value)
