"""Services of the models_registry app."""
from __future__ import annotations
