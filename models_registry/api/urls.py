"""Routes of the models_registry API (mounted under /api/v1/)."""
from __future__ import annotations

urlpatterns: list = []
