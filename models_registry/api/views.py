"""Views of the models_registry API."""
from __future__ import annotations
